"""A scripted in-memory Expo Push service behind httpx.MockTransport, for sync and async clients alike."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from expo_push import AsyncPushClient, PushClient, RetryPolicy

FAST_RETRY = RetryPolicy(max_retries=3, initial_delay=0.001, max_delay=0.004)


def tok(i: int | str) -> str:
    return f"ExponentPushToken[{i}]"


@dataclass
class Seen:
    """One request as the service saw it."""

    path: str
    headers: httpx.Headers
    raw: bytes
    body: Any
    at: float

    @property
    def tokens(self) -> list[str]:
        out = []
        for message in self.body if isinstance(self.body, list) else [self.body]:
            to = message["to"]
            out.extend([to] if isinstance(to, str) else to)
        return out


@dataclass
class FakeService:
    """Answers every send with ok tickets unless ``plan`` says otherwise.

    ``plan(seen, n)`` may return an ``httpx.Response`` (or raise an httpx
    exception) for the n-th request; returning ``None`` falls back to success.
    """

    plan: Callable[[Seen, int], httpx.Response | None] | None = None
    latency: float = 0.0
    seen: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(self, request: httpx.Request) -> tuple[Seen, int]:
        raw = request.content
        content = gzip.decompress(raw) if request.headers.get("content-encoding") == "gzip" else raw
        seen = Seen(request.url.path, request.headers, raw, json.loads(content), time.monotonic())
        with self.lock:
            self.seen.append(seen)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return seen, len(self.seen) - 1

    def _answer(self, seen: Seen, n: int) -> httpx.Response:
        try:
            planned = self.plan(seen, n) if self.plan else None
            if planned is not None:
                return planned
            if seen.path.endswith("/getReceipts"):
                return httpx.Response(200, json={"data": {i: {"status": "ok"} for i in seen.body["ids"]}})
            return httpx.Response(200, json={"data": [{"status": "ok", "id": f"id-{t}"} for t in seen.tokens]})
        finally:
            with self.lock:
                self.in_flight -= 1

    def handle(self, request: httpx.Request) -> httpx.Response:
        seen, n = self._record(request)
        if self.latency:
            time.sleep(self.latency)
        return self._answer(seen, n)

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        seen, n = self._record(request)
        if self.latency:
            await asyncio.sleep(self.latency)
        return self._answer(seen, n)

    @property
    def sends(self) -> list[Seen]:
        return [s for s in self.seen if s.path.endswith("/send")]


class Harness:
    """Drives a PushClient or an AsyncPushClient with the same blocking calls, so one test covers both."""

    def __init__(self, kind: str, service: FakeService, **options: Any) -> None:
        self.kind = kind
        self.service = service
        options.setdefault("base_url", "http://expo.test")
        options.setdefault("retry_policy", FAST_RETRY)
        options.setdefault("rate_limit", None)
        self.options = options

    def _sync(self) -> PushClient:
        return PushClient(http_client=httpx.Client(transport=httpx.MockTransport(self.service.handle)), **self.options)

    def _async(self) -> AsyncPushClient:
        transport = httpx.MockTransport(self.service.ahandle)
        return AsyncPushClient(http_client=httpx.AsyncClient(transport=transport), **self.options)

    def call(self, method: str, *args: Any) -> Any:
        if self.kind == "sync":
            with self._sync() as client:
                result = getattr(client, method)(*args)
                return list(result) if method == "iter_send" else result

        async def run() -> Any:
            async with self._async() as client:
                if method == "iter_send":
                    return [t async for t in client.iter_send(*args)]
                return await getattr(client, method)(*args)

        return asyncio.run(run())

    def send(self, messages: Any) -> Any:
        return self.call("send", messages)

    def iter_send(self, messages: Any) -> Any:
        return self.call("iter_send", messages)

    def get_receipts(self, ids: Any) -> Any:
        return self.call("get_receipts", ids)


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def harness(kind: str, service: FakeService) -> Callable[..., Harness]:
    def make(**options: Any) -> Harness:
        return Harness(kind, service, **options)

    return make
