"""Memory: bytes per notification that ``PushClient.send()`` of a large list holds, measured with tracemalloc.

``send()`` validates the whole list before the first request (by design), so what it keeps per message until
it ends sets its footprint. Measured over ``httpx.MockTransport`` (no network): the peak during the send
beyond what existed before it (the caller's input is not counted), beside the tickets it returns (the floor: the result
itself). ``python -m bench.micro memory``
"""

from __future__ import annotations

import gc
import gzip
import json
import tracemalloc
from typing import Any

import httpx

from bench.micro._timing import line
from bench.micro.validation import messages
from expo_push import PushClient, PushMessage
from expo_push._batch import SendBatch

N = 20_000


def _service(request: httpx.Request) -> httpx.Response:
    raw = request.content
    count = len(json.loads(gzip.decompress(raw) if request.headers.get("content-encoding") == "gzip" else raw))
    data = [{"status": "ok", "id": f"019354d2-{i:04x}-7000-8000-00000000{i:04x}"} for i in range(count)]
    return httpx.Response(200, json={"data": data})


def _traced(work: Any) -> tuple[int, int, Any]:
    """(peak, still held, result) of ``work()``, in bytes beyond what was traced before it."""
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        result = work()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - start, current - start, result


def run() -> list[str]:
    """The figures, as printed lines."""
    dicts = messages(N)
    structs = [PushMessage(**m) for m in dicts]
    http = httpx.Client(transport=httpx.MockTransport(_service))
    out = []
    with PushClient(base_url="http://expo.test", rate_limit=None, http_client=http) as client:
        client.send(dicts[:300])  # threads, pools and caches exist before measuring
        for name, given in (("dicts", dicts), ("PushMessages", structs)):
            peak, kept, tickets = _traced(lambda given=given: client.send(given))
            assert len(tickets) == N
            out.append(line(peak / N, kept / N, "B/message", f"peak of send() of {name} (floor: its tickets)"))
            del tickets
    _, validated, batch = _traced(lambda: SendBatch(dicts, whole=True))
    del batch
    out.append(line(validated / N, None, "B/message", "held by validated dicts (SendBatch(whole=True))"))
    return out
