"""Clocks that disagree or step: the wall clock (what users see) moves nothing that schedules; the schedule
clock (leases, retry delays, the shared pacer) is never compared across workers, and a step of it stalls
nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from expo_push import PushClient, PushMessage, PushTicket, SendAccount
from expo_push.emulator import Emulator
from expo_push.ledger import Ledger, SharedPacer, WorkerRun

from .conftest import Clock, token

SLOT = 100 / 600  # seconds one request of 100 notifications books at 600/s


def test_a_worker_whose_schedule_clock_runs_700_s_ahead_never_takes_a_live_workers_rows(
    ledger_url: str, client: PushClient, emulator: Emulator
) -> None:
    steady = Clock(start=5_000.0)
    with (
        Ledger.open(ledger_url, lease_clock=steady) as live,
        Ledger.open(ledger_url, lease_clock=lambda: steady.now + 700) as ahead,
    ):
        live.enqueue([{"to": token(i)} for i in range(300)], keys=[f"k{i}" for i in range(300)])
        others: list[WorkerRun] = []

        class OtherWorkerLooksMidSend:
            def iter_send(self, messages: list[PushMessage], account: SendAccount) -> Iterator[PushTicket]:
                for position, ticket in enumerate(client.iter_send(messages, account=account)):
                    if position == 100:
                        others.append(ahead.drain(client))
                    yield ticket

        run = live.drain(OtherWorkerLooksMidSend())  # type: ignore[arg-type]

    assert run.sent == 300
    assert (others[0].reclaimed, others[0].sent) == (0, 0)
    assert (emulator.stats.notifications, emulator.stats.duplicates) == (300, 0)


def test_a_wall_clock_given_to_open_moves_only_what_users_see(
    ledger_url: str, client: PushClient, emulator: Emulator
) -> None:
    # As `expo-push receipts --now` opens the ledger: a wall clock 15 minutes ahead.
    emulator.script_token(token("busy"), ticket_error="MessageRateExceeded")
    with Ledger.open(ledger_url, clock=lambda: time.time() + 900, rate_retry_delay=0) as ahead:
        ahead.send(client, {"to": token("busy"), "body": "hi"})
    emulator.script_token(token("busy"))
    with Ledger.open(ledger_url) as ledger:
        backlog = ledger.outbox_backlog()
        assert backlog.pending == 1
        assert backlog.oldest_age is not None
        assert backlog.oldest_age < 60  # ready now, on the schedule clock
        assert ledger.drain(client).sent == 1  # the resend is not stranded 15 minutes ahead
    assert len(emulator.inbox(token("busy"))) == 1  # refused once, then delivered


@pytest.fixture
def schedule() -> Clock:
    """The shared pacer's schedule clock, moved (and stepped) by hand."""
    return Clock(start=10_000.0)


def test_the_schedule_clock_stepped_back_keeps_the_waits_and_stalls_nothing(
    ledger: Ledger, schedule: Clock
) -> None:
    pacer = SharedPacer(ledger._store, 600, clock=schedule)
    assert pacer.reserve(100, "@acme/a") == 0
    assert pacer.reserve(100, "@acme/a") == pytest.approx(SLOT)
    schedule.advance(-40)  # an NTP step, a VM migration
    assert pacer.reserve(100, "@acme/a") == pytest.approx(2 * SLOT)  # the wait in progress, not 40 s more
    pacer.hold(5, "@acme/b")
    schedule.advance(-40)
    assert pacer.held_for("@acme/b") == pytest.approx(5)
    schedule.advance(5)
    assert pacer.held_for("@acme/b") == 0


def test_the_schedule_clock_stepped_forward_frees_at_most_the_wait_in_progress(
    ledger: Ledger, schedule: Clock
) -> None:
    pacer = SharedPacer(ledger._store, 600, clock=schedule)
    for _ in range(5):
        pacer.reserve(100, "@acme/a")
    schedule.advance(700)
    assert pacer.reserve(100, "@acme/a") == 0
    assert pacer.reserve(100, "@acme/a") == pytest.approx(SLOT)  # no burst: the schedule carries on from now


def test_workers_whose_schedule_clocks_disagree_by_700_s_neither_stall_nor_share_a_slot(
    ledger: Ledger, schedule: Clock
) -> None:
    behind = SharedPacer(ledger._store, 600, clock=schedule)
    ahead = SharedPacer(ledger._store, 600, clock=lambda: schedule.now + 700)
    assert ahead.reserve(100, "@acme/a") == 0
    assert behind.reserve(100, "@acme/a") == pytest.approx(SLOT)  # after the slot ahead booked, not 700 s
    assert behind.reserve(100, "@acme/a") == pytest.approx(2 * SLOT)


def test_a_worker_with_a_shorter_lease_judges_a_claim_by_its_owners_lease(
    ledger_url: str, client: PushClient, emulator: Emulator
) -> None:
    steady = Clock(start=5_000.0)
    with (
        Ledger.open(ledger_url, lease_clock=steady, lease=900) as patient,
        Ledger.open(ledger_url, lease_clock=steady, lease=600) as hasty,
    ):
        patient.enqueue([{"to": token(i)} for i in range(3)])
        claimed = patient._store.claim(steady.now, "elsewhere:1:quiet", 10, lease=patient.lease)
        assert len(claimed) == 3
        assert hasty.drain(client).reclaimed == 0  # seen, from now on
        steady.advance(700)  # past the hasty worker's lease, within the claim's own
        assert hasty.drain(client).reclaimed == 0
        steady.advance(200)
        assert hasty.drain(client).reclaimed == 3
    assert emulator.stats.notifications == 3
