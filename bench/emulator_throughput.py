"""Measure how many notifications per second the emulator accepts, in requests of 100.

The emulator runs in a child process (``python -m expo_push.emulator``) and this process drives it
with httpx over loopback, so the two do not share a GIL. ``--protocol`` picks HTTP/1.1 in the clear
(``http1``, the default), HTTP/2 with prior knowledge (``h2c``) or HTTP/2 over TLS (``tls``, with
the certificate the emulator makes at start). ``--clients`` driving processes share the requests in
flight, so that the client's own CPU is not what is measured. On a machine shared with other work the
rate says little; the emulator's own CPU time per notification (read from /proc, on Linux) says what
one core could do, whatever else runs:

    python bench/emulator_throughput.py --seconds 10 --concurrency 8 --clients 2 --protocol h2c
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import gzip
import json
import os
import ssl
import subprocess
import sys
import time

import httpx


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


def _client(protocol: str, ca_file: str | None, concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    if protocol == "http1":
        return httpx.AsyncClient(http1=True, http2=False, limits=limits)
    if protocol == "h2c":
        return httpx.AsyncClient(http1=False, http2=True, limits=limits)
    return httpx.AsyncClient(http2=True, limits=limits, verify=ssl.create_default_context(cafile=ca_file))


async def _drive(
    url: str, protocol: str, ca_file: str | None, seconds: float, concurrency: int, size: int, compress: bool
) -> tuple[int, int, float, set[str]]:
    bodies = [_body(i, size) for i in range(64)]
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if compress:
        bodies = [gzip.compress(body) for body in bodies]
        headers["Content-Encoding"] = "gzip"
    sent = 0
    failures = 0
    versions: set[str] = set()
    deadline = time.perf_counter() + seconds
    async with _client(protocol, ca_file, concurrency) as session:

        async def worker(offset: int) -> None:
            nonlocal sent, failures
            n = offset
            while time.perf_counter() < deadline:
                response = await session.post(f"{url}/--/api/v2/push/send", content=bodies[n % 64], headers=headers)
                versions.add(response.http_version)
                if response.status_code == 200 and response.content.count(b'"ok"') == size:
                    sent += size
                else:
                    failures += 1
                n += concurrency

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return sent, failures, elapsed, versions


def _drive_in_process(
    url: str, protocol: str, ca_file: str | None, seconds: float, concurrency: int, size: int, compress: bool
) -> tuple[int, int, float, set[str]]:
    return asyncio.run(_drive(url, protocol, ca_file, seconds, concurrency, size, compress))


def _measure(url: str, ca_file: str | None, args: argparse.Namespace) -> tuple[int, int, float, set[str]]:
    """Drive the emulator from ``args.clients`` processes at once; check its count against theirs."""
    shares = [args.concurrency // args.clients + (i < args.concurrency % args.clients) for i in range(args.clients)]
    with concurrent.futures.ProcessPoolExecutor(len(shares)) as pool:
        futures = [
            pool.submit(_drive_in_process, url, args.protocol, ca_file, args.seconds, share, args.size, args.gzip)
            for share in shares
            if share
        ]
        results = [future.result() for future in futures]
    sent = sum(r[0] for r in results)
    failures = sum(r[1] for r in results)
    elapsed = max(r[2] for r in results)
    versions = set().union(*(r[3] for r in results))
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
    stats = httpx.get(f"{url}/--/emulator/stats", verify=verify).json()
    if stats["notifications"] != sent:
        raise SystemExit(f"the emulator counted {stats['notifications']} notifications, the clients {sent}")
    return sent, failures, elapsed, versions


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) process ``pid`` has used so far, on Linux; ``None`` elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight, over all clients")
    parser.add_argument("--clients", type=int, default=2, help="driving processes (default: 2)")
    parser.add_argument("--size", type=int, default=100, help="notifications per request")
    parser.add_argument("--gzip", action="store_true", help="send gzip-compressed bodies, as expo-push does")
    parser.add_argument("--protocol", choices=("http1", "h2c", "tls"), default="http1")
    args = parser.parse_args()
    command = [sys.executable, "-m", "expo_push.emulator", "--port", "0", "--rate-limit", "none"]
    if args.protocol == "tls":
        command.append("--tls")
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            url = line.rsplit(" ", 1)[-1].strip()
            if not url.startswith(("http://", "https://")):
                raise SystemExit(f"unexpected first line from the emulator: {line!r}")
            ca_file = None
            if args.protocol == "tls":
                ca_file = server.stdout.readline().split(" in ", 1)[1].split(" (")[0]
            cpu_before = _cpu_seconds(server.pid)
            sent, failures, elapsed, versions = _measure(url, ca_file, args)
            cpu_after = _cpu_seconds(server.pid)
        finally:
            server.terminate()
            server.wait(10)
    rate = sent / elapsed
    print(
        f"{sent} notifications accepted in {elapsed:.2f} s over {'/'.join(sorted(versions))} ({args.protocol}) "
        f"in {'gzip ' if args.gzip else ''}requests of {args.size} "
        f"({args.concurrency} in flight from {args.clients} processes, {failures} failed): {rate:,.0f} notifications/s"
    )
    if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
        used = cpu_after - cpu_before
        print(f"the emulator used {used:.2f} s of CPU: {sent / used:,.0f} notifications per CPU-second")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
