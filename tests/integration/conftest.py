"""Both clients behind one face, so each integration scenario runs against the sync and the async client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from expo_push import AsyncPushClient, PushClient, PushReceipt, PushTicket, RetryPolicy
from expo_push.emulator import Emulator

FAST_RETRIES = RetryPolicy(max_retries=3, initial_delay=0.01, max_delay=0.05)


def token(n: int | str) -> str:
    """A valid Expo push token, distinct for each ``n``."""
    return f"ExponentPushToken[device-{n}]"


class Driver:
    """A ``PushClient`` or an ``AsyncPushClient`` (run on a private event loop), used the same way."""

    def __init__(self, kind: str, url: str, options: dict[str, Any]) -> None:
        self.kind = kind
        options.setdefault("retry_policy", FAST_RETRIES)
        if kind == "sync":
            self._client: PushClient | AsyncPushClient = PushClient(base_url=url, **options)
            self._loop: asyncio.AbstractEventLoop | None = None
        else:
            self._loop = asyncio.new_event_loop()
            self._client = self._loop.run_until_complete(self._make_async(url, options))

    @staticmethod
    async def _make_async(url: str, options: dict[str, Any]) -> AsyncPushClient:
        return AsyncPushClient(base_url=url, **options)

    def send(self, messages: Any) -> list[PushTicket]:
        if isinstance(self._client, PushClient):
            return self._client.send(messages)
        assert self._loop is not None
        return self._loop.run_until_complete(self._client.send(messages))

    def get_receipts(self, ids: Iterable[str]) -> dict[str, PushReceipt]:
        if isinstance(self._client, PushClient):
            return self._client.get_receipts(ids)
        assert self._loop is not None
        return self._loop.run_until_complete(self._client.get_receipts(ids))

    def close(self) -> None:
        if isinstance(self._client, PushClient):
            self._client.close()
            return
        assert self._loop is not None
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()


@pytest.fixture(params=["sync", "async"])
def connect(request: pytest.FixtureRequest, expo_emulator: Emulator) -> Iterator[Callable[..., Driver]]:
    """``connect(**client_options)``: a client of the kind of this run, pointed at ``expo_emulator``."""
    drivers: list[Driver] = []

    def make(**options: Any) -> Driver:
        driver = Driver(request.param, expo_emulator.url, options)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.close()
