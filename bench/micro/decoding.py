"""Reading answers: microseconds per ticket to turn a 100-ticket answer into tickets with ``to`` and ``position``.

The floor is msgspec decoding the same body into a struct with no constraint and nothing set afterwards.
``python -m bench.micro decoding``
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from bench.micro._timing import best_us, line
from expo_push._batch import iter_prepared
from expo_push._chunks import Chunker
from expo_push._wire import HttpResponse, read_send_response

ROUNDS = 500
TICKETS = 100


class _Ticket(msgspec.Struct, gc=False):
    status: str
    id: str | None = None
    message: str | None = None
    details: dict[str, Any] | None = None


class _Body(msgspec.Struct):
    data: list[_Ticket]


def run() -> list[str]:
    """The figures, as printed lines."""
    tokens = [f"ExponentPushToken[{i:022d}]" for i in range(TICKETS)]
    entries = next(Chunker(iter_prepared([{"to": t} for t in tokens]))).entries
    data = [{"status": "ok", "id": f"019354d2-{i:04x}-7000-8000-00000000{i:04x}"} for i in range(TICKETS)]
    body = json.dumps({"data": data}).encode()
    response = HttpResponse(200, {}, body)
    floor_decoder = msgspec.json.Decoder(_Body)

    def ours() -> None:
        for _ in range(ROUNDS):
            read_send_response(response, entries, 0.0)

    def floor() -> None:
        for _ in range(ROUNDS):
            floor_decoder.decode(body)

    return [line(best_us(ours, ROUNDS * TICKETS), best_us(floor, ROUNDS * TICKETS), "us/ticket", "read a send answer")]
