"""The receipts endpoint: delay, retention, scripted errors, MessageTooBig, request limits."""

from __future__ import annotations

import httpx
import pytest

from expo_push.emulator import Emulator

from .conftest import RECEIPTS, SEND, FrozenClock, token


def _send(http: httpx.Client, message: object) -> list[str]:
    data = http.post(SEND, json=message).json()["data"]
    tickets = data if isinstance(data, list) else [data]
    return [t["id"] for t in tickets]


def _receipts(http: httpx.Client, ids: list[str]) -> dict[str, dict[str, object]]:
    response = http.post(RECEIPTS, json={"ids": ids})
    assert response.status_code == 200
    data: dict[str, dict[str, object]] = response.json()["data"]
    return data


def test_receipts_are_ok_at_once_by_default(http: httpx.Client) -> None:
    ids = _send(http, {"to": [token(1), token(2)]})
    assert _receipts(http, ids) == {ids[0]: {"status": "ok"}, ids[1]: {"status": "ok"}}


def test_unknown_ids_are_omitted(http: httpx.Client) -> None:
    ids = _send(http, {"to": token(1)})
    assert list(_receipts(http, ["00000000-0000-4000-8000-000000000000", *ids])) == ids


def test_receipts_appear_after_the_delay_on_the_injected_clock(clock: FrozenClock) -> None:
    with Emulator(clock=clock, receipt_delay=900) as emu, httpx.Client(base_url=emu.url) as http:
        ids = _send(http, {"to": token(1)})
        clock.advance(899.9)
        assert _receipts(http, ids) == {}
        clock.advance(0.1)
        assert _receipts(http, ids) == {ids[0]: {"status": "ok"}}


def test_receipts_disappear_after_the_retention(emu: Emulator, http: httpx.Client) -> None:
    emu.receipt_retention = 60
    ids = _send(http, {"to": token(1)})
    emu.advance(59)
    assert ids[0] in _receipts(http, ids)
    emu.advance(1)
    assert _receipts(http, ids) == {}


def test_advance_moves_time_without_an_injected_clock(http: httpx.Client, emu: Emulator) -> None:
    emu.receipt_delay = 5
    ids = _send(http, {"to": token(1)})
    before = emu.now()
    assert _receipts(http, ids) == {}
    emu.advance(5)
    assert emu.now() == before + 5
    assert ids[0] in _receipts(http, ids)


@pytest.mark.parametrize(
    "code", ["DeviceNotRegistered", "MessageTooBig", "MessageRateExceeded", "MismatchSenderId", "InvalidCredentials"]
)
def test_scripted_receipt_errors_of_every_documented_code(emu: Emulator, http: httpx.Client, code: str) -> None:
    emu.script_token(token(1), receipt_error=code)
    ids = _send(http, [{"to": token(1)}, {"to": token(2)}])
    receipts = _receipts(http, ids)
    assert receipts[ids[1]] == {"status": "ok"}
    receipt = receipts[ids[0]]
    assert receipt["status"] == "error"
    # details.expoPushToken only where the service gives it: on DeviceNotRegistered
    named = {"expoPushToken": token(1)} if code == "DeviceNotRegistered" else {}
    assert receipt["details"] == {"error": code, **named}
    assert isinstance(receipt["message"], str)
    assert receipt["message"]
    assert emu.inbox(token(1))[0].receipt_error == code
    assert not emu.inbox(token(1))[0].delivered


def test_device_not_registered_receipt_names_the_token(emu: Emulator, http: httpx.Client) -> None:
    emu.script_token(token(1), receipt_error="DeviceNotRegistered")
    ids = _send(http, {"to": token(1)})
    assert _receipts(http, ids)[ids[0]]["message"] == f'"{token(1)}" is not a registered push notification recipient'


def test_arbitrary_receipt_error_codes_are_passed_through(emu: Emulator, http: httpx.Client) -> None:
    emu.script_token([token(1), token(2)], receipt_error="SomethingNew")
    ids = _send(http, {"to": [token(1), token(2)]})
    receipts = _receipts(http, ids)
    assert {r["details"]["error"] for r in receipts.values()} == {"SomethingNew"}  # type: ignore[index]


def test_payload_over_4096_bytes_gets_a_message_too_big_receipt(emu: Emulator, http: httpx.Client) -> None:
    big = {"to": token(1), "data": {"blob": "x" * 4100}}
    small = {"to": token(2), "data": {"blob": "x" * 4000}}
    ids = _send(http, [big, small])
    receipts = _receipts(http, ids)
    assert receipts[ids[0]]["details"] == {"error": "MessageTooBig"}
    assert receipts[ids[1]] == {"status": "ok"}
    assert emu.inbox(token(1))[0].receipt_error == "MessageTooBig"


def test_more_than_1000_ids_are_refused(emu: Emulator, http: httpx.Client) -> None:
    response = http.post(RECEIPTS, json={"ids": [f"id-{i}" for i in range(1001)]})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "PUSH_TOO_MANY_RECEIPTS"
    assert http.post(RECEIPTS, json={"ids": [f"id-{i}" for i in range(1000)]}).status_code == 200
    assert emu.stats.receipt_requests == 2


@pytest.mark.parametrize("body", [{"ids": "abc"}, {"nope": []}, ["abc"], {"ids": [1, 2]}])
def test_malformed_receipts_bodies_are_validation_errors(http: httpx.Client, body: object) -> None:
    response = http.post(RECEIPTS, json=body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "VALIDATION_ERROR"


def test_receipts_need_the_access_token_too() -> None:
    with Emulator(access_tokens=["t"]) as emu, httpx.Client(base_url=emu.url) as http:
        assert http.post(RECEIPTS, json={"ids": []}).status_code == 401
        auth = {"Authorization": "Bearer t"}
        assert http.post(RECEIPTS, json={"ids": []}, headers=auth).json() == {"data": {}}
