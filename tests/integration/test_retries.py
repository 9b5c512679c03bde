"""Both clients through every fault the emulator can serve: retried, and nothing lost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from expo_push import PushResponseError, PushServerError, RetryPolicy
from expo_push.emulator import Emulator

from .conftest import Driver, token

TOKENS = [token(i) for i in range(150)]  # two requests


def _assert_each_token_got_exactly_one(emulator: Emulator) -> None:
    for t in TOKENS:
        assert emulator.messages(t) == [{"to": t, "body": "hi"}], t


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "rate_limit", "retry_after": 0},
        {"kind": "rate_limit"},
        {"kind": "server_error", "status": 500},
        {"kind": "server_error", "status": 502, "html": True},
        {"kind": "server_error", "status": 503, "retry_after": 0},
        {"kind": "server_error", "status": 504, "html": True},
        {"kind": "drop"},
        {"kind": "server_error", "status": 503, "count": 3},
    ],
    ids=lambda f: "-".join(str(v) for v in f.values()),
)
def test_transient_faults_are_retried_and_every_notification_arrives_once(
    expo_emulator: Emulator, connect: Callable[..., Driver], fault: dict[str, Any]
) -> None:
    expo_emulator.add_fault(**fault)
    tickets = connect().send({"to": TOKENS, "body": "hi"})
    assert [t.to for t in tickets] == TOKENS
    assert all(t.ok for t in tickets)
    _assert_each_token_got_exactly_one(expo_emulator)
    stats = expo_emulator.stats
    assert stats.faults == fault.get("count", 1)
    assert stats.send_requests == 2 + stats.faults


def test_a_drop_after_acceptance_is_retried_and_shows_up_as_duplicates(
    expo_emulator: Emulator, connect: Callable[..., Driver]
) -> None:
    expo_emulator.add_fault("drop", accept=True)
    tickets = connect(max_concurrency=1).send({"to": TOKENS, "body": "hi"})
    assert all(t.ok for t in tickets)
    assert all(expo_emulator.messages(t) for t in TOKENS)
    assert expo_emulator.stats.duplicates == 100  # the first request went through twice
    assert expo_emulator.stats.notifications == 250


def test_a_stall_past_the_timeout_is_retried(expo_emulator: Emulator, connect: Callable[..., Driver]) -> None:
    expo_emulator.add_fault("stall")
    tickets = connect(timeout=0.5, max_concurrency=1).send({"to": TOKENS, "body": "hi"})
    assert all(t.ok for t in tickets)
    _assert_each_token_got_exactly_one(expo_emulator)
    # The held request goes through once released, as a timed-out request may.
    assert expo_emulator.release_stalls() == 1
    assert expo_emulator.wait_idle()
    assert expo_emulator.stats.duplicates == 100


@pytest.mark.parametrize("fault", ["invalid_json", "wrong_ticket_count"])
def test_an_unreadable_answer_fails_with_its_recipients_in_doubt_and_the_rest_unsent(
    expo_emulator: Emulator, connect: Callable[..., Driver], fault: str
) -> None:
    expo_emulator.add_fault(fault)  # type: ignore[arg-type]
    client = connect(max_concurrency=1)
    with pytest.raises(PushResponseError) as failure:
        client.send({"to": TOKENS, "body": "hi"})
    error = failure.value
    sent = [t.to or "" for t in error.tickets]
    unsent = [r for m in error.unsent for r in m.recipients]
    in_doubt = [r for m in error.in_doubt for r in m.recipients]
    assert len(in_doubt) == 100  # the request answered unreadably: the service may have taken it
    assert sorted(sent + unsent + in_doubt) == sorted(TOKENS)
    assert error.account is not None
    assert error.account.balanced()
    assert all(expo_emulator.messages(t) for t in sent)
    assert not any(expo_emulator.messages(t) for t in unsent + in_doubt)  # this fault refuses before accepting
    retry = client.send(error.unsent + error.in_doubt)
    assert all(t.ok for t in retry)
    _assert_each_token_got_exactly_one(expo_emulator)


def test_retries_give_up_with_the_accepted_tickets_and_the_unsent_messages(
    expo_emulator: Emulator, connect: Callable[..., Driver]
) -> None:
    expo_emulator.add_fault("server_error", status=503, after=1, count=None)
    client = connect(max_concurrency=1, retry_policy=RetryPolicy(max_retries=1, initial_delay=0.01))
    tokens = TOKENS + [token(i) for i in range(150, 400)]
    messages = [{"to": t, "body": "hi"} for t in tokens]
    with pytest.raises(PushServerError) as failure:
        client.send(messages)
    error = failure.value
    assert error.status_code == 503
    assert [t.to for t in error.tickets] == tokens[:100]
    assert [r for m in error.unsent for r in m.recipients] == tokens[100:]
    assert all(len(expo_emulator.messages(t)) == 1 for t in tokens[:100])
    assert not any(expo_emulator.messages(t) for t in tokens[100:])
    expo_emulator.clear_faults()
    assert all(t.ok for t in client.send(error.unsent))
    assert expo_emulator.stats.notifications == len(messages)
    assert expo_emulator.stats.duplicates == 0


def test_receipts_requests_are_retried_too(expo_emulator: Emulator, connect: Callable[..., Driver]) -> None:
    client = connect()
    ids = [t.id or "" for t in client.send({"to": TOKENS, "body": "hi"})]
    expo_emulator.add_fault("server_error", status=502, html=True, target="receipts")
    expo_emulator.add_fault("drop", target="receipts")
    receipts = client.get_receipts(ids)
    assert set(receipts) == set(ids)
    assert expo_emulator.stats.receipt_requests == 3
