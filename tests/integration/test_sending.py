"""Both clients against the emulator: chunking, order, projects, ticket errors, access tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from expo_push import DeviceNotRegisteredError, PushMessage, UnauthorizedError
from expo_push.emulator import Emulator

from .conftest import Driver, token


def test_a_list_to_of_250_tokens_goes_out_in_three_requests(
    expo_emulator: Emulator, connect: Callable[..., Driver]
) -> None:
    tokens = [token(i) for i in range(250)]
    tickets = connect().send(PushMessage(to=tokens, title="Hello", data={"n": 1}))
    assert [t.to for t in tickets] == tokens
    assert all(t.ok for t in tickets)
    for t in tickets:
        (delivery,) = expo_emulator.inbox(t.to or "")
        assert delivery.ticket_id == t.id
        assert delivery.message == {"to": t.to, "title": "Hello", "data": {"n": 1}}
    stats = expo_emulator.stats
    assert (stats.send_requests, stats.notifications, stats.errors, stats.duplicates) == (3, 250, 0, 0)


def test_many_small_messages_share_requests_and_keep_their_order(
    expo_emulator: Emulator, connect: Callable[..., Driver]
) -> None:
    messages = [{"to": token(i % 7), "body": f"#{i}"} for i in range(230)]
    # One request at a time: the order of an inbox is the order requests arrive in.
    tickets = connect(max_concurrency=1).send(messages)
    assert [t.to for t in tickets] == [m["to"] for m in messages]
    for n in range(7):
        assert [m["body"] for m in expo_emulator.messages(token(n))] == [f"#{i}" for i in range(n, 230, 7)]
    assert expo_emulator.stats.send_requests == 3


def test_a_mixed_project_batch_is_split_by_project(expo_emulator: Emulator, connect: Callable[..., Driver]) -> None:
    others = [token(f"other-{i}") for i in range(5)]
    expo_emulator.set_project(others, "@acme/other")
    recipients = [token(0), others[0], token(1), others[1], others[2], token(2), others[3], others[4]]
    tickets = connect().send([{"to": r, "title": "x"} for r in recipients])
    assert [t.to for t in tickets] == recipients
    assert all(t.ok for t in tickets)
    assert {expo_emulator.inbox(r)[0].project for r in others} == {"@acme/other"}
    assert {expo_emulator.inbox(token(i))[0].project for i in range(3)} == {"@test/app"}
    assert expo_emulator.stats.notifications == len(recipients)
    assert expo_emulator.stats.duplicates == 0


def test_a_dead_token_gets_an_error_ticket_and_the_others_go_through(
    expo_emulator: Emulator, connect: Callable[..., Driver]
) -> None:
    expo_emulator.script_token(token("dead"), ticket_error="DeviceNotRegistered")
    tickets = connect().send({"to": [token(1), token("dead"), token(2)]})
    assert [t.ok for t in tickets] == [True, False, True]
    dead = tickets[1]
    assert dead.to == token("dead")
    assert dead.error_code == "DeviceNotRegistered"
    with pytest.raises(DeviceNotRegisteredError):
        dead.raise_for_error()
    assert expo_emulator.inbox(token("dead")) == []


def test_access_token_is_sent_and_checked(expo_emulator: Emulator, connect: Callable[..., Driver]) -> None:
    expo_emulator.set_access_tokens(["right"])
    assert connect(access_token="right").send({"to": token(1)})[0].ok
    with pytest.raises(UnauthorizedError):
        connect(access_token="wrong").send({"to": token(2)})
    assert expo_emulator.inbox(token(2)) == []
