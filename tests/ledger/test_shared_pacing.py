"""The shared pacer: one rate budget per project in the ledger's database, for every worker using it."""

from __future__ import annotations

import threading
import time

import pytest

from expo_push.ledger import Ledger, SharedPacer

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
