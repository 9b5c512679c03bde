"""Both clients fetching receipts from the emulator: the delay, scripted errors, expiry."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from expo_push import DeviceNotRegisteredError, MessageRateExceededError
from expo_push.emulator import Emulator

from .conftest import Driver, token


def test_receipts_arrive_after_their_delay(expo_emulator: Emulator, connect: Callable[..., Driver]) -> None:
    expo_emulator.receipt_delay = 900
    client = connect()
    tickets = client.send({"to": [token(i) for i in range(100)]})
    ids = [t.id or "" for t in tickets]
    assert client.get_receipts(ids) == {}
    expo_emulator.advance(900)
    receipts = client.get_receipts(ids)
    assert set(receipts) == set(ids)
    assert all(r.ok for r in receipts.values())


def test_more_than_1000_ids_are_fetched_in_several_requests(
    expo_emulator: Emulator, connect: Callable[..., Driver]
) -> None:
    expo_emulator.rate_limit = None
    client = connect(rate_limit=None)
    ids = [t.id or "" for t in client.send([{"to": token(i)} for i in range(1200)])]
    before = expo_emulator.stats.receipt_requests
    receipts = client.get_receipts([*ids, "00000000-0000-4000-8000-000000000000"])
    assert set(receipts) == set(ids)
    assert expo_emulator.stats.receipt_requests - before == 2


def test_scripted_receipt_errors_reach_the_caller(expo_emulator: Emulator, connect: Callable[..., Driver]) -> None:
    expo_emulator.script_token(token("gone"), receipt_error="DeviceNotRegistered")
    expo_emulator.script_token(token("busy"), receipt_error="MessageRateExceeded")
    client = connect()
    tickets = client.send({"to": [token("gone"), token("busy"), token("fine")]})
    assert all(t.ok for t in tickets)
    receipts = client.get_receipts([t.id or "" for t in tickets])
    gone, busy, fine = (receipts[t.id or ""] for t in tickets)
    assert fine.ok
    assert gone.to == token("gone")
    with pytest.raises(DeviceNotRegisteredError):
        gone.raise_for_error()
    with pytest.raises(MessageRateExceededError):
        busy.raise_for_error()


def test_receipts_are_gone_after_the_retention(expo_emulator: Emulator, connect: Callable[..., Driver]) -> None:
    client = connect()
    ids = [t.id or "" for t in client.send({"to": token(1)})]
    expo_emulator.advance(24 * 3600)
    assert client.get_receipts(ids) == {}
