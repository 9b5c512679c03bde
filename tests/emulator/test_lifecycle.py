"""Starting and stopping the emulator from sync and async code, and what it shows of itself."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from expo_push.emulator import Emulator

from .conftest import SEND, token


def test_start_gives_a_url_on_a_free_port_and_stop_closes_it() -> None:
    emu = Emulator()
    with pytest.raises(RuntimeError, match="not running"):
        _ = emu.url
    emu.start()
    try:
        url = emu.url
        assert url.startswith("http://127.0.0.1:")
        assert emu.port != 0
        assert emu.running
        with pytest.raises(RuntimeError, match="already running"):
            emu.start()
        assert httpx.post(url + SEND, json={"to": token(1)}).status_code == 200
    finally:
        emu.stop()
    assert not emu.running
    emu.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.post(url + SEND, json={"to": token(1)})


def test_a_stopped_emulator_can_start_again_and_keeps_its_records() -> None:
    emu = Emulator()
    with emu:
        httpx.post(emu.url + SEND, json={"to": token(1)})
    with emu:
        assert len(emu.inbox(token(1))) == 1


def test_a_busy_port_fails_start() -> None:
    with Emulator() as first, pytest.raises(OSError, match=r"(?i)address already in use"):
        Emulator(port=first.port).start()


async def test_async_with_serves_async_clients() -> None:
    async with Emulator() as emu, httpx.AsyncClient(base_url=emu.url) as http:
        response = await http.post(SEND, json={"to": token(1), "title": "async"})
        assert response.json()["data"]["status"] == "ok"
        assert emu.messages(token(1)) == [{"to": token(1), "title": "async"}]
    assert not emu.running


def test_stop_drops_requests_held_by_a_stall() -> None:
    emu = Emulator().start()
    emu.add_fault("stall")
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(httpx.post, emu.url + SEND, json={"to": token(1)}, timeout=10)
        assert emu.wait_for_stalls(1)
        emu.stop()
        with pytest.raises(httpx.RemoteProtocolError):
            held.result(timeout=10)
    assert emu.inbox(token(1)) == []


def test_repr_shows_the_url_and_never_the_access_tokens() -> None:
    emu = Emulator(access_tokens=["super-secret"])
    assert repr(emu) == "<Emulator not started>"
    with emu:
        assert repr(emu) == f"<Emulator {emu.url}>"
    assert "super-secret" not in repr(emu._state.settings)


@pytest.mark.parametrize(
    "kwargs", [{"rate_limit": 0}, {"rate_limit": -3}, {"latency": -1}, {"receipt_delay": -1}, {"receipt_retention": -1}]
)
def test_invalid_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        Emulator(**kwargs)  # type: ignore[arg-type]


def test_invalid_setting_changes_are_refused_and_leave_the_old_value() -> None:
    emu = Emulator()
    with pytest.raises(ValueError, match="latency"):
        emu.latency = -1
    assert emu.latency == 0.0
    with pytest.raises(ValueError, match="seconds"):
        emu.advance(-1)
