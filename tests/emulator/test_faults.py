"""Faults: every kind, how many requests they hit, which requests, and normal service afterwards."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from expo_push.emulator import Emulator, Fault

from .conftest import RECEIPTS, SEND, token


def _ok(http: httpx.Client, n: int | str = "after") -> None:
    response = http.post(SEND, json={"to": token(n)})
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "ok"


@pytest.mark.parametrize("retry_after", [None, 2, 0.5])
def test_rate_limit_fault_answers_429_with_or_without_retry_after(
    emu: Emulator, http: httpx.Client, retry_after: float | None
) -> None:
    emu.add_fault("rate_limit", retry_after=retry_after)
    response = http.post(SEND, json={"to": token(1)})
    assert response.status_code == 429
    assert response.json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"
    assert response.headers.get("Retry-After") == (None if retry_after is None else f"{retry_after:g}")
    assert emu.inbox(token(1)) == []
    _ok(http)
    stats = emu.stats
    assert (stats.rate_limited, stats.faults, stats.notifications) == (1, 1, 1)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_error_fault_answers_json(emu: Emulator, http: httpx.Client, status: int) -> None:
    emu.add_fault("server_error", status=status)
    response = http.post(SEND, json={"to": token(1)})
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["errors"][0]["code"]
    _ok(http)
    assert emu.stats.errors == 1
    assert emu.stats.notifications == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_server_error_fault_answers_an_html_page_like_a_proxy(emu: Emulator, http: httpx.Client, status: int) -> None:
    emu.add_fault("server_error", status=status, html=True, retry_after=1)
    response = http.post(SEND, json={"to": token(1)})
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Retry-After"] == "1"
    assert response.text.startswith("<html>")
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_drop_closes_the_connection_without_an_answer_and_accepts_nothing(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault("drop")
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(SEND, json={"to": token(1)})
    assert emu.inbox(token(1)) == []
    _ok(http)
    assert emu.stats.dropped == 1
    assert emu.stats.errors == 0


def test_drop_after_accepting_leaves_the_notification_delivered(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault("drop", accept=True)
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(SEND, json={"to": token(1), "title": "once"})
    assert emu.messages(token(1)) == [{"to": token(1), "title": "once"}]
    # The sender cannot know it went through, retries, and duplicates it.
    assert http.post(SEND, json={"to": token(1), "title": "once"}).status_code == 200
    assert emu.stats.duplicates == 1
    assert len(emu.inbox(token(1))) == 2


def test_server_error_after_accepting(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault("server_error", status=504, accept=True)
    assert http.post(SEND, json={"to": token(1)}).status_code == 504
    assert len(emu.inbox(token(1))) == 1


def test_stall_holds_one_request_until_released_while_others_are_served(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault("stall")
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=emu.url, timeout=10) as other:
        held = pool.submit(other.post, SEND, json={"to": token("held")})
        assert emu.wait_for_stalls(1)
        for i in range(3):
            _ok(http, i)
        assert not held.done()
        assert emu.inbox(token("held")) == []
        assert emu.release_stalls() == 1
        response = held.result(timeout=10)
    assert response.status_code == 200
    assert len(emu.inbox(token("held"))) == 1
    assert emu.stats.max_in_flight == 2


def test_stall_for_a_set_time_then_answers_normally(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault("stall", seconds=0.3)
    response = http.post(SEND, json={"to": token(1)})
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.3
    assert len(emu.inbox(token(1))) == 1


def test_stall_past_the_client_timeout_is_still_accepted_when_released(emu: Emulator) -> None:
    emu.add_fault("stall")
    with httpx.Client(base_url=emu.url, timeout=0.2) as http, pytest.raises(httpx.ReadTimeout):
        http.post(SEND, json={"to": token(1)})
    assert emu.wait_for_stalls(1)
    assert emu.inbox(token(1)) == []
    assert emu.release_stalls() == 1
    assert emu.wait_idle()
    assert len(emu.inbox(token(1))) == 1


def test_stall_held_at_reset_is_dropped_without_accepting(emu: Emulator) -> None:
    emu.add_fault("stall")
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=emu.url, timeout=10) as http:
        held = pool.submit(http.post, SEND, json={"to": token(1)})
        assert emu.wait_for_stalls(1)
        emu.reset()
        with pytest.raises(httpx.RemoteProtocolError):
            held.result(timeout=10)
    assert emu.wait_idle()
    assert emu.inbox(token(1)) == []
    assert emu.stats.requests == 0


@pytest.mark.parametrize("how", ["release", "reset"])
def test_released_stalls_stop_counting_as_held_at_once(emu: Emulator, how: str) -> None:
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=emu.url, timeout=10) as http:
        for n in range(10):
            emu.add_fault("stall")
            held = pool.submit(http.post, SEND, json={"to": token(n)})
            assert emu.wait_for_stalls(1)
            if how == "release":
                assert emu.release_stalls() == 1
            else:
                emu.reset()
            assert not emu.wait_for_stalls(1, timeout=0)
            assert emu.release_stalls() == 0
            if how == "release":
                assert held.result(timeout=10).status_code == 200
            else:
                with pytest.raises(httpx.RemoteProtocolError):
                    held.result(timeout=10)
    assert emu.wait_idle()


def test_invalid_json_fault(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault("invalid_json")
    response = http.post(SEND, json={"to": token(1)})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert emu.inbox(token(1)) == []
    _ok(http)


@pytest.mark.parametrize(("delta", "expected"), [(-1, 2), (-3, 0), (2, 5)])
def test_wrong_ticket_count_fault(emu: Emulator, http: httpx.Client, delta: int, expected: int) -> None:
    emu.add_fault("wrong_ticket_count", ticket_delta=delta)
    response = http.post(SEND, json={"to": [token(1), token(2), token(3)]})
    assert response.status_code == 200
    assert len(response.json()["data"]) == expected
    assert emu.stats.notifications == 0


def test_wrong_ticket_count_after_accepting_keeps_the_real_ticket_ids(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault("wrong_ticket_count", accept=True)
    tickets = http.post(SEND, json={"to": [token(1), token(2)]}).json()["data"]
    assert [t["id"] for t in tickets] == [emu.inbox(token(1))[0].ticket_id]
    assert len(emu.inbox(token(2))) == 1


def test_count_says_how_many_requests_a_fault_hits(emu: Emulator, http: httpx.Client) -> None:
    fault = emu.add_fault("server_error", count=2)
    assert emu.faults == [fault]
    assert [http.post(SEND, json={"to": token(1)}).status_code for _ in range(3)] == [500, 500, 200]
    assert fault.applied == 2
    assert emu.faults == []


def test_count_none_hits_every_request_until_cleared(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault("rate_limit", count=None)
    assert {http.post(SEND, json={"to": token(1)}).status_code for _ in range(5)} == {429}
    emu.clear_faults()
    _ok(http)


def test_faults_apply_in_the_order_they_were_added(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault("server_error", status=503)
    emu.add_fault("rate_limit")
    assert [http.post(SEND, json={"to": token(1)}).status_code for _ in range(3)] == [503, 429, 200]


def _statuses(probability: float, seed: int, n: int = 40) -> list[int]:
    with Emulator(rate_limit=None) as emu, httpx.Client(base_url=emu.url) as http:
        emu.add_fault("server_error", count=None, probability=probability, seed=seed)
        return [http.post(SEND, json={"to": token(1)}).status_code for _ in range(n)]


def test_a_seeded_fraction_of_requests_fails_the_same_way_every_run() -> None:
    first = _statuses(0.3, seed=7)
    assert first == _statuses(0.3, seed=7)
    assert first != _statuses(0.3, seed=8)
    assert 3 <= first.count(500) <= 25
    assert set(first) == {200, 500}


def test_faults_apply_to_send_requests_only_by_default(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault("server_error", count=None)
    assert http.post(RECEIPTS, json={"ids": []}).status_code == 200
    assert http.post(SEND, json={"to": token(1)}).status_code == 500


def test_faults_can_target_receipts_requests(emu: Emulator, http: httpx.Client) -> None:
    ids = [http.post(SEND, json={"to": token(1)}).json()["data"]["id"]]
    emu.add_fault("wrong_ticket_count", target="receipts")
    emu.add_fault("drop", target="receipts")
    _ok(http)
    assert http.post(RECEIPTS, json={"ids": ids}).json() == {"data": []}
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(RECEIPTS, json={"ids": ids})
    assert http.post(RECEIPTS, json={"ids": ids}).json() == {"data": {ids[0]: {"status": "ok"}}}


def test_faults_can_target_any_request(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault("rate_limit", count=2, target="any")
    assert http.post(RECEIPTS, json={"ids": []}).status_code == 429
    assert http.post(SEND, json={"to": token(1)}).status_code == 429
    _ok(http)


def test_fault_objects_can_be_added_directly(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault(Fault("server_error", status=502))
    assert http.post(SEND, json={"to": token(1)}).status_code == 502


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "explode"},
        {"kind": "server_error", "status": 418},
        {"kind": "drop", "count": 0},
        {"kind": "drop", "probability": 0},
        {"kind": "drop", "target": "elsewhere"},
        {"kind": "stall", "seconds": -1},
        {"kind": "wrong_ticket_count", "ticket_delta": 0},
        {"kind": "rate_limit", "retry_after": -2},
        {"kind": "drop", "after": -1},
    ],
)
def test_invalid_faults_are_refused(emu: Emulator, spec: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is checked per field elsewhere
        Fault.from_dict(spec)


def test_after_lets_some_requests_through_first(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault("server_error", after=2, count=2)
    emu.add_fault("rate_limit", target="receipts", after=1)
    assert http.post(RECEIPTS, json={"ids": []}).status_code == 200
    statuses = [http.post(SEND, json={"to": token(1)}).status_code for _ in range(5)]
    assert statuses == [200, 200, 500, 500, 200]
    assert http.post(RECEIPTS, json={"ids": []}).status_code == 429
