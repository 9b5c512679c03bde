"""pytest plugin: fixtures that run the local emulator of the Expo Push service.

Installed with expo-push (entry point ``pytest11``), it imports nothing heavy
until a fixture is used; the emulator needs ``pip install 'expo-push[emulator]'``.

- ``expo_emulator``: a running ``expo_push.emulator.Emulator``, reset before
  and after each test (one server serves the whole session);
- ``expo_push_client``: a ``PushClient`` pointed at it, closed after the test;
- ``async_expo_push_client``: an ``AsyncPushClient`` pointed at it (needs
  pytest-asyncio), closed after the test.

``@pytest.mark.expo_emulator(rate_limit=200, latency=0.01, receipt_delay=5,
receipt_retention=60, access_tokens=["secret"], registered_only=True,
max_body_bytes=10_000)`` sets the emulator up for one test (the clients then
send the first access token).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from expo_push import AsyncPushClient, PushClient
    from expo_push.emulator import Emulator

__all__ = ["async_expo_push_client", "expo_emulator", "expo_emulator_server", "expo_push_client"]

_MARKER = "expo_emulator"
_SETTINGS = ("rate_limit", "latency", "receipt_delay", "receipt_retention", "access_tokens", "registered_only",
             "max_body_bytes")  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``expo_emulator`` marker."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**settings): set up the expo_emulator fixture for this test (any of {', '.join(_SETTINGS)})",
    )


def _emulator_class() -> type[Emulator]:
    try:
        from expo_push.emulator import Emulator
    except ImportError as exc:
        pytest.fail(
            f"the expo_emulator fixture needs the emulator extra: pip install 'expo-push[emulator]' ({exc})",
            pytrace=False,
        )
    return Emulator


@pytest.fixture(scope="session")
def expo_emulator_server() -> Iterator[Emulator]:
    """The session's emulator, as started (prefer ``expo_emulator``, which is reset for each test)."""
    with _emulator_class()() as emulator:
        yield emulator


def _access_token(request: pytest.FixtureRequest) -> str | None:
    marker = request.node.get_closest_marker(_MARKER)
    tokens = marker.kwargs.get("access_tokens") if marker is not None else None
    return next(iter(tokens), None) if tokens else None


@pytest.fixture
def expo_emulator(expo_emulator_server: Emulator, request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A running emulator of the Expo Push service, fresh for this test.

    Point clients at ``expo_emulator.url``; script tokens, add faults and read
    inboxes and stats on it (see ``expo_push.emulator``).
    """
    emulator = expo_emulator_server
    _fresh(emulator)
    marker = request.node.get_closest_marker(_MARKER)
    if marker is not None:
        _configure(emulator, marker.kwargs)
    try:
        yield emulator
    finally:
        _fresh(emulator)


_IDLE_TIMEOUT = 10.0
"""Seconds to wait for the requests a test left running to end before the next test starts."""


def _fresh(emulator: Emulator) -> None:
    """Reset ``emulator`` and wait until no request begun before the reset is still being handled.

    The reset comes first: it drops held stalls, so nothing waits on a release
    that will not come, and whatever a request begun before it still does is
    not recorded. Waiting for idle then keeps such requests out of the next
    test's ``max_in_flight`` and connections.
    """
    emulator.reset()
    if not emulator.wait_idle(_IDLE_TIMEOUT):
        pytest.fail(
            f"the expo emulator was still handling requests {_IDLE_TIMEOUT:g} s after the reset between tests",
            pytrace=False,
        )


def _configure(emulator: Emulator, settings: dict[str, Any]) -> None:
    unknown = set(settings) - set(_SETTINGS)
    if unknown:
        pytest.fail(f"unknown {_MARKER} settings {sorted(unknown)}; allowed: {', '.join(_SETTINGS)}", pytrace=False)
    for name, value in settings.items():
        if name == "access_tokens":
            emulator.set_access_tokens(value)
        else:
            setattr(emulator, name, value)


@pytest.fixture
def expo_push_client(expo_emulator: Emulator, request: pytest.FixtureRequest) -> Iterator[PushClient]:
    """A ``PushClient`` sending to the ``expo_emulator`` of this test."""
    from expo_push import PushClient

    with PushClient(_access_token(request), base_url=expo_emulator.url) as client:
        yield client


try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - without pytest-asyncio, pytest says the async fixture needs a plugin
    _async_fixture = pytest.fixture  # type: ignore[assignment]


@_async_fixture
async def async_expo_push_client(
    expo_emulator: Emulator, request: pytest.FixtureRequest
) -> AsyncIterator[AsyncPushClient]:
    """An ``AsyncPushClient`` sending to the ``expo_emulator`` of this test (needs pytest-asyncio)."""
    from expo_push import AsyncPushClient

    async with AsyncPushClient(_access_token(request), base_url=expo_emulator.url) as client:
        yield client
