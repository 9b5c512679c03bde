"""Validation: microseconds per notification to turn input into prepared messages, beside a floor.

The floor is the least the same checks can cost in plain Python: the token matched against one regular
expression, each field's type looked at once, and the payload encoded by msgspec, with no object kept but
the encoded bytes. ``python -m bench.micro validation``
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from bench.micro._timing import best_us, line
from expo_push import PushMessage
from expo_push._batch import iter_prepared

N = 20_000


def messages(n: int = N) -> list[dict[str, Any]]:
    """The benchmark's notifications (``bench/drivers/_workload.py``): one recipient, title, body and data."""
    return [
        {"to": f"ExponentPushToken[{i:022d}]", "title": "Benchmark", "body": f"Notification {i}", "data": {"n": i}}
        for i in range(n)
    ]


_TOKEN = re.compile(r"^Expo(?:nent)?PushToken\[[!-Z\\^-~]+\]\Z")
_ENCODE = msgspec.json.Encoder().encode


def _floor(batch: list[dict[str, Any]]) -> list[bytes]:
    out = []
    for message in batch:
        to = message["to"]
        if not isinstance(to, str) or _TOKEN.match(to) is None:
            raise ValueError("to")
        rest = {}
        for key, value in message.items():
            if key == "to":
                continue
            if key in ("title", "body") and not isinstance(value, str):
                raise ValueError(key)
            if key == "data" and not isinstance(value, dict):
                raise ValueError(key)
            rest[key] = value
        out.append(_ENCODE(rest))
    return out


def run() -> list[str]:
    """The figures, as printed lines."""
    dicts = messages()
    structs = [PushMessage(**m) for m in dicts]
    floor = best_us(lambda: _floor(dicts), N)
    return [
        line(best_us(lambda: list(iter_prepared(dicts)), N), floor, "us/message", "validate dict messages"),
        line(best_us(lambda: list(iter_prepared(structs)), N), floor, "us/message", "validate PushMessages"),
        line(best_us(lambda: [PushMessage(**m) for m in dicts], N), None, "us/message", "PushMessage(**d) by a caller"),
    ]
