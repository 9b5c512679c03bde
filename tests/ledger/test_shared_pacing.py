"""The shared pacer: one rate budget per project in the ledger's database, for every worker using it."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from expo_push import PushClient, ValidationError
from expo_push._pacing import PacerProtocol
from expo_push.emulator import Emulator
from expo_push.ledger import Ledger, SharedPacer

from .conftest import token


def decode(message: str) -> object:
    return json.loads(message)["to"]


SLOT = 100 / 600  # seconds one request of 100 notifications books at 600/s
EPSILON = 0.01  # the database's clock read against this process's (and SQLite's 'now' is in milliseconds)


class Since:
    """Checks a wait measured on a machine of unknown load: a slot ``booked`` seconds after this was made is
    ``booked`` minus however long has passed since, give or take the clocks' ``EPSILON``."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def waits(self, value: float, booked: float) -> bool:
        elapsed = time.monotonic() - self.start
        return max(booked - elapsed, 0.0) - EPSILON <= value <= booked + EPSILON


def test_the_shared_pacer_is_a_pacer_the_clients_take(ledger: Ledger) -> None:
    pacer = ledger.shared_pacer(600)
    assert isinstance(pacer, PacerProtocol)
    with PushClient(pacer=pacer, http2=False) as client:
        assert client.with_options(max_retries=0)._pacer is pacer  # copies share the budget


def test_two_pacers_on_one_ledger_book_one_schedule(ledger: Ledger) -> None:
    first, second = ledger.shared_pacer(600), ledger.shared_pacer(600)
    since = Since()
    assert since.waits(first.reserve(100, None), 0.0)
    assert since.waits(second.reserve(100, None), SLOT)
    assert since.waits(first.reserve(100, None), 2 * SLOT)


def test_each_project_has_a_budget_of_its_own(ledger: Ledger) -> None:
    pacer = ledger.shared_pacer(600)
    since = Since()
    pacer.reserve(600, "@acme/orders")  # a whole second of @acme/orders booked
    assert since.waits(pacer.reserve(100, "@acme/news"), 0.0)
    assert since.waits(pacer.reserve(100, None), 0.0)
    assert since.waits(pacer.reserve(100, "@acme/orders"), 1.0)


def test_a_hold_seen_by_one_worker_holds_every_worker_of_that_project_only(ledger: Ledger) -> None:
    seen, other = ledger.shared_pacer(600), ledger.shared_pacer(600)
    since = Since()
    seen.hold(5.0, "@acme/orders")
    assert since.waits(other.held_for("@acme/orders"), 5.0)
    assert since.waits(other.reserve(100, "@acme/orders"), 5.0)
    assert other.held_for("@acme/news") == 0.0
    assert since.waits(other.reserve(100, "@acme/news"), 0.0)
    seen.hold(0.5, "@acme/orders")  # a shorter hold does not shorten the longer one
    assert since.waits(other.held_for("@acme/orders"), 5.0)


def test_a_refund_gives_the_slot_back_to_every_worker(ledger: Ledger) -> None:
    first, second = ledger.shared_pacer(600), ledger.shared_pacer(600)
    since = Since()
    first.reserve(100, None)
    first.reserve(100, None)
    second.refund(100, None)  # the second request was refused whole
    assert since.waits(first.reserve(100, None), SLOT)


def test_a_receipts_request_books_nothing_and_waits_only_for_a_hold(ledger: Ledger) -> None:
    pacer = ledger.shared_pacer(600)
    since = Since()
    pacer.reserve(600, None)
    assert pacer.reserve(0, None) == 0.0
    pacer.hold(3.0, None)
    assert since.waits(pacer.reserve(0, None), 3.0)


def test_unpaced_shared_pacer_still_holds(ledger: Ledger) -> None:
    pacer = ledger.shared_pacer(None)
    assert pacer.reserve(10_000, None) == 0.0
    since = Since()
    pacer.hold(3.0, None)
    assert since.waits(pacer.reserve(100, None), 3.0)


def _next_at(ledger: Ledger, project: str) -> float:
    with ledger._store.transaction(write=False) as cur:
        cur.execute(ledger._store.q("SELECT next_at FROM expo_push_pacing WHERE project = ?"), (project,))
        return float(cur.fetchone()[0])


def test_concurrent_reservations_never_share_a_slot(ledger: Ledger) -> None:
    pacers = [ledger.shared_pacer(60) for _ in range(4)]
    pacers[0].reserve(6, "@acme/orders")  # 0.1 s each: the schedule stays well ahead of the clock
    booked_from = _next_at(ledger, "@acme/orders")

    def book(pacer: SharedPacer) -> None:
        for _ in range(25):
            pacer.reserve(6, "@acme/orders")

    threads = [threading.Thread(target=book, args=(p,)) for p in pacers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 100 more reservations of 0.1 s from four pacers at once: the schedule moved exactly 10 s.
    assert _next_at(ledger, "@acme/orders") - booked_from == pytest.approx(10.0, abs=1e-3)  # one slot less: 9.9


@pytest.mark.parametrize("rate", [0, -1, True])
def test_a_bad_rate_is_refused(ledger: Ledger, rate: float) -> None:
    with pytest.raises(ValueError, match="rate must be a positive number"):
        ledger.shared_pacer(rate)


def test_the_pacer_reconnects_after_the_ledger_closed_its_connections(ledger: Ledger) -> None:
    pacer = ledger.shared_pacer(600)
    since = Since()
    pacer.reserve(100, None)
    ledger.close()  # closes the pacer's connection too
    pacer.close()
    assert since.waits(pacer.reserve(100, None), SLOT)


# -- projects of outbox rows --------------------------------------------------------------------------


def test_a_worker_claims_a_batch_of_one_project_at_a_time_taking_the_projects_in_turn(ledger: Ledger) -> None:
    ledger.enqueue({"to": token("a1"), "body": "x"}, project="@acme/orders")
    ledger.enqueue({"to": token("b1"), "body": "x"}, project="@acme/news")
    ledger.enqueue({"to": token("a2"), "body": "x"}, project="@acme/orders")
    ledger.enqueue({"to": token("n1"), "body": "x"})
    store, now = ledger._store, ledger._lease_clock()
    batches = []
    after = ""
    while claimed := store.claim(now, "w1", 10, after=after):
        batches.append([(row.project, decode(row.message)) for row in claimed])
        after = claimed[0].project or ""
    assert batches == [
        [("@acme/news", token("b1"))],
        [("@acme/orders", token("a1")), ("@acme/orders", token("a2"))],
        [(None, token("n1"))],
    ]


def test_workers_spread_over_the_projects_with_a_backlog(ledger: Ledger) -> None:
    # All of @acme/orders was enqueued first: a second worker still takes @acme/news, not more of the same.
    ledger.enqueue([{"to": token(f"a{i}"), "body": "x"} for i in range(4)], project="@acme/orders")
    ledger.enqueue([{"to": token(f"b{i}"), "body": "x"} for i in range(4)], project="@acme/news")
    store, now = ledger._store, ledger._lease_clock()
    first = store.claim(now, "w1", 2, after="@acme/news")
    second = store.claim(now, "w2", 2, after="@acme/news")
    third = store.claim(now, "w3", 2, after="@acme/news")
    assert [row.project for row in first] == ["@acme/orders"] * 2
    assert [row.project for row in second] == ["@acme/news"] * 2
    assert [row.project for row in third] == ["@acme/orders"] * 2  # a tie: the next after @acme/news


def test_a_message_to_tokens_of_a_known_project_is_enqueued_under_it(ledger: Ledger) -> None:
    ledger.set_project([token("a1"), token("a2")], "@acme/orders")
    ledger.set_project(token("b1"), "@acme/news")
    ledger.enqueue(
        [
            {"to": [token("a1"), token("a2")], "body": "both known, one project"},
            {"to": [token("a1"), token("b1")], "body": "two projects: left unnamed"},
            {"to": token("z"), "body": "unknown"},
        ]
    )
    ledger.enqueue({"to": token("b1"), "body": "named by the caller"}, project="@acme/orders")
    rows = [row for _ in range(4) for row in ledger._store.claim(ledger._lease_clock(), "w", 10)]
    by_id = {row.id: row.project for row in rows}
    assert [by_id[i] for i in sorted(by_id)] == ["@acme/orders", None, None, "@acme/orders"]


@pytest.mark.parametrize("way", ["send", "outbox"])
def test_the_projects_the_service_names_are_remembered_for_later_sends(
    ledger: Ledger, emulator: Emulator, way: str
) -> None:
    # The service refuses a request mixing projects and names each token's; the client splits it, and the
    # ledger learns the names, so that what is enqueued later is paced under the right budget.
    emulator.set_project([token("a1"), token("a2")], "@acme/orders")
    emulator.set_project(token("b1"), "@acme/news")
    mixed = [{"to": [token("a1"), token("b1")], "body": "x"}, {"to": token("a2"), "body": "y"}]
    with PushClient(base_url=emulator.url, rate_limit=None) as client:
        if way == "send":
            tickets = ledger.send(client, mixed)
        else:
            ledger.enqueue(mixed)
            ledger.drain(client)
            tickets = []
    assert all(t.ok for t in tickets)
    ledger.enqueue([{"to": token("a2"), "body": "later"}, {"to": token("b1"), "body": "later"}])
    rows = ledger._store.claim(ledger._lease_clock(), "w", 10) + ledger._store.claim(ledger._lease_clock(), "w", 10)
    assert sorted(row.project or "" for row in rows) == ["@acme/news", "@acme/orders"]


@pytest.mark.parametrize("project", ["", "  ", 17])
def test_a_bad_project_is_refused_before_anything_is_stored(ledger: Ledger, project: object) -> None:
    with pytest.raises(ValidationError, match="project must be a name"):
        ledger.enqueue({"to": token("a"), "body": "x"}, project=project)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="project must be a name"):
        ledger.set_project(token("a"), project)  # type: ignore[arg-type]
    assert ledger.outbox() == []


def test_an_older_outbox_table_gains_the_project_column_on_open(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as ledger, ledger._store.transaction() as cur:  # as the first release left it
        for statement in (
            "DROP INDEX expo_push_outbox_pending_project",
            "ALTER TABLE expo_push_outbox DROP COLUMN project",
            "ALTER TABLE expo_push_outbox DROP COLUMN in_doubt",
            "DROP INDEX expo_push_dead_tokens_unreported",
            "ALTER TABLE expo_push_dead_tokens DROP COLUMN reported_at",
            "UPDATE expo_push_meta SET value = '1' WHERE name = 'schema_version'",
            "INSERT INTO expo_push_outbox (id, message, recipients, state, enqueued_at, not_before)"
            " VALUES (100, '{\"to\": \"x\"}', 1, 'pending', 0, 0)",
        ):
            cur.execute(statement)
    for _ in range(2):  # opened again: nothing more to add
        with Ledger.open(ledger_url) as ledger:
            pass
    with Ledger.open(ledger_url) as ledger:
        assert ledger.enqueue({"to": token("a"), "body": "x"}, project="@acme/orders") == 1
        claimed = ledger._store.claim(ledger._lease_clock(), "w", 10, after="")
        assert [row.project for row in claimed] == ["@acme/orders"]
        claimed = ledger._store.claim(ledger._lease_clock(), "w", 10, after="@acme/orders")
        assert [(row.id, row.project) for row in claimed] == [(100, None)]  # the old row: unnamed project


def test_projects_beyond_the_fiftieth_take_their_turn(ledger: Ledger) -> None:
    projects = [f"@acme/app-{i:02d}" for i in range(60)]
    for project in projects:
        ledger.enqueue([{"to": token(f"{project}-{n}"), "body": "x"} for n in range(3)], project=project)
    taken: list[str | None] = []
    after = ""
    for _ in range(60):
        claimed = ledger._store.claim(ledger._lease_clock(), "w", 1, after=after)
        after = claimed[0].project or ""
        taken.append(claimed[0].project)
        with ledger._store.transaction() as cur:  # sent: the worker is busy with no project
            ledger._store.finish_sent(cur, 0.0, "w", [claimed[0].id])
    assert sorted(p for p in taken if p is not None) == projects  # each once in 60 claims, none starved


def test_a_resend_after_message_rate_exceeded_keeps_its_project(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Any
) -> None:
    emulator.script_token(token("busy-ticket"), ticket_error="MessageRateExceeded")
    emulator.script_token(token("busy-receipt"), receipt_error="MessageRateExceeded")
    ledger.enqueue({"to": token("busy-ticket"), "body": "x"}, project="@acme/orders")
    ledger.set_project([token("busy-receipt")], "@acme/news")
    ledger.enqueue({"to": token("busy-receipt"), "body": "y"})
    while ledger.drain(client).sent:
        pass
    clock.advance(15 * 60)
    assert ledger.check_receipts(client).resends == 1
    resends = ledger._store.claim(ledger._lease_clock() + 3600, "w", 10, after="")
    resends += ledger._store.claim(ledger._lease_clock() + 3600, "w", 10, after=resends[0].project or "")
    assert sorted((decode(row.message), row.project) for row in resends) == [
        (token("busy-receipt"), "@acme/news"),
        (token("busy-ticket"), "@acme/orders"),
    ]
