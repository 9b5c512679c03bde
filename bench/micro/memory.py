"""Memory: bytes per notification that ``PushClient.send()`` of a large list holds, measured with tracemalloc.

``send()`` validates the whole list before the first request (by design), so what it keeps per message until
it ends sets its footprint. Measured over ``httpx.MockTransport`` (no network): the peak during the send
beyond what existed before it, and the part of it that is the tickets returned (the floor: the result
itself). ``python -m bench.micro memory``
"""

from __future__ import annotations

import gc
import json
import tracemalloc

import httpx

from bench.micro._timing import line
from bench.micro.validation import messages
from expo_push import PushClient
from expo_push._batch import SendBatch

N = 20_000


def _service(request: httpx.Request) -> httpx.Response:
    import gzip

    raw = request.content
    count = len(json.loads(gzip.decompress(raw) if request.headers.get("content-encoding") == "gzip" else raw))
    data = [{"status": "ok", "id": f"019354d2-{i:04x}-7000-8000-00000000{i:04x}"} for i in range(count)]
    return httpx.Response(200, json={"data": data})


def run() -> list[str]:
    """The figures, as printed lines."""
    dicts = messages(N)
    http = httpx.Client(transport=httpx.MockTransport(_service))
    with PushClient(base_url="http://expo.test", rate_limit=None, http_client=http) as client:
        client.send(dicts[:300])  # threads, pools and caches exist before measuring
        gc.collect()
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            batch = SendBatch(dicts, whole=True)
            validated = tracemalloc.get_traced_memory()[0] - start
            del batch
            gc.collect()
            tracemalloc.reset_peak()
            start = tracemalloc.get_traced_memory()[0]
            tickets = client.send(dicts)
            current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(tickets) == N
    kept = current - start
    return [
        line((peak - start) / N, kept / N, "B/message", "peak of send() (floor: the tickets it returns)"),
        line(validated / N, None, "B/message", "held by the validated input (SendBatch(whole=True))"),
    ]
