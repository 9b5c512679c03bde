"""The per-project rate limit: a token bucket holding one second of the rate, refilled continuously."""

from __future__ import annotations

import httpx

from expo_push.emulator import Emulator

from .conftest import SEND, FrozenClock, token


def _hundred(offset: int = 0) -> dict[str, object]:
    return {"to": [token(offset + i) for i in range(100)]}


def test_a_full_bucket_takes_one_second_of_rate_then_refuses_whole(emu: Emulator, http: httpx.Client) -> None:
    for _ in range(6):
        assert http.post(SEND, json=_hundred()).status_code == 200
    response = http.post(SEND, json={"to": token("late")})
    assert response.status_code == 429
    assert response.json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"
    assert "Retry-After" not in response.headers
    assert emu.inbox(token("late")) == []
    stats = emu.stats
    assert stats.notifications == 600
    assert stats.rate_limited == 1
    assert stats.errors == 0


def test_the_bucket_refills_continuously(emu: Emulator, http: httpx.Client, clock: FrozenClock) -> None:
    for _ in range(6):
        http.post(SEND, json=_hundred())
    clock.advance(0.1)  # 60 notifications' worth
    assert http.post(SEND, json={"to": [token(i) for i in range(61)]}).status_code == 429
    assert http.post(SEND, json={"to": [token(i) for i in range(60)]}).status_code == 200
    assert http.post(SEND, json={"to": token(1)}).status_code == 429
    clock.advance(10)  # never more than one second's worth
    for _ in range(6):
        assert http.post(SEND, json=_hundred()).status_code == 200
    assert http.post(SEND, json={"to": token(1)}).status_code == 429


def test_each_project_has_its_own_bucket(emu: Emulator, http: httpx.Client) -> None:
    emu.rate_limit = 100
    other = [token(f"o{i}") for i in range(100)]
    emu.set_project(other, "@acme/other")
    assert http.post(SEND, json=_hundred()).status_code == 200
    assert http.post(SEND, json={"to": other}).status_code == 200
    assert http.post(SEND, json={"to": token(1)}).status_code == 429
    assert http.post(SEND, json={"to": other[0]}).status_code == 429


def test_none_turns_the_limit_off(clock: FrozenClock) -> None:
    with Emulator(clock=clock, rate_limit=None) as emu, httpx.Client(base_url=emu.url) as http:
        for _ in range(20):
            assert http.post(SEND, json=_hundred()).status_code == 200
        assert emu.stats.notifications == 2000
        assert emu.rate_limit is None


def test_a_request_bigger_than_the_bucket_is_always_refused(emu: Emulator, http: httpx.Client) -> None:
    emu.rate_limit = 50
    assert http.post(SEND, json={"to": [token(i) for i in range(51)]}).status_code == 429
    assert http.post(SEND, json={"to": [token(i) for i in range(50)]}).status_code == 200
