"""Fixtures of the emulator's own tests: a fresh emulator on a frozen clock, a raw HTTP client, and the
inbox page opened in the shared headless Chromium (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from expo_push.emulator import Emulator

SEND = "/--/api/v2/push/send"
RECEIPTS = "/--/api/v2/push/getReceipts"


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def token(n: int | str) -> str:
    """A valid Expo push token, distinct for each ``n``."""
    return f"ExponentPushToken[device-{n}]"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def emu(clock: FrozenClock) -> Iterator[Emulator]:
    with Emulator(clock=clock) as emulator:
        yield emulator


@pytest.fixture
def http(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url, timeout=5.0) as client:
        yield client


@pytest.fixture
def page(browser: Any, emu: Emulator) -> Iterator[Any]:
    """The inbox page of ``emu``, live."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(emu.url)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    yield page
    context.close()


def cards(page: Any) -> Any:
    """The notification cards of the page."""
    return page.locator('[data-testid="notification"]')
