"""The Python floor: the least work that sends single-recipient notifications to the emulator, stage by stage.

``python -m bench.floor [notifications]`` starts an emulator (no rate limit), then sends in requests of 100,
one after another over one keep-alive connection: plain checks of each message (a dict with a string ``to``
that looks like a token, a string ``title``), msgspec's JSON encoding, gzip by zlib, a POST spoken with h11,
the answer decoded by msgspec. It prints the CPU per notification of each stage and of the whole, the figure
issue 20 measures expo-push against: no validation message, no retry, no account, nothing side by side.
"""

from __future__ import annotations

import socket
import sys
import time
import zlib
from typing import Any

import h11
import msgspec

from bench.emulator import EmulatorProcess

__all__ = ["floor", "main"]

STAGES = ("check", "encode", "http", "decode")


def _check(message: dict[str, Any]) -> None:
    to = message.get("to")
    if not isinstance(to, str) or not to.startswith(("ExponentPushToken[", "ExpoPushToken[")) or to[-1] != "]":
        raise ValueError(f"bad token {to!r}")
    if not isinstance(message.get("title"), str):
        raise ValueError("bad title")


def floor(url: str, notifications: int) -> dict[str, float]:
    """CPU seconds per notification of each stage, and of all of them (``total``)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = h11.Connection(h11.CLIENT)
    encoder, decoder = msgspec.json.Encoder(), msgspec.json.Decoder()
    spent = dict.fromkeys(STAGES, 0.0)
    messages = [{"to": f"ExponentPushToken[floor-{i}]", "title": "Hi", "body": "There"} for i in range(notifications)]
    started = time.process_time()
    for first in range(0, notifications, 100):
        t0 = time.process_time()
        chunk = messages[first : first + 100]
        for message in chunk:
            _check(message)
        t1 = time.process_time()
        body = zlib.compress(encoder.encode(chunk), 6, 31)
        t2 = time.process_time()
        headers = [
            ("host", f"{host}:{port}"),
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
            ("accept", "application/json"),
            ("content-length", str(len(body))),
        ]
        data = conn.send(h11.Request(method="POST", target="/--/api/v2/push/send", headers=headers))
        sock.sendall(data + (conn.send(h11.Data(data=body)) or b"") + (conn.send(h11.EndOfMessage()) or b""))
        parts = []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
            elif isinstance(event, h11.Data):
                parts.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
        conn.start_next_cycle()
        t3 = time.process_time()
        answer = decoder.decode(b"".join(parts))
        assert len(answer["data"]) == len(chunk)
        t4 = time.process_time()
        for stage, seconds in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            spent[stage] += seconds
    total = time.process_time() - started
    sock.close()
    return {**{stage: seconds / notifications for stage, seconds in spent.items()}, "total": total / notifications}


def main() -> int:
    notifications = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with EmulatorProcess() as emulator:
        emulator.reset(latency_ms=0, rate_limit=None)
        figures = floor(emulator.url, notifications)
    print(f"The Python floor, {notifications:,} single-recipient notifications, CPU µs per notification:")
    print(" | ".join(f"{stage} {seconds * 1e6:.2f}" for stage, seconds in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
