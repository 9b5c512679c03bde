"""The HTTP ladder: CPU per 100-notification request of each way to POST it, against a canned server on loopback.

``python -m bench.transport_ladder [requests] [rounds]`` prints a table: for each HTTP stack, the client
process's CPU (user + system, all threads) per request and per notification, median of the rounds, the stacks
taking turns within each round. The server is a process of its own that answers every request with the same
100 tickets, so the figures are the client's HTTP machinery alone: what choosing the transport decides.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["ladder", "main"]

_SERVER = r"""
import asyncio, sys
body = sys.stdin.buffer.read()
answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body

class Canned(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        while True:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self.transport.write(answer)

async def main():
    server = await asyncio.get_running_loop().create_server(Canned, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""

TICKETS = json.dumps({"data": [{"status": "ok", "id": f"0195f3c2-{i:04d}-7000-8000-000000000000"} for i in range(100)]})
BODY = gzip.compress(
    json.dumps([{"to": f"ExponentPushToken[ladder-{i}]", "title": "Hi", "body": "There"} for i in range(100)]).encode()
)
HEADERS = {
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": "expo-push-python/ladder",
    "Content-Type": "application/json",
    "Content-Encoding": "gzip",
}
PATH = "/--/api/v2/push/send"


def _raw_socket(url: str) -> Callable[[], None]:
    """The floor: one keep-alive socket, the request's bytes written whole, the answer read by its length."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    head = "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
    request = f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\n{head}Content-Length: {len(BODY)}\r\n\r\n".encode() + BODY

    def post() -> None:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        while len(rest) < length:
            rest += sock.recv(65536)
        json.loads(rest)

    return post


def _http_client(url: str) -> Callable[[], None]:
    import http.client

    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))

    def post() -> None:
        conn.request("POST", PATH, BODY, HEADERS)
        conn.getresponse().read()

    return post


def _h11_transport(url: str) -> Callable[[], None]:
    from expo_push._h11_transport import H11Transport

    transport = H11Transport()

    def post() -> None:
        transport.post(url + PATH, BODY, HEADERS, time.monotonic() + 30, 4 * 2**20)

    return post


def _httpcore(url: str) -> Callable[[], None]:
    import httpcore

    pool = httpcore.ConnectionPool(max_connections=6)

    def post() -> None:
        pool.request("POST", url + PATH, content=BODY, headers=HEADERS).read()

    return post


def _httpx(url: str) -> Callable[[], None]:
    import httpx

    client = httpx.Client(limits=httpx.Limits(max_connections=6))

    def post() -> None:
        with client.stream("POST", url + PATH, content=BODY, headers=HEADERS) as response:
            b"".join(response.iter_bytes())

    return post


def _asyncio_streams(url: str) -> Callable[[], Awaitable[None]]:
    host, port = url.removeprefix("http://").split(":")
    head = "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
    request = f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\n{head}Content-Length: {len(BODY)}\r\n\r\n".encode() + BODY
    streams: list[Any] = []

    async def post() -> None:
        if not streams:
            streams.extend(await asyncio.open_connection(host, int(port)))
        reader, writer = streams
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        json.loads(await reader.readexactly(length))

    return post


def _async_h11_transport(url: str) -> Callable[[], Awaitable[None]]:
    from expo_push._h11_async_transport import AsyncH11Transport

    transport = AsyncH11Transport()

    async def post() -> None:
        await transport.post(url + PATH, BODY, HEADERS, time.monotonic() + 30, 4 * 2**20)

    return post


def _async_httpx(url: str) -> Callable[[], Awaitable[None]]:
    import httpx

    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=6))

    async def post() -> None:
        async with client.stream("POST", url + PATH, content=BODY, headers=HEADERS) as response:
            b"".join([part async for part in response.aiter_bytes()])

    return post


SYNC = {
    "raw socket (floor)": _raw_socket,
    "http.client": _http_client,
    "expo-push H11Transport (h11)": _h11_transport,
    "httpcore": _httpcore,
    "httpx": _httpx,
}
ASYNC = {
    "asyncio streams (floor)": _asyncio_streams,
    "expo-push AsyncH11Transport (h11)": _async_h11_transport,
    "httpx (async)": _async_httpx,
}


def ladder(requests: int = 2000, rounds: int = 5) -> dict[str, float]:
    """Median CPU seconds per request of each stack."""
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=False
    )
    try:
        assert server.stdin is not None
        assert server.stdout is not None
        server.stdin.write(TICKETS.encode())
        server.stdin.close()
        url = f"http://127.0.0.1:{int(server.stdout.readline())}"
        figures: dict[str, list[float]] = {name: [] for name in (*SYNC, *ASYNC)}
        posts = {name: make(url) for name, make in SYNC.items()}
        loop = asyncio.new_event_loop()
        async_posts = {name: make(url) for name, make in ASYNC.items()}
        for _ in range(rounds):
            for name, post in posts.items():
                post()  # connected before timing
                started = time.process_time()
                for _ in range(requests):
                    post()
                figures[name].append((time.process_time() - started) / requests)
            for name, apost in async_posts.items():

                async def run(apost: Callable[[], Awaitable[None]] = apost) -> float:
                    await apost()
                    started = time.process_time()
                    for _ in range(requests):
                        await apost()
                    return (time.process_time() - started) / requests

                figures[name].append(loop.run_until_complete(run()))
        loop.close()
        return {name: statistics.median(values) for name, values in figures.items()}
    finally:
        server.kill()
        server.wait()


def main() -> int:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    figures = ladder(requests, rounds)
    print(f"CPU per 100-notification request, median of {rounds} rounds of {requests:,} requests\n")
    print("| HTTP stack | µs per request | µs per notification |")
    print("|---|---:|---:|")
    for name, seconds in figures.items():
        print(f"| {name} | {seconds * 1e6:,.0f} | {seconds * 1e4:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
