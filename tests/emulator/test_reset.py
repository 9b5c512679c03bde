"""Reset while requests are running: what began before a reset records nothing after it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from expo_push.emulator import Emulator
from expo_push.emulator._state import EmulatorState, SendAnswer, Settings

from .conftest import SEND, token


def _until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether ``condition`` became true within ``timeout`` (the emulator has no event for a request's arrival)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def _assert_nothing_recorded(emu: Emulator) -> None:
    assert emu.wait_idle()
    assert emu.inbox(token(1)) == []
    assert emu.tokens() == []
    stats = emu.stats
    assert (stats.requests, stats.notifications, stats.bytes_received, stats.errors, stats.dropped) == (0, 0, 0, 0, 0)


def test_state_send_of_a_request_begun_before_the_reset_records_nothing() -> None:
    state = EmulatorState(Settings(), time.monotonic)
    started, number = state.request_started("send", 40)
    state.reset()
    assert state.send({"to": token(1)}, started, number) is None
    state.request_finished(started, None)
    assert state.inbox(token(1)) == []
    assert state.stats().notifications == 0
    assert state.stats().requests == 0
    current, number = state.request_started("send", 40)
    answer = state.send({"to": token(1)}, current, number)
    assert isinstance(answer, SendAnswer)
    assert len(state.inbox(token(1))) == 1


def test_request_waiting_out_the_latency_at_reset_is_dropped_and_records_nothing(emu: Emulator) -> None:
    emu.latency = 0.3
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=emu.url, timeout=5) as http:
        running = pool.submit(http.post, SEND, json={"to": token(1)})
        assert _until(lambda: emu.stats.requests == 1)
        emu.reset()
        with pytest.raises(httpx.RemoteProtocolError):
            running.result(timeout=5)
    _assert_nothing_recorded(emu)


@pytest.fixture
def uploading(emu: Emulator) -> Iterator[tuple[threading.Event, Callable[[], httpx.Response]]]:
    """A send request whose body stops half-way until the event is set; call the second item for its answer."""
    rest = threading.Event()

    def body() -> Iterator[bytes]:
        yield b'{"to": '
        rest.wait(5)
        yield f'"{token(1)}"}}'.encode()

    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=emu.url, timeout=5) as http:
        running = pool.submit(http.post, SEND, content=body(), headers={"Content-Type": "application/json"})
        try:
            yield rest, lambda: running.result(timeout=5)
        finally:
            rest.set()


def test_request_still_uploading_is_in_flight(
    emu: Emulator, uploading: tuple[threading.Event, Callable[[], httpx.Response]]
) -> None:
    rest, answer = uploading
    assert _until(lambda: emu.stats.requests == 1)
    assert not emu.wait_idle(timeout=0)
    assert emu.stats.max_in_flight == 1
    rest.set()
    assert answer().status_code == 200
    assert emu.wait_idle()
    assert len(emu.inbox(token(1))) == 1
    assert emu.stats.bytes_received == len(f'{{"to": "{token(1)}"}}')


def test_request_still_uploading_at_reset_records_nothing(
    emu: Emulator, uploading: tuple[threading.Event, Callable[[], httpx.Response]]
) -> None:
    rest, answer = uploading
    assert _until(lambda: emu.stats.requests == 1)
    emu.reset()
    rest.set()
    with pytest.raises(httpx.RemoteProtocolError):
        answer()
    _assert_nothing_recorded(emu)
