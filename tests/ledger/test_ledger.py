"""The ledger's behaviour, on both backends, against the emulator."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from expo_push import (
    AsyncPushClient,
    MessagePart,
    Position,
    PushClient,
    PushMessage,
    PushReceipt,
    PushServerError,
    PushTicket,
    SendAccount,
    ValidationError,
)
from expo_push.emulator import Emulator
from expo_push.ledger import DeadToken, Ledger, ReceiptCheck, WorkerRun
from expo_push.ledger._process import boottime, namespace
from expo_push.ledger._receipts import unpack
from expo_push.ledger._rows import Claim

from .conftest import Clock, token

MINUTE = 60.0


def test_send_records_every_ticket_with_key_token_and_time(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    messages = [PushMessage(to=token(1), title="a"), {"to": [token(2), token(3)], "title": "b"}]
    tickets = ledger.send(client, messages, keys=["order-1", "order-2"])

    assert [t.to for t in tickets] == [token(1), token(2), token(3)]
    assert all(t.ok for t in tickets)
    pending = ledger.pending_receipts()
    assert [(p.ticket_id, p.token, p.key) for p in pending] == [
        (t.id, t.to, k) for t, k in zip(tickets, ["order-1", "order-2", "order-2"], strict=True)
    ]
    assert all(p.sent_at == clock.now and p.due_at == clock.now + 15 * MINUTE for p in pending)
    assert ledger.stats().awaiting_receipt == 3


def test_keys_must_match_the_messages(ledger: Ledger, client: PushClient, emulator: Emulator) -> None:
    with pytest.raises(ValidationError, match="keys"):
        ledger.send(client, [{"to": token(1)}], keys=["a", "b"])
    assert emulator.stats.requests == 0


def test_receipts_are_fetched_only_once_due_and_recorded(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    ledger.send(client, [{"to": token(i), "body": "hi"} for i in range(5)])

    clock.advance(14 * MINUTE)
    assert ledger.check_receipts(client).checked == 0
    assert emulator.stats.receipt_requests == 0

    clock.advance(1 * MINUTE)
    summary = ledger.check_receipts(client)
    assert (summary.checked, summary.ok) == (5, 5)
    assert ledger.pending_receipts() == []
    stats = ledger.stats()
    assert (stats.delivered, stats.awaiting_receipt) == (5, 0)
    assert ledger.check_receipts(client).checked == 0  # settled receipts are not asked again


def test_receipt_delay_is_configurable(ledger_url: str, client: PushClient, clock: Clock) -> None:
    with Ledger.open(ledger_url, clock=clock, receipt_delay=30) as short:
        short.send(client, {"to": token(1)})
        clock.advance(30)
        assert short.check_receipts(client).ok == 1


def test_receipts_are_asked_in_requests_of_at_most_1000(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    ledger.send(client, [{"to": token(i)} for i in range(2300)])
    clock.advance(15 * MINUTE)

    summary = ledger.check_receipts(client)

    assert summary.ok == 2300
    assert emulator.stats.receipt_requests == 3


def test_a_receipt_not_ready_is_asked_again_until_the_retention_limit(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    ledger.record(PushTicket(status="ok", id="never-answered", to=token(1)), key="k")
    clock.advance(15 * MINUTE)
    assert ledger.check_receipts(client).waiting == 1
    assert ledger.check_receipts(client).checked == 0  # not due again before recheck_interval

    clock.advance(5 * MINUTE)
    assert ledger.check_receipts(client).waiting == 1
    clock.advance(24 * 60 * MINUTE)
    summary = ledger.check_receipts(client)

    assert (summary.waiting, summary.missing) == (0, 1)
    assert ledger.pending_receipts() == []
    assert ledger.stats().no_receipt == 1


def test_device_not_registered_ticket_marks_the_token_dead_and_it_is_skipped_after(
    ledger_url: str, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    reported: list[DeadToken] = []
    emulator.script_token(token("gone"), ticket_error="DeviceNotRegistered")
    with Ledger.open(ledger_url, clock=clock, on_dead_token=reported.append) as ledger:
        first = ledger.send(client, [{"to": token("gone")}, {"to": token("alive")}])
        assert first[0].error_code == "DeviceNotRegistered"
        assert [d.token for d in reported] == [token("gone")]
        assert reported[0].reason == "DeviceNotRegistered"
        assert reported[0].died_at == clock.now

        sent_before = emulator.stats.ticket_errors + emulator.stats.notifications
        second = ledger.send(client, [{"to": [token("gone"), token("alive")], "title": "again"}])

        assert second[0].error_code == "DeviceNotRegistered"
        assert second[0].details == {
            "error": "DeviceNotRegistered",
            "expoPushToken": token("gone"),
            "skipped": True,
        }
        assert second[1].ok
        assert emulator.stats.ticket_errors + emulator.stats.notifications == sent_before + 1
        assert [d.token for d in ledger.dead_tokens()] == [token("gone")]
        assert len(reported) == 1


def test_dead_tokens_can_be_sent_to_when_skipping_is_off(
    ledger_url: str, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    with Ledger.open(ledger_url, clock=clock, skip_dead_tokens=False) as ledger:
        ledger.record(PushTicket(status="error", details={"error": "DeviceNotRegistered"}, to=token(1)))
        assert [d.token for d in ledger.dead_tokens()] == [token(1)]
        assert ledger.send(client, {"to": token(1)})[0].ok
        assert emulator.stats.notifications == 1


def test_device_not_registered_receipt_marks_the_token_dead_once(
    ledger_url: str, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    reported: list[DeadToken] = []
    emulator.script_token(token("gone"), receipt_error="DeviceNotRegistered")
    with Ledger.open(ledger_url, clock=clock, on_dead_token=reported.append) as ledger:
        tickets = ledger.send(client, [{"to": token("gone"), "title": str(i)} for i in range(3)])
        clock.advance(15 * MINUTE)
        summary = ledger.check_receipts(client)

        assert summary.errors == {"DeviceNotRegistered": 3}
        assert [d.token for d in summary.dead_tokens] == [token("gone")]
        assert [(d.token, d.ticket_id) for d in reported] == [(token("gone"), tickets[0].id)]
        assert ledger.stats().receipt_errors == {"DeviceNotRegistered": 3}


def test_dead_tokens_since_lists_only_later_deaths(ledger: Ledger, clock: Clock) -> None:
    ledger.record(PushTicket(status="error", details={"error": "DeviceNotRegistered"}, to=token("old")))
    clock.advance(MINUTE)
    cutoff = clock.now
    ledger.record(PushTicket(status="error", details={"error": "DeviceNotRegistered"}, to=token("new")))

    assert [d.token for d in ledger.dead_tokens(since=cutoff)] == [token("new")]
    assert [d.token for d in ledger.dead_tokens()] == [token("old"), token("new")]


def test_forget_dead_revives_a_token_and_older_evidence_does_not_kill_it_again(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    emulator.script_token(token(1), receipt_error="DeviceNotRegistered")
    ledger.send(client, [{"to": token(1)}, {"to": token(1), "title": "second"}])
    clock.advance(15 * MINUTE)
    ledger.check_receipts(client)  # both receipts due; the first kills the token
    assert [d.token for d in ledger.dead_tokens()] == [token(1)]

    assert ledger.forget_dead(token(1)) is True
    assert ledger.forget_dead(token(1)) is False
    assert ledger.dead_tokens() == []
    ledger.record(PushTicket(status="ok", id="late", to=token(1)), sent_at=clock.now - 20 * MINUTE)
    emulator.script_token(token(1))
    assert ledger.send(client, {"to": token(1)})[0].ok  # sent again

    clock.advance(MINUTE)
    ledger.record(
        PushTicket(status="error", details={"error": "DeviceNotRegistered"}, to=token(1)),
        sent_at=clock.now - 10 * MINUTE,
    )  # evidence from before the revival
    assert ledger.dead_tokens() == []
    ledger.record(PushTicket(status="error", details={"error": "DeviceNotRegistered"}, to=token(1)))
    assert [d.token for d in ledger.dead_tokens()] == [token(1)]


def test_message_rate_exceeded_is_resent_later_with_bounded_backoff(
    ledger_url: str, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    emulator.script_token(token("busy"), receipt_error="MessageRateExceeded")
    with Ledger.open(ledger_url, clock=clock, lease_clock=clock, max_rate_retries=2, rate_retry_delay=60) as ledger:
        ledger.send(client, {"to": token("busy"), "title": "hello"}, keys=["greeting"])
        delays = []
        for _ in range(3):
            clock.advance(15 * MINUTE)
            summary = ledger.check_receipts(client)
            assert summary.errors == {"MessageRateExceeded": 1}
            waited = 0.0
            while ledger.drain(client).sent == 0 and waited < 10 * MINUTE:
                clock.advance(30)
                waited += 30
            delays.append(waited if summary.resends else None)

        assert delays[:2] == [60.0, 120.0]  # doubling
        assert delays[2] is None  # max_rate_retries reached: no third resend
        inbox = emulator.inbox(token("busy"))
        assert [d.message["title"] for d in inbox] == ["hello"] * 3
        keys = {p.key for p in ledger.pending_receipts()} | {"greeting"}
        assert keys == {"greeting"}


def test_config_errors_are_reported_once_per_code(
    ledger_url: str, client: PushClient, emulator: Emulator, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[str, str | None]] = []
    emulator.script_token([token(f"c{i}") for i in range(4)], receipt_error="InvalidCredentials")
    emulator.script_token([token(f"m{i}") for i in range(3)], receipt_error="MismatchSenderId")
    with Ledger.open(ledger_url, clock=clock, on_config_error=lambda code, msg: seen.append((code, msg))) as ledger:
        ledger.send(client, [{"to": token(f"c{i}")} for i in range(4)] + [{"to": token(f"m{i}")} for i in range(3)])
        clock.advance(15 * MINUTE)
        with caplog.at_level(logging.ERROR, logger="expo_push.ledger"):
            summary = ledger.check_receipts(client)
            ledger.send(client, {"to": token("c0")})
            clock.advance(15 * MINUTE)
            ledger.check_receipts(client)

    assert summary.errors == {"InvalidCredentials": 4, "MismatchSenderId": 3}
    assert sorted(code for code, _ in seen) == ["InvalidCredentials", "MismatchSenderId"]
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2


def test_record_takes_tickets_of_a_send_made_elsewhere(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    tickets = client.send([{"to": token(1)}, {"to": token(2)}])
    assert ledger.record(tickets, keys=["a", "b"]) == 2
    with pytest.raises(ValidationError, match="recipient"):
        ledger.record(PushTicket(status="ok", id="x"))
    clock.advance(15 * MINUTE)
    assert ledger.check_receipts(client).ok == 2


async def test_check_receipts_async(ledger: Ledger, emulator: Emulator, clock: Clock) -> None:
    async with AsyncPushClient(base_url=emulator.url, rate_limit=None, http2=False) as client:
        tickets = await client.send([{"to": token(i)} for i in range(3)])
        ledger.record(tickets)
        clock.advance(15 * MINUTE)
        summary = await ledger.check_receipts_async(client)
    assert summary.ok == 3
    assert ledger.stats().delivered == 3


def test_watch_receipts_checks_until_stopped(ledger: Ledger, client: PushClient, emulator: Emulator) -> None:
    stop = threading.Event()
    checks: list[ReceiptCheck] = []

    def counting(summary: ReceiptCheck) -> None:
        checks.append(summary)
        if len(checks) == 3:
            stop.set()

    ledger.watch_receipts(client, stop, interval=0.001, on_check=counting)
    assert len(checks) == 3


def test_stats_count_by_status_and_error_code_over_a_time_range(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    emulator.script_token(token("dead"), ticket_error="DeviceNotRegistered")
    emulator.script_token(token("big"), receipt_error="MessageTooBig")
    ledger.send(client, [{"to": token("dead")}, {"to": token("big")}, {"to": token("ok")}])
    clock.advance(15 * MINUTE)
    ledger.check_receipts(client)
    middle = clock.now
    ledger.send(client, {"to": token("later")})

    everything = ledger.stats()
    assert everything.tickets == 4
    assert everything.accepted == 3
    assert everything.ticket_errors == {"DeviceNotRegistered": 1}
    assert everything.receipt_errors == {"MessageTooBig": 1}
    assert (everything.delivered, everything.awaiting_receipt, everything.dead_tokens) == (1, 1, 1)
    assert ledger.stats(since=middle).tickets == 1
    assert ledger.stats(until=middle).tickets == 3


# -- outbox -------------------------------------------------------------------------------------------


def test_enqueue_returns_at_once_and_drain_sends_and_records(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    assert (
        ledger.enqueue([{"to": token(i), "data": {"n": i}} for i in range(250)], keys=[f"k{i}" for i in range(250)])
        == 250
    )
    assert emulator.stats.requests == 0

    run = ledger.drain(client, batch_size=100)

    assert (run.batches, run.sent) == (3, 250)
    assert emulator.stats.notifications == 250
    assert {p.key for p in ledger.pending_receipts()} == {f"k{i}" for i in range(250)}
    assert ledger.stats().outbox == {"sent": 250, "resent": 0, "in_doubt": 0}


def test_the_same_idempotency_key_is_sent_once(ledger: Ledger, client: PushClient, emulator: Emulator) -> None:
    assert ledger.enqueue({"to": token(1), "title": "once"}, keys=["same"]) == 1
    assert ledger.enqueue({"to": token(1), "title": "once"}, keys=["same"]) == 0
    ledger.drain(client)
    assert ledger.enqueue({"to": token(1), "title": "once"}, keys=["same"]) == 0
    ledger.drain(client)
    assert len(emulator.inbox(token(1))) == 1


def test_enqueue_validates_everything_before_storing_anything(ledger: Ledger) -> None:
    with pytest.raises(ValidationError, match="message 1"):
        ledger.enqueue([{"to": token(1)}, {"to": "not-a-token"}])
    assert ledger.outbox() == []


def test_the_outbox_skips_dead_tokens(ledger: Ledger, client: PushClient, emulator: Emulator) -> None:
    ledger.record(PushTicket(status="error", details={"error": "DeviceNotRegistered"}, to=token("dead")))
    ledger.enqueue([{"to": token("dead")}, {"to": [token("dead"), token("alive")]}], keys=["a", "b"])

    run = ledger.drain(client)

    assert (run.sent, run.skipped) == (1, 2)
    assert emulator.tokens() == [token("alive")]
    assert ledger.outbox() == [("a", "skipped"), ("b", "sent")]


def test_a_failed_send_leaves_the_notifications_to_try_again(ledger: Ledger, emulator: Emulator, clock: Clock) -> None:
    ledger.enqueue([{"to": token(i)} for i in range(5)])
    emulator.add_fault("server_error", status=500, count=10)
    with PushClient(base_url=emulator.url, rate_limit=None, max_retries=0, http2=False) as client:
        run = ledger.drain(client)
        assert run.failed_batches == 1
        assert run.sent == 0
        assert {state for _, state in ledger.outbox()} == {"pending"}
        emulator.clear_faults()
        assert ledger.drain(client).sent == 0  # backing off
        clock.advance(MINUTE)
        assert ledger.drain(client).sent == 5


def test_run_worker_sends_until_stopped(ledger: Ledger, client: PushClient, emulator: Emulator) -> None:
    stop = threading.Event()
    enough = threading.Event()

    def on_batch(run: WorkerRun) -> None:
        if run.sent >= 300:
            enough.set()

    results: list[WorkerRun] = []
    worker = threading.Thread(
        target=lambda: results.append(
            ledger.run_worker(client, stop, batch_size=50, poll_interval=0.01, on_batch=on_batch)
        )
    )
    worker.start()
    ledger.enqueue([{"to": token(i)} for i in range(300)])
    assert enough.wait(30)
    stop.set()
    worker.join(30)
    assert not worker.is_alive()

    assert results[0].sent == 300
    assert emulator.stats.notifications == 300


def test_workers_side_by_side_never_send_the_same_notification(
    ledger_url: str, emulator: Emulator, clock: Clock
) -> None:
    emulator.latency = 0.005
    with Ledger.open(ledger_url, clock=clock) as ledger:
        ledger.enqueue([{"to": token(i), "data": {"n": i}} for i in range(1200)])
    runs: list[WorkerRun] = []
    errors: list[BaseException] = []
    all_claimed = threading.Barrier(3, timeout=30)  # each worker holds a batch before any sends

    class FirstBatchTogether:
        def __init__(self, client: PushClient) -> None:
            self.client = client
            self.waited = False

        def iter_send(self, messages: list[PushMessage], account: SendAccount) -> Iterator[PushTicket]:
            if not self.waited:
                self.waited = True
                all_claimed.wait()
            return self.client.iter_send(messages, account=account)

    def work() -> None:
        try:
            with (
                Ledger.open(ledger_url, clock=clock) as own,
                PushClient(base_url=emulator.url, rate_limit=None, http2=False) as client,
            ):
                runs.append(own.drain(FirstBatchTogether(client), batch_size=100))  # type: ignore[arg-type]
        except BaseException as exc:
            errors.append(exc)
            all_claimed.abort()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()

    assert errors == []
    assert sum(r.sent for r in runs) == 1200
    assert [r.batches > 0 for r in runs] == [True] * 3  # every worker got a batch of its own
    assert emulator.stats.notifications == 1200
    assert emulator.stats.duplicates == 0


def test_rows_of_a_silent_worker_are_taken_back_after_the_lease(
    ledger_url: str, quick_client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    client = quick_client
    with Ledger.open(ledger_url, clock=clock, lease_clock=clock, lease=120) as ledger:
        ledger.enqueue([{"to": token(i)} for i in range(3)])
        ledger._store.claim(clock.now, "elsewhere:1:gone", 10)  # a worker on another machine went quiet
        assert ledger.drain(client).sent == 0
        clock.advance(121)
        run = ledger.drain(client)
        assert (run.reclaimed, run.sent) == (3, 3)
        assert ledger.stats().outbox["resent"] == 3


def test_a_newer_schema_is_refused(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as ledger, ledger._store.transaction() as cur:
        cur.execute(ledger._store.q("UPDATE expo_push_meta SET value = ? WHERE name = ?"), ("99", "schema_version"))
    with pytest.raises(RuntimeError, match="schema version 99"):
        Ledger.open(ledger_url)


def test_repr_shows_the_backend_without_credentials(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as ledger:
        assert repr(ledger).startswith("<Ledger ")
        assert "@" not in repr(ledger)


def _failing_client(emulator: Emulator) -> PushClient:
    """A client whose first request of a send stalls and times out, while the second is accepted."""
    emulator.add_fault("stall")
    return PushClient(
        base_url=emulator.url, rate_limit=None, max_retries=0, http2=False, timeout=httpx.Timeout(10, read=0.5)
    )


def test_a_send_that_fails_part_way_records_what_was_accepted(ledger: Ledger, emulator: Emulator, clock: Clock) -> None:
    messages = [{"to": token(i), "data": {"n": i}} for i in range(150)]  # two requests: one fails
    with _failing_client(emulator) as client, pytest.raises(PushServerError) as failure:
        ledger.send(client, messages, keys=[f"k{i}" for i in range(150)])

    accepted = failure.value.tickets
    assert len(accepted) in (50, 100)
    assert emulator.stats.notifications == len(accepted)
    key_of = {token(i): f"k{i}" for i in range(150)}
    recorded = {(p.ticket_id, p.token, p.key) for p in ledger.pending_receipts()}
    assert recorded == {(t.id, t.to, key_of[t.to or ""]) for t in accepted}


def test_the_outbox_keeps_what_a_failed_request_accepted_and_resends_only_the_rest(
    ledger: Ledger, emulator: Emulator, clock: Clock
) -> None:
    ledger.enqueue([{"to": token(i), "data": {"n": i}} for i in range(150)], keys=[f"k{i}" for i in range(150)])
    with _failing_client(emulator) as client:
        first = ledger.drain(client)
        assert first.failed_batches == 1
        assert first.sent in (50, 100)
        clock.advance(MINUTE)
        second = ledger.drain(client)

    assert first.sent + second.sent == 150
    assert emulator.stats.notifications == 150
    assert emulator.stats.duplicates == 0
    assert {p.key for p in ledger.pending_receipts()} == {f"k{i}" for i in range(150)}


async def test_watch_receipts_async_checks_until_stopped(ledger: Ledger, emulator: Emulator, clock: Clock) -> None:
    stop = asyncio.Event()
    checks: list[ReceiptCheck] = []

    def counting(summary: ReceiptCheck) -> None:
        checks.append(summary)
        if len(checks) == 2:
            stop.set()

    async with AsyncPushClient(base_url=emulator.url, rate_limit=None, http2=False) as client:
        ledger.record(await client.send({"to": token(1)}))
        clock.advance(15 * MINUTE)
        await asyncio.wait_for(ledger.watch_receipts_async(client, stop, interval=0.01, on_check=counting), 10)
    assert [c.ok for c in checks] == [1, 0]
    assert ledger.pending_receipts() == []


def test_message_rate_exceeded_for_a_ticket_recorded_without_its_message_is_only_logged(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.script_token(token("busy"), receipt_error="MessageRateExceeded")
    ledger.record(client.send({"to": token("busy")}))
    clock.advance(15 * MINUTE)
    with caplog.at_level(logging.WARNING, logger="expo_push.ledger"):
        summary = ledger.check_receipts(client)
    assert summary.errors == {"MessageRateExceeded": 1}
    assert summary.resends == 0
    assert ledger.outbox() == []
    assert "cannot resend" in caplog.text


def test_an_in_memory_sqlite_ledger_is_refused() -> None:
    with pytest.raises(ValueError, match="path of a SQLite file"):
        Ledger.open(":memory:")


def test_purge_deletes_settled_tickets_and_sent_outbox_rows_older_than_asked(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    ledger.enqueue([{"to": token(1)}, {"to": token(2)}], keys=["a", "b"])
    ledger.drain(client)
    clock.advance(15 * MINUTE)
    ledger.check_receipts(client)  # both settled
    ledger.send(client, {"to": token(3)})  # still waiting for its receipt
    ledger.enqueue({"to": token(4)}, keys=["c"])  # not sent yet

    clock.advance(DAY := 24 * 60 * MINUTE)
    assert ledger.purge(older_than=2 * DAY) == (0, 0)
    assert ledger.purge(older_than=DAY / 2) == (2, 2)

    assert ledger.stats().tickets == 1
    assert ledger.outbox() == [("c", "pending")]
    assert ledger.enqueue({"to": token(1)}, keys=["a"]) == 1  # its key was purged with it


def test_a_postgres_connection_dropped_by_the_server_is_replaced(
    postgres_url: str, client: PushClient, emulator: Emulator
) -> None:
    import psycopg

    with Ledger.open(postgres_url) as ledger:
        ledger.send(client, {"to": token(1)})
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                " AND datname = current_database() AND backend_type = 'client backend'"
            )
        assert ledger.send(client, {"to": token(2)})[0].ok
        assert ledger.stats().tickets == 2


async def test_send_async_records_and_skips_dead_tokens(ledger: Ledger, emulator: Emulator, clock: Clock) -> None:
    ledger.record(PushTicket(status="error", details={"error": "DeviceNotRegistered"}, to=token("dead")))
    async with AsyncPushClient(base_url=emulator.url, rate_limit=None, http2=False) as client:
        tickets = await ledger.send_async(client, [{"to": token("dead")}, {"to": token(1)}], keys=["a", "b"])
        assert [t.ok for t in tickets] == [False, True]
        assert tickets[0].details == {"error": "DeviceNotRegistered", "expoPushToken": token("dead"), "skipped": True}
        clock.advance(15 * MINUTE)
        assert (await ledger.check_receipts_async(client)).ok == 1
    assert emulator.tokens() == [token(1)]
    assert ledger.stats().delivered == 1


def test_a_row_to_many_recipients_sent_in_part_keeps_its_tickets_and_resends_only_the_rest(
    ledger: Ledger, emulator: Emulator, clock: Clock
) -> None:
    ledger.enqueue({"to": [token(i) for i in range(150)], "title": "big"}, keys=["big"])  # two requests
    emulator.add_fault("server_error", after=1)  # the second request fails
    with PushClient(base_url=emulator.url, rate_limit=None, max_retries=0, http2=False) as client:
        first = ledger.drain(client)
        assert first.failed_batches == 1
        assert first.sent == emulator.stats.notifications
        assert first.sent in (50, 100)
        assert len(ledger.pending_receipts()) == first.sent
        assert ledger.outbox() == [("big", "pending")]
        clock.advance(MINUTE)
        second = ledger.drain(client)

    assert first.sent + second.sent == 150
    assert emulator.stats.notifications == 150
    assert emulator.stats.duplicates == 0
    assert sorted(p.token for p in ledger.pending_receipts()) == sorted(token(i) for i in range(150))
    assert {p.key for p in ledger.pending_receipts()} == {"big"}
    assert ledger.outbox() == [("big", "sent")]


def _a_pid_that_is_gone() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    assert process.wait(30) == 0
    return process.pid


def test_rows_of_a_dead_worker_process_in_this_pid_namespace_are_taken_back_at_once(
    ledger: Ledger, client: PushClient, emulator: Emulator
) -> None:
    ledger.enqueue([{"to": token(i)} for i in range(3)])
    gone = f"{socket.gethostname()}:{_a_pid_that_is_gone()}:{namespace()}:0"
    ledger._store.claim(ledger._clock(), gone, 10)
    run = ledger.drain(client)
    assert (run.reclaimed, run.sent) == (3, 3)


def test_a_worker_in_another_pid_namespace_of_the_same_host_keeps_its_rows_until_the_lease(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    # A container sharing the host's network has the host's name, but its own pids: a pid not
    # running here says nothing about it.
    ledger.enqueue([{"to": token(i)} for i in range(3)])
    elsewhere = f"{socket.gethostname()}:{_a_pid_that_is_gone()}:pid4026532999.another-boot:0"
    ledger._store.claim(clock.now, elsewhere, 10)
    assert ledger.drain(client).sent == 0
    assert emulator.stats.notifications == 0
    clock.advance(ledger.lease)
    run = ledger.drain(client)
    assert (run.reclaimed, run.sent) == (3, 3)


def test_a_live_worker_slower_than_the_lease_keeps_its_rows(
    ledger_url: str, quick_client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    client = quick_client
    lease = 100.0
    with (
        Ledger.open(ledger_url, clock=clock, lease=lease) as slow,
        Ledger.open(ledger_url, clock=clock, lease=lease) as other,
    ):
        slow.enqueue([{"to": token(i)} for i in range(300)], keys=[f"k{i}" for i in range(300)])
        others: list[WorkerRun] = []

        class SlowClient:
            """Tickets come back over more than the lease: another worker looks in meanwhile."""

            def iter_send(self, messages: list[PushMessage], account: SendAccount) -> Iterator[PushTicket]:
                for position, ticket in enumerate(client.iter_send(messages, account=account)):
                    if position in (100, 250):
                        clock.advance(0.6 * lease)
                    if position == 250:  # 1.2 leases since the claim
                        others.append(other.drain(client))
                    yield ticket

        run = slow.drain(SlowClient())  # type: ignore[arg-type]

    assert run.sent == 300
    assert (others[0].reclaimed, others[0].sent) == (0, 0)
    assert emulator.stats.notifications == 300
    assert emulator.stats.duplicates == 0


def test_a_row_claimed_afresh_while_another_worker_reclaims_stays_with_its_new_owner(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ledger._store
    ledger.enqueue([{"to": token(i)} for i in range(3)])
    store.claim(clock.now, "elsewhere:1:ns:silent", 10)
    assert ledger.drain(client).reclaimed == 0  # the claims are seen, from now on
    clock.advance(ledger.lease + 1)
    read_sending = store.sending

    def sending_then_claimed_afresh() -> list[Claim]:
        rows = read_sending()  # the reclaiming worker has read the expired claims...
        store.release([r[0] for r in rows], "elsewhere:1:ns:silent", clock.now, "gave up")  # ...they come back
        assert len(store.claim(clock.now, "elsewhere:2:ns:live", 10)) == 3  # ...and a live worker claims them
        return rows

    monkeypatch.setattr(store, "sending", sending_then_claimed_afresh)
    run = ledger.drain(client)

    assert (run.reclaimed, run.sent) == (0, 0)
    monkeypatch.undo()
    assert {claim.worker for claim in store.sending()} == {"elsewhere:2:ns:live"}
    assert emulator.stats.notifications == 0


class _ReceiptsClient:
    """A client whose receipts request first lets ``meanwhile`` run (another checker), then answers ``answer``."""

    def __init__(self, answer: Callable[[list[str]], dict[str, PushReceipt]], meanwhile: Callable[[], None]) -> None:
        self.answer = answer
        self.meanwhile = meanwhile

    def get_receipts(self, ids: list[str]) -> dict[str, PushReceipt]:
        self.meanwhile()
        return self.answer(list(ids))


def test_receipt_checks_side_by_side_split_the_receipts_and_count_each_once(
    ledger_url: str, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    with Ledger.open(ledger_url, clock=clock) as first, Ledger.open(ledger_url, clock=clock) as second:
        first.send(client, [{"to": token(i)} for i in range(30)])
        clock.advance(15 * MINUTE)
        summaries: list[ReceiptCheck] = []
        checker = _ReceiptsClient(client.get_receipts, lambda: summaries.append(second.check_receipts(client)))

        summaries.append(first.check_receipts(checker))  # type: ignore[arg-type]

        assert summaries[0].checked == 0  # the second check found the first one's receipts claimed
        assert summaries[1].ok == 30
        assert first.stats().delivered == 30
        assert first.pending_receipts() == []


def test_a_receipt_settled_by_another_check_is_not_put_back_to_pending(ledger_url: str, clock: Clock) -> None:
    with Ledger.open(ledger_url, clock=clock) as slow, Ledger.open(ledger_url, clock=clock) as other:
        slow.record(PushTicket(status="ok", id="t-1", to=token(1)))
        clock.advance(15 * MINUTE)
        ready = {"t-1": PushReceipt(status="ok", id="t-1")}

        def other_check_settles_it() -> None:
            clock.advance(slow.recheck_interval)  # the slow check's claim ran out: another check takes it
            assert other.check_receipts(_ReceiptsClient(lambda ids: ready, lambda: None)).ok == 1  # type: ignore[arg-type]

        waiting = slow.check_receipts(_ReceiptsClient(lambda ids: {}, other_check_settles_it))  # type: ignore[arg-type]

        assert waiting.waiting == 1  # the slow check had no receipt yet...
        assert slow.pending_receipts() == []  # ...but does not undo the other check's answer
        assert slow.stats().delivered == 1


def test_a_dict_message_resent_after_message_rate_exceeded_keeps_every_field(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    message = {"to": token("busy"), "title": "hi", "channelId": "orders", "futureField": {"x": 1}}
    emulator.script_token(token("busy"), ticket_error="MessageRateExceeded")
    assert ledger.send(client, message)[0].error_code == "MessageRateExceeded"
    emulator.script_token(token("busy"))
    clock.advance(ledger.rate_retry_delay)

    assert ledger.drain(client).sent == 1
    assert emulator.messages(token("busy")) == [message]


def test_pending_receipts_reads_one_snapshot_while_a_check_moves_tickets(
    ledger_url: str, client: PushClient, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Ledger.open(ledger_url, clock=clock) as reader, Ledger.open(ledger_url, clock=clock) as checker:
        reader.send(client, [{"to": token(i)} for i in range(10)])
        clock.advance(15 * MINUTE)
        store = reader._store
        transaction = store.transaction
        moved: list[int] = []

        @contextmanager
        def check_begins_after_the_first_read(write: bool = True) -> Iterator[Any]:
            with transaction(write) as cur:

                class Cursor:
                    def __getattr__(self, name: str) -> Any:
                        return getattr(cur, name)

                    def fetchall(self) -> list[Any]:
                        rows = cur.fetchall()
                        if not moved:  # another process's check unpacks the queue between two reads
                            moved.append(checker._store.unpack_due(clock.now, 5, unpack))
                        return rows

                yield Cursor()

        monkeypatch.setattr(store, "transaction", check_begins_after_the_first_read)
        assert len(reader.pending_receipts()) == 10
        assert moved
        assert moved[0] > 0
        monkeypatch.undo()
        assert len(reader.pending_receipts()) == 10


def test_an_ok_ticket_without_an_id_has_no_receipt_to_wait_for(ledger: Ledger, clock: Clock) -> None:
    ledger.record(PushTicket(status="ok", to=token(1)))
    stats = ledger.stats()
    assert (stats.accepted, stats.awaiting_receipt) == (1, 0)
    assert ledger.pending_receipts() == []


def test_a_sqlite_commit_that_fails_leaves_the_connection_usable(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Ledger.open(tmp_path / "push.db", clock=clock) as ledger:
        store = ledger._store
        failures = [sqlite3.OperationalError("disk I/O error")]
        lent: list[Any] = []

        class FailingCommit:
            def __init__(self, conn: sqlite3.Connection) -> None:
                self.conn = conn
                lent.append(self)

            def __getattr__(self, name: str) -> Any:
                return getattr(self.conn, name)

            def commit(self) -> None:
                if failures:
                    raise failures.pop()
                self.conn.commit()

        store.pool.discard_idle()
        monkeypatch.setattr(store.pool, "_connect", lambda: FailingCommit(store._connect()))
        with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
            ledger.enqueue({"to": token(1)}, keys=["lost"])

        assert ledger.enqueue({"to": token(2)}, keys=["kept"]) == 1
        assert ledger.outbox() == [("kept", "pending")]
        assert len(lent) == 1  # the connection whose commit failed was lent again


# -- callbacks that raise ------------------------------------------------------------------------------


class _Flaky:
    """A callback that raises the first ``failures`` times, then records what it was called with."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[Any] = []
        self.returned: list[Any] = []

    def __call__(self, *args: Any) -> None:
        value = args[0] if len(args) == 1 else args
        self.calls.append(value)
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("the application's callback failed")
        self.returned.append(value)


def test_a_raising_dead_token_callback_in_the_outbox_loses_nothing_and_sends_nothing_twice(
    ledger_url: str, client: PushClient, emulator: Emulator, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.script_token(token(7), ticket_error="DeviceNotRegistered")
    callback = _Flaky(failures=10)
    with Ledger.open(ledger_url, clock=clock, on_dead_token=callback) as ledger:
        ledger.enqueue([{"to": token(i), "data": {"n": i}} for i in range(200)], keys=[f"k{i}" for i in range(200)])
        with caplog.at_level(logging.ERROR, logger="expo_push.ledger"):
            first = ledger.drain(client, batch_size=200)
        clock.advance(3600)
        second = ledger.drain(client, batch_size=200)

        assert (first.sent, first.failed_batches) == (200, 0)
        assert second.sent == 0
        assert {state for _, state in ledger.outbox()} == {"sent"}
        assert emulator.stats.notifications + emulator.stats.ticket_errors == 200
        assert emulator.stats.duplicates == 0
        assert len(ledger.pending_receipts()) == 199
        assert [d.token for d in ledger.dead_tokens()] == [token(7)]
        death = DeadToken(token(7), clock.now - 3600, "DeviceNotRegistered", callback.calls[0].message)
        assert callback.calls == [death, death]  # raised, and called again by the next drain
        assert "on_dead_token raised" in caplog.text


def test_a_dead_token_stays_to_report_until_its_callback_returned(
    ledger_url: str, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    emulator.script_token([token("gone-1"), token("gone-2")], ticket_error="DeviceNotRegistered")
    callback = _Flaky(failures=1)
    with Ledger.open(ledger_url, clock=clock, on_dead_token=callback) as ledger:
        tickets = ledger.send(client, [{"to": token("gone-1")}, {"to": token("gone-2")}, {"to": token("ok")}])

        assert [t.error_code for t in tickets] == ["DeviceNotRegistered", "DeviceNotRegistered", None]
        assert [d.token for d in callback.calls] == [token("gone-1"), token("gone-2")]  # the second is not lost
        assert [d.token for d in callback.returned] == [token("gone-2")]

        ledger.send(client, {"to": token("later")})  # the next recording reports what is left
        assert [d.token for d in callback.returned] == [token("gone-2"), token("gone-1")]
        ledger.send(client, {"to": token("later")})
        assert len(callback.calls) == 3  # reported once its callback returned: not again


def test_a_death_left_to_report_by_a_ledger_that_closed_is_reported_by_the_next(
    ledger_url: str, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    emulator.script_token(token("gone"), ticket_error="DeviceNotRegistered")
    with Ledger.open(ledger_url, clock=clock, on_dead_token=_Flaky(failures=1)) as first:
        first.send(client, {"to": token("gone")})
    later = _Flaky(failures=0)
    with Ledger.open(ledger_url, clock=clock, on_dead_token=later) as second:
        clock.advance(15 * MINUTE)
        second.check_receipts(client)
    assert [d.token for d in later.returned] == [token("gone")]


async def test_send_async_returns_the_tickets_when_a_callback_raises(
    ledger_url: str, emulator: Emulator, clock: Clock
) -> None:
    emulator.script_token(token("gone"), ticket_error="DeviceNotRegistered")
    callback = _Flaky(failures=5)
    with Ledger.open(ledger_url, clock=clock, on_dead_token=callback) as ledger:
        async with AsyncPushClient(base_url=emulator.url, rate_limit=None, http2=False) as client:
            tickets = await ledger.send_async(client, [{"to": token("gone")}, {"to": token(1)}], keys=["a", "b"])
        assert [t.ok for t in tickets] == [False, True]
        assert [p.key for p in ledger.pending_receipts()] == ["b"]
        assert [d.token for d in callback.calls] == [token("gone")]


def test_a_raising_config_error_callback_is_called_again_later_and_logged_once(
    ledger_url: str, client: PushClient, emulator: Emulator, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.script_token(token("c"), receipt_error="InvalidCredentials")
    callback = _Flaky(failures=1)
    with Ledger.open(ledger_url, clock=clock, on_config_error=callback) as ledger:
        ledger.send(client, [{"to": token("c")}, {"to": token(1)}])
        clock.advance(15 * MINUTE)
        with caplog.at_level(logging.ERROR, logger="expo_push.ledger"):
            summary = ledger.check_receipts(client)
            assert (summary.ok, summary.errors) == (1, {"InvalidCredentials": 1})
            assert ledger.stats().delivered == 1  # the raising callback undid nothing
            ledger.send(client, {"to": token(2)})  # a later report calls it again
            ledger.send(client, {"to": token(3)})

    assert [code for code, _ in callback.calls] == ["InvalidCredentials", "InvalidCredentials"]
    assert len(callback.returned) == 1
    assert len([r for r in caplog.records if "credentials need fixing" in r.getMessage()]) == 1


def test_release_never_moves_a_row_marked_sent_back_to_pending(ledger: Ledger, clock: Clock) -> None:
    store = ledger._store
    ledger.enqueue([{"to": token(1)}, {"to": token(2)}], keys=["sent", "unsent"])
    claimed = store.claim(clock.now, "worker", 10)
    with store.transaction() as cur:
        store.finish_sent(cur, clock.now, "worker", [claimed[0].id])

    store.release([row.id for row in claimed], "worker", clock.now, "stopped")

    assert ledger.outbox() == [("sent", "sent"), ("unsent", "pending")]


def test_a_database_of_schema_version_1_is_brought_to_the_current_one(ledger_url: str, clock: Clock) -> None:
    with Ledger.open(ledger_url, clock=clock) as ledger:
        ledger.record(PushTicket(status="error", details={"error": "DeviceNotRegistered"}, to=token("old")))
        ledger.enqueue({"to": token(1)}, keys=["a"])
        with ledger._store.transaction() as cur:  # as version 1 left it
            cur.execute("DROP INDEX expo_push_dead_tokens_unreported")
            cur.execute("ALTER TABLE expo_push_dead_tokens DROP COLUMN reported_at")
            cur.execute("ALTER TABLE expo_push_outbox DROP COLUMN in_doubt")
            cur.execute("UPDATE expo_push_meta SET value = '1' WHERE name = 'schema_version'")
    reported = _Flaky(failures=0)
    with Ledger.open(ledger_url, clock=clock, on_dead_token=reported) as ledger:
        ledger.record(PushTicket(status="ok", id="x", to=token(2)))
        assert reported.calls == []  # deaths before the upgrade count as reported
        assert [d.token for d in ledger.dead_tokens()] == [token("old")]
        assert ledger.outbox() == [("a", "pending")]


# -- clocks ---------------------------------------------------------------------------------------------


def test_the_wall_clock_set_back_an_hour_does_not_hold_the_outbox(
    ledger_url: str, client: PushClient, emulator: Emulator
) -> None:
    wall, steady = Clock(), Clock(start=5_000.0)
    with Ledger.open(ledger_url, clock=wall, lease_clock=steady) as ledger:
        ledger.enqueue([{"to": token(i)} for i in range(10)], keys=[f"k{i}" for i in range(10)])
        wall.advance(-3600)
        assert ledger.drain(client).sent == 10

        ledger.enqueue([{"to": token(i)} for i in range(10, 15)])
        emulator.add_fault("server_error", status=500, count=10)
        with PushClient(base_url=emulator.url, rate_limit=None, max_retries=0, http2=False) as failing:
            assert ledger.drain(failing).failed_batches == 1
        emulator.clear_faults()
        wall.advance(-3600)
        steady.advance(MINUTE)  # the retry delay passes on the lease clock, whatever the wall clock says
        assert ledger.drain(client).sent == 5
    assert emulator.stats.notifications == 15


def test_the_wall_clock_set_forward_does_not_take_rows_from_a_live_worker(
    ledger_url: str, client: PushClient, emulator: Emulator
) -> None:
    wall, steady = Clock(), Clock(start=5_000.0)
    with (
        Ledger.open(ledger_url, clock=wall, lease_clock=steady) as live,
        Ledger.open(ledger_url, clock=wall, lease_clock=steady) as other,
    ):
        live.enqueue([{"to": token(i)} for i in range(300)], keys=[f"k{i}" for i in range(300)])
        others: list[WorkerRun] = []

        class ClockSetForwardMidSend:
            def iter_send(self, messages: list[PushMessage], account: SendAccount) -> Iterator[PushTicket]:
                for position, ticket in enumerate(client.iter_send(messages, account=account)):
                    if position == 100:
                        wall.advance(700)  # beyond the 600 s lease
                        others.append(other.drain(client))
                    yield ticket

        run = live.drain(ClockSetForwardMidSend())  # type: ignore[arg-type]

    assert run.sent == 300
    assert (others[0].reclaimed, others[0].sent) == (0, 0)
    assert emulator.stats.notifications == 300
    assert emulator.stats.duplicates == 0


def test_a_silent_workers_lease_runs_out_on_the_lease_clock_whatever_the_wall_clock_does(
    ledger_url: str, quick_client: PushClient, emulator: Emulator
) -> None:
    client = quick_client
    wall, steady = Clock(), Clock(start=5_000.0)
    with Ledger.open(ledger_url, clock=wall, lease_clock=steady, lease=120) as ledger:
        ledger.enqueue([{"to": token(i)} for i in range(3)])
        ledger._store.claim(steady.now, "elsewhere:1:gone", 10)
        assert ledger.drain(client).reclaimed == 0  # seen, from now on
        wall.advance(-3600)
        steady.advance(119)
        assert ledger.drain(client).reclaimed == 0
        steady.advance(1)
        assert (ledger.drain(client).reclaimed, emulator.stats.notifications) == (3, 3)


def test_the_default_lease_clock_is_the_databases_or_the_machines_since_boot_and_ignores_the_wall_clock(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Ledger.open(ledger_url) as ledger:
        if ledger_url.startswith("postgresql"):
            with ledger._store.transaction(write=False) as cur:
                cur.execute("SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)")
                expected = float(cur.fetchone()[0])
        else:
            expected = boottime()
        before = ledger._lease_clock()
        assert abs(before - expected) < 5
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + 700)
        assert 0 <= ledger._lease_clock() - before < 5


def test_sqlite_lease_times_of_an_earlier_boot_are_rebased_on_open(
    tmp_path: Path, client: PushClient, emulator: Emulator
) -> None:
    path = tmp_path / "push.db"
    with Ledger.open(path) as ledger:
        store = ledger._store
        ledger.enqueue([{"to": token(i)} for i in range(3)], keys=["a", "b", "c"])
        store.claim(store.lease_now(), f"{socket.gethostname()}:1:ns:before-the-boot", 1)
        with store.transaction() as cur:  # times of the earlier boot's clock: far ahead of this one's
            cur.execute("UPDATE expo_push_outbox SET not_before = not_before + 1e7, claimed_at = claimed_at + 1e7")
            cur.execute("UPDATE expo_push_meta SET value = 'boot:an-earlier-boot' WHERE name = 'lease_timeline'")
    with Ledger.open(path) as ledger:
        run = ledger.drain(client)
        assert ledger.stats().outbox["resent"] == 1
    assert run.sent == 3


def test_a_lease_shorter_than_the_clients_longest_request_is_refused(
    ledger_url: str, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    with Ledger.open(ledger_url, clock=clock, lease=client.max_request_seconds) as ledger:
        ledger.enqueue({"to": token(1)})
        with pytest.raises(
            ValueError, match=r"lease \(540 s\) must be longer .* \(540 s, client.max_request_seconds\)"
        ):
            ledger.drain(client)
    assert emulator.stats.requests == 0


# -- positions, and sends that end early --------------------------------------------------------------


def _twice(count: int = 100) -> tuple[list[dict[str, Any]], list[str]]:
    """One token with two different messages, first and last, and other notifications between."""
    messages = [{"to": token("twice"), "title": "first"}]
    messages += [{"to": token(i)} for i in range(count - 2)]
    messages += [{"to": token("twice"), "title": "second"}]
    return messages, ["first", *(f"k{i}" for i in range(count - 2)), "second"]


class _OnlyTheLastAccepted:
    """A client whose request carrying every message but the last fails for good (after the last one's
    request was accepted, through the real client): tickets and account as a real send would leave them."""

    def __init__(self, client: PushClient) -> None:
        self.client = client

    def _account(self, messages: list[PushMessage], account: SendAccount) -> PushServerError:
        last = len(messages) - 1
        accepted = self.client.send([messages[last]])[0]
        ticket = msgspec.structs.replace(accepted, position=Position(last, 0))
        account._add_read(len(messages))
        account._add_tickets([ticket])
        account._close([MessagePart(i, (0,), m) for i, m in enumerate(messages[:last])], [])
        return PushServerError("the first request failed", tickets=[ticket], account=account)

    def send(self, messages: list[PushMessage], *, account: SendAccount) -> list[PushTicket]:
        raise self._account(messages, account)

    def iter_send(self, messages: list[PushMessage], *, account: SendAccount) -> Iterator[PushTicket]:
        raise self._account(messages, account)
        yield  # a generator, as the client's


def test_a_ticket_is_recorded_under_its_own_messages_key_when_one_token_has_two_messages(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    messages, keys = _twice()
    emulator.script_token(token("twice"), receipt_error="MessageRateExceeded")
    with pytest.raises(PushServerError):
        ledger.send(_OnlyTheLastAccepted(client), messages, keys=keys)  # type: ignore[arg-type]

    assert [(p.token, p.key) for p in ledger.pending_receipts()] == [(token("twice"), "second")]
    clock.advance(15 * MINUTE)
    assert ledger.check_receipts(client).resends == 1
    emulator.script_token(token("twice"))
    clock.advance(ledger.rate_retry_delay)
    ledger.drain(client)
    assert [m["title"] for m in emulator.messages(token("twice"))] == ["second", "second"]  # the message it was


def test_the_outbox_records_a_ticket_under_its_own_row_when_one_token_has_two_messages(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    messages, keys = _twice()
    ledger.enqueue(messages, keys=keys)

    run = ledger.drain(_OnlyTheLastAccepted(client))  # type: ignore[arg-type]

    assert (run.sent, run.failed_batches) == (1, 1)
    assert [(p.token, p.key) for p in ledger.pending_receipts()] == [(token("twice"), "second")]
    assert dict(ledger.outbox())["second"] == "sent"
    assert {state for key, state in ledger.outbox() if key != "second"} == {"pending"}
    clock.advance(MINUTE)
    assert ledger.drain(client).sent == 99
    assert sorted(m["title"] for m in emulator.messages(token("twice"))) == ["first", "second"]


async def test_send_async_cancelled_records_every_ticket_the_service_accepted(
    ledger: Ledger, emulator: Emulator
) -> None:
    emulator.add_fault("stall", after=3)  # the fourth request is held: the send is cancelled meanwhile
    async with AsyncPushClient(
        base_url=emulator.url, rate_limit=None, http2=False, max_concurrency=2, interrupt_grace=0.5
    ) as client:
        send = asyncio.create_task(ledger.send_async(client, [{"to": token(i)} for i in range(3000)]))
        assert await asyncio.to_thread(emulator.wait_for_stalls, 1, 30)
        send.cancel()
        with pytest.raises(asyncio.CancelledError):
            await send
        accepted = emulator.stats.notifications
        emulator.release_stalls()  # the held request goes through after all: it was in doubt

    assert 300 <= accepted < 3000
    assert len(ledger.pending_receipts()) == accepted


def test_send_interrupted_by_ctrl_c_records_every_ticket_the_service_accepted(
    ledger: Ledger, client: PushClient, emulator: Emulator
) -> None:
    class CtrlCAfterTheAnswers:
        def send(self, messages: list[PushMessage], *, account: SendAccount) -> list[PushTicket]:
            client.send(messages, account=account)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ledger.send(CtrlCAfterTheAnswers(), [{"to": token(i)} for i in range(250)], keys=[f"k{i}" for i in range(250)])  # type: ignore[arg-type]

    assert {p.key for p in ledger.pending_receipts()} == {f"k{i}" for i in range(250)}


def test_outbox_notifications_in_doubt_are_kept_counted_and_sent_again(
    ledger: Ledger, emulator: Emulator, clock: Clock
) -> None:
    ledger.enqueue([{"to": token(i), "data": {"n": i}} for i in range(150)], keys=[f"k{i}" for i in range(150)])
    emulator.add_fault("drop", accept=True)  # one request is delivered, and its answer is lost
    with PushClient(base_url=emulator.url, rate_limit=None, max_retries=0, http2=False) as client:
        first = ledger.drain(client)
        assert first.in_doubt in (50, 100)
        assert first.sent in (0, 150 - first.in_doubt)  # the other request was answered, or never started
        assert ledger.stats().outbox["in_doubt"] == first.in_doubt
        clock.advance(MINUTE)
        second = ledger.drain(client)

    assert second.sent == 150 - first.sent  # those in doubt sent again (at-least-once), with any never sent
    assert emulator.stats.duplicates == first.in_doubt
    assert {p.key for p in ledger.pending_receipts()} == {f"k{i}" for i in range(150)}
    assert {state for _, state in ledger.outbox()} == {"sent"}
    assert ledger.stats().outbox["in_doubt"] == first.in_doubt


def test_an_outbox_worker_stopped_by_ctrl_c_mid_batch_records_what_was_accepted_and_keeps_the_rest(
    ledger: Ledger, client: PushClient, emulator: Emulator, clock: Clock
) -> None:
    ledger.enqueue([{"to": token(i)} for i in range(300)], keys=[f"k{i}" for i in range(300)])

    class CtrlCMidBatch:
        def iter_send(self, messages: list[PushMessage], account: SendAccount) -> Iterator[PushTicket]:
            tickets = client.iter_send(messages, account=account)
            try:
                for position, ticket in enumerate(tickets):
                    if position == 150:
                        raise KeyboardInterrupt
                    yield ticket
            finally:
                tickets.close()  # as the client does on Ctrl-C: its account is complete

    with pytest.raises(KeyboardInterrupt):
        ledger.drain(CtrlCMidBatch(), batch_size=300)  # type: ignore[arg-type]

    accepted = emulator.stats.notifications
    assert 150 <= accepted <= 300
    assert len(ledger.pending_receipts()) == accepted  # every accepted ticket recorded
    assert sum(state == "sent" for _, state in ledger.outbox()) == accepted
    clock.advance(MINUTE)
    assert ledger.drain(client).sent == 300 - accepted  # the rest, once
    assert emulator.stats.duplicates == 0
    assert {p.key for p in ledger.pending_receipts()} == {f"k{i}" for i in range(300)}


def test_opening_a_ledger_on_a_current_database_waits_for_no_worker(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as first:
        opened: list[Ledger] = []
        with first._store.transaction() as cur:  # a worker's claim in progress holds the outbox
            cur.execute("SELECT COUNT(*) FROM expo_push_outbox")
            cur.fetchone()
            opening = threading.Thread(target=lambda: opened.append(Ledger.open(ledger_url)))
            opening.start()
            opening.join(10)
            assert opened  # no DDL, no table lock: it did not wait for the claim to end
        opening.join(60)
        opened[0].close()


def test_a_configuration_error_is_logged_with_the_services_text_escaped(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    ticket = PushTicket(
        status="error", message="revoked \x1b[31m\x1b]0;x\x07", details={"error": "InvalidCredentials"}, to=token("c")
    )
    with caplog.at_level(logging.ERROR, logger="expo_push"):
        ledger.record(ticket)
    [line] = [r.getMessage() for r in caplog.records if "credentials need fixing" in r.getMessage()]
    assert "(revoked \\x1b[31m\\x1b]0;x\\x07)" in line
    assert line.isprintable()


def test_recipients_in_doubt_after_a_send_are_recorded_with_their_message(
    ledger: Ledger, emulator: Emulator
) -> None:
    emulator.add_fault("drop", accept=True)  # the request is delivered, and its answer is lost
    with (
        PushClient(base_url=emulator.url, rate_limit=None, max_retries=0, http2=False) as client,
        pytest.raises(PushServerError) as raised,
    ):
        ledger.send(client, [{"to": [token(1), token(2)], "body": "hi"}], keys=["greeting"])
    assert len(raised.value.in_doubt) == 1
    stats = ledger.stats()
    assert (stats.in_doubt, stats.accepted, stats.ticket_errors) == (2, 0, {})
    with ledger._store.transaction(write=False) as cur:
        cur.execute("SELECT key, token, message FROM expo_push_tickets WHERE status = 'in_doubt' ORDER BY token")
        rows = cur.fetchall()
    assert [(key, tok) for key, tok, _ in rows] == [("greeting", token(1)), ("greeting", token(2))]
    assert [msgspec.json.decode(message)["to"] for _, _, message in rows] == [[token(1)], [token(2)]]


def test_a_receipts_answer_with_ids_never_asked_for_is_not_used(ledger: Ledger, clock: Clock) -> None:
    ledger.record([PushTicket(status="ok", id=f"id-{i}", to=token(i)) for i in range(3)])
    clock.advance(15 * MINUTE)

    class Stray:
        def get_receipts(self, ids: list[str]) -> dict[str, PushReceipt]:
            answer = {i: PushReceipt(status="ok") for i in ids}
            answer["ExponentPushToken[someone-else]"] = PushReceipt(status="error", details={"error": "x"})
            return answer

    summary = ledger.check_receipts(Stray())  # type: ignore[arg-type]
    assert (summary.checked, summary.ok, summary.errors) == (0, 0, {})
    assert len(ledger.pending_receipts()) == 3  # asked again at the next check

    class Honest:
        def get_receipts(self, ids: list[str]) -> dict[str, PushReceipt]:
            return {i: PushReceipt(status="ok") for i in ids}

    assert ledger.check_receipts(Honest()).ok == 3  # type: ignore[arg-type]
