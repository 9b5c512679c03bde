"""The shared pacer: one rate budget per project in the ledger's database, for every worker using it."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from expo_push import ValidationError
from expo_push.ledger import Ledger, SharedPacer

from .conftest import token


def decode(message: str) -> object:
    return json.loads(message)["to"]


SLOT = 100 / 600  # seconds one request of 100 notifications books at 600/s
SLACK = 0.05  # the statements themselves take time on a shared machine


def test_two_pacers_on_one_ledger_book_one_schedule(ledger: Ledger) -> None:
    first, second = ledger.shared_pacer(600), ledger.shared_pacer(600)
    assert first.reserve(100, None) == pytest.approx(0.0, abs=SLACK)
    assert second.reserve(100, None) == pytest.approx(SLOT, abs=SLACK)
    assert first.reserve(100, None) == pytest.approx(2 * SLOT, abs=SLACK)


def test_each_project_has_a_budget_of_its_own(ledger: Ledger) -> None:
    pacer = ledger.shared_pacer(600)
    pacer.reserve(600, "@acme/orders")  # a whole second of @acme/orders booked
    assert pacer.reserve(100, "@acme/news") == pytest.approx(0.0, abs=SLACK)
    assert pacer.reserve(100, None) == pytest.approx(0.0, abs=SLACK)
    assert pacer.reserve(100, "@acme/orders") == pytest.approx(1.0, abs=SLACK)


def test_a_hold_seen_by_one_worker_holds_every_worker_of_that_project_only(ledger: Ledger) -> None:
    seen, other = ledger.shared_pacer(600), ledger.shared_pacer(600)
    seen.hold(2.0, "@acme/orders")
    assert other.held_for("@acme/orders") == pytest.approx(2.0, abs=SLACK)
    assert other.reserve(100, "@acme/orders") == pytest.approx(2.0, abs=SLACK)
    assert other.held_for("@acme/news") == 0.0
    assert other.reserve(100, "@acme/news") == pytest.approx(0.0, abs=SLACK)
    seen.hold(0.5, "@acme/orders")  # a shorter hold does not shorten the longer one
    assert other.held_for("@acme/orders") == pytest.approx(2.0, abs=SLACK)


def test_a_refund_gives_the_slot_back_to_every_worker(ledger: Ledger) -> None:
    first, second = ledger.shared_pacer(600), ledger.shared_pacer(600)
    first.reserve(100, None)
    first.reserve(100, None)
    second.refund(100, None)  # the second request was refused whole
    assert first.reserve(100, None) == pytest.approx(SLOT, abs=SLACK)


def test_a_receipts_request_books_nothing_and_waits_only_for_a_hold(ledger: Ledger) -> None:
    pacer = ledger.shared_pacer(600)
    pacer.reserve(600, None)
    assert pacer.reserve(0, None) == 0.0
    pacer.hold(1.0, None)
    assert pacer.reserve(0, None) == pytest.approx(1.0, abs=SLACK)


def test_unpaced_shared_pacer_still_holds(ledger: Ledger) -> None:
    pacer = ledger.shared_pacer(None)
    assert pacer.reserve(10_000, None) == 0.0
    pacer.hold(1.0, None)
    assert pacer.reserve(100, None) == pytest.approx(1.0, abs=SLACK)


def test_concurrent_reservations_never_share_a_slot(ledger: Ledger) -> None:
    pacers = [ledger.shared_pacer(60) for _ in range(4)]
    started = time.monotonic()
    first = pacers[0].reserve(6, "@acme/orders")  # 0.1 s each

    def book(pacer: SharedPacer) -> None:
        for _ in range(25):
            pacer.reserve(6, "@acme/orders")

    threads = [threading.Thread(target=book, args=(p,)) for p in pacers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 101 reservations of 0.1 s: the next one starts 10.1 s after the first, whoever booked each.
    last = pacers[1].reserve(6, "@acme/orders")
    elapsed = time.monotonic() - started
    assert first == pytest.approx(0.0, abs=SLACK)
    assert last + elapsed == pytest.approx(10.1, abs=0.05)


@pytest.mark.parametrize("rate", [0, -1, True])
def test_a_bad_rate_is_refused(ledger: Ledger, rate: float) -> None:
    with pytest.raises(ValueError, match="rate must be a positive number"):
        ledger.shared_pacer(rate)


def test_the_pacer_reconnects_after_the_ledger_closed_its_connections(ledger: Ledger) -> None:
    pacer = ledger.shared_pacer(600)
    pacer.reserve(100, None)
    ledger.close()  # closes the pacer's connection too
    pacer.close()
    assert pacer.reserve(100, None) == pytest.approx(SLOT, abs=SLACK)


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


@pytest.mark.parametrize("project", ["", "  ", 17])
def test_a_bad_project_is_refused_before_anything_is_stored(ledger: Ledger, project: object) -> None:
    with pytest.raises(ValidationError, match="project must be a name"):
        ledger.enqueue({"to": token("a"), "body": "x"}, project=project)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="project must be a name"):
        ledger.set_project(token("a"), project)  # type: ignore[arg-type]
    assert ledger.outbox() == []


def test_an_older_outbox_table_gains_the_project_column_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # the outbox table as the first release created it
        conn.execute(
            "CREATE TABLE expo_push_outbox (id INTEGER PRIMARY KEY, key TEXT UNIQUE, ref TEXT, message TEXT NOT NULL,"
            " recipients INTEGER NOT NULL, state TEXT NOT NULL, enqueued_at DOUBLE PRECISION NOT NULL,"
            " not_before DOUBLE PRECISION NOT NULL, claimed_at DOUBLE PRECISION, claimed_by TEXT,"
            " attempts INTEGER NOT NULL DEFAULT 0, reclaims INTEGER NOT NULL DEFAULT 0,"
            " retries INTEGER NOT NULL DEFAULT 0, last_error TEXT, sent_at DOUBLE PRECISION)"
        )
    with Ledger.open(path) as ledger:
        assert ledger.enqueue({"to": token("a"), "body": "x"}, project="@acme/orders") == 1
        assert [row.project for row in ledger._store.claim(ledger._lease_clock(), "w", 10)] == ["@acme/orders"]
