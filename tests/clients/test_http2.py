"""Both clients over HTTP/2, the protocol the service speaks, against a local HTTP/2 server.

The emulator (aiohttp) speaks HTTP/1.1 only, so this small ASGI service, served by hypercorn with
HTTP/2 prior knowledge on loopback, covers the HTTP/2 path: headers, gzip bodies, many streams.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from expo_push import AsyncPushClient, PushClient

hypercorn_asyncio = pytest.importorskip("hypercorn.asyncio")
hypercorn_config = pytest.importorskip("hypercorn.config")


class Http2Service:
    """Answers sends with ok tickets and notes the HTTP version and headers of each request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[bytes, bytes], int]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        if headers.get(b"content-encoding") == b"gzip":
            body = gzip.decompress(body)
        messages = json.loads(body)
        self.requests.append((scope["http_version"], headers, len(messages)))
        tickets = [{"status": "ok", "id": f"id-{m['to']}"} for m in messages]
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps({"data": tickets}).encode()})


@pytest.fixture
def http2_service() -> Iterator[tuple[str, Http2Service]]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # connections wait in the backlog until the server accepts them: no start-up race
    port = listener.getsockname()[1]
    config = hypercorn_config.Config()
    config.bind = [f"fd://{listener.detach()}"]  # the server owns the socket from here on, and closes it
    config.loglevel = "WARNING"
    service = Http2Service()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(hypercorn_asyncio.serve(service, config, shutdown_trigger=stop.wait),)
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", service
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        assert not thread.is_alive()
        loop.close()


MESSAGES = [{"to": f"ExponentPushToken[h2-{i}]", "title": "over HTTP/2", "data": {"i": i}} for i in range(1000)]


def check(tickets: list[Any], service: Http2Service) -> None:
    assert [t.to for t in tickets] == [m["to"] for m in MESSAGES]
    assert all(t.ok and t.id == f"id-{t.to}" for t in tickets)
    assert {version for version, _, _ in service.requests} == {"2"}
    assert sorted(n for _, _, n in service.requests) == [100] * 10
    headers = service.requests[0][1]
    assert headers[b"content-encoding"] == b"gzip"
    assert headers[b"user-agent"].startswith(b"expo-push-python/")
    assert headers[b"authorization"] == b"Bearer h2-token"


def test_the_sync_client_over_http2(http2_service):
    url, service = http2_service
    http = httpx.Client(http1=False, http2=True)  # prior knowledge: HTTP/2 without TLS
    with PushClient("h2-token", base_url=url, rate_limit=None, http_client=http) as client:
        check(client.send(MESSAGES), service)
    http.close()


def test_the_async_client_over_http2(http2_service):
    url, service = http2_service

    async def run() -> list[Any]:
        http = httpx.AsyncClient(http1=False, http2=True)  # prior knowledge: HTTP/2 without TLS
        async with http, AsyncPushClient("h2-token", base_url=url, rate_limit=None, http_client=http) as client:
            return await client.send(MESSAGES)

    check(asyncio.run(run()), service)
