"""Measure how many notifications per second the emulator accepts, in requests of 100.

The emulator runs in a child process (``python -m expo_push.emulator``) and
this process drives it with aiohttp over loopback, so the two do not share a GIL.

    python bench/emulator_throughput.py --seconds 10 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import subprocess
import sys
import time

import aiohttp


def _body(request_index: int, size: int) -> bytes:
    messages = [
        {
            "to": f"ExponentPushToken[bench-{request_index % 1000}-{i}]",
            "title": "Benchmark",
            "body": f"notification {i} of request {request_index}",
            "data": {"request": request_index, "index": i},
        }
        for i in range(size)
    ]
    return json.dumps(messages).encode()


async def _drive(url: str, seconds: float, concurrency: int, size: int, compress: bool) -> tuple[int, int, float]:
    bodies = [_body(i, size) for i in range(64)]
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if compress:
        bodies = [gzip.compress(body) for body in bodies]
        headers["Content-Encoding"] = "gzip"
    sent = 0
    failures = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(offset: int) -> None:
            nonlocal sent, failures
            n = offset
            while time.perf_counter() < deadline:
                async with session.post(f"{url}/--/api/v2/push/send", data=bodies[n % 64], headers=headers) as r:
                    payload = await r.read()
                    if r.status == 200 and payload.count(b'"ok"') == size:
                        sent += size
                    else:
                        failures += 1
                n += concurrency

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
        async with session.get(f"{url}/--/emulator/stats") as r:
            stats = await r.json()
    if stats["notifications"] != sent:
        raise SystemExit(f"the emulator counted {stats['notifications']} notifications, the client {sent}")
    return sent, failures, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--size", type=int, default=100, help="notifications per request")
    parser.add_argument("--gzip", action="store_true", help="send gzip-compressed bodies, as expo-push does")
    args = parser.parse_args()
    command = [sys.executable, "-m", "expo_push.emulator", "--port", "0", "--rate-limit", "none"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            url = line.rsplit(" ", 1)[-1].strip()
            if not url.startswith("http://"):
                raise SystemExit(f"unexpected first line from the emulator: {line!r}")
            sent, failures, elapsed = asyncio.run(_drive(url, args.seconds, args.concurrency, args.size, args.gzip))
        finally:
            server.terminate()
            server.wait(10)
    rate = sent / elapsed
    print(
        f"{sent} notifications accepted in {elapsed:.2f} s in {'gzip ' if args.gzip else ''}requests of {args.size} "
        f"({args.concurrency} in flight, {failures} failed): {rate:,.0f} notifications/s"
    )
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
