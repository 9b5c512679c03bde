"""Garbage-collector load: objects the collector tracks per notification, and its collections during a send.

Counted along the core's path with no I/O: validate every message (as ``send()`` does first), cut chunks,
encode each request, read a 100-ticket answer, and settle the chunk into the account. Objects tracked are counted
once every message is validated (before the first request) and at the end (the tickets); ``collections`` is how many
generation-0 collections the whole path set off; ``core path`` is its CPU time per message. ``python -m bench.micro gc``
"""

from __future__ import annotations

import functools
import gc
import json

from bench.micro._timing import best_us, line
from bench.micro.validation import messages
from expo_push import PushMessage, PushTicket
from expo_push._batch import SendBatch
from expo_push._wire import HttpResponse, encode_entries, read_send_response

N = 20_000


@functools.cache
def _answer(count: int) -> HttpResponse:
    data = [{"status": "ok", "id": f"019354d2-{i:04x}-7000-8000-00000000{i:04x}"} for i in range(count)]
    return HttpResponse(200, {}, json.dumps({"data": data}).encode())


def core_send(batch: SendBatch) -> list[PushTicket]:
    """Run ``batch`` through the core as a client would, with the service's answers made up; return the tickets."""
    out: list[PushTicket] = []
    while (chunk := batch.next_chunk()) is not None:
        encode_entries(chunk.entries)
        tickets = read_send_response(_answer(chunk.count), chunk.entries, 0.0)
        assert isinstance(tickets, list)
        out.extend(batch.settle(chunk, tickets))
    batch.finish()
    return out


def run() -> list[str]:
    """The figures, as printed lines."""
    dicts = messages(N)
    gc.collect()
    collections = [0]

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 0:
            collections[0] += 1

    gc.freeze()  # what exists before the send is not counted
    before = len(gc.get_objects())
    gc.callbacks.append(count)
    try:
        batch = SendBatch(dicts, whole=True)
        validated = len(gc.get_objects()) - before
        tickets = core_send(batch)
        held = len(gc.get_objects()) - before
    finally:
        gc.callbacks.remove(count)
        gc.unfreeze()
    assert len(tickets) == N
    del batch, tickets
    structs = [PushMessage(**m) for m in dicts]
    return [
        line(best_us(lambda: core_send(SendBatch(dicts, whole=True)), N), None, "us/message", "core path, dicts"),
        line(
            best_us(lambda: core_send(SendBatch(structs, whole=True)), N), None, "us/message", "core path, PushMessages"
        ),
        line(validated / N, None, "objects", "tracked by the collector per notification once the input is validated"),
        line(held / N, None, "objects", "tracked by the collector per notification at the end (the tickets)"),
        line(collections[0] * 10_000 / N, None, "collections", "of generation 0 per 10,000 notifications"),
    ]
