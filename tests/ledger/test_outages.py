"""Workers live through their database going away: a PostgreSQL restart, a SQLite write lock held by someone
else. They wait, log once, and carry on where they were: nothing lost, nothing sent twice but what was in doubt."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from bench.postgres_server import PostgresServer

from expo_push import PushClient
from expo_push.emulator import Emulator
from expo_push.ledger import Ledger, WorkerRun
from expo_push.ledger._sqlite import SQLiteStore

from .conftest import token

NOTIFICATIONS = 600
WORKERS = 2


class _OutageLog(logging.Handler):
    """Counts the ledger's outage lines, and sets an event once every worker has logged one."""

    def __init__(self, workers: int) -> None:
        super().__init__(logging.INFO)
        self.started: list[str] = []
        self.ended: list[str] = []
        self.all_waiting = threading.Event()
        self._workers = workers

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "database is unavailable" in text:
            self.started.append(text)
            if len(self.started) >= self._workers:
                self.all_waiting.set()
        elif "database is back" in text:
            self.ended.append(text)


@contextmanager
def _outage_log() -> Iterator[_OutageLog]:
    handler = _OutageLog(WORKERS)
    logger = logging.getLogger("expo_push.ledger")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.setLevel(level)
        logger.removeHandler(handler)


def _run_through_outage(
    open_ledger: Callable[[], Ledger], emulator: Emulator, outage: Callable[[_OutageLog], None]
) -> tuple[Ledger, list[WorkerRun], _OutageLog]:
    """Enqueue, start the workers, cause ``outage`` once the first batch is recorded, and wait for the outbox to
    empty; return the ledger, each worker's run and the outage lines."""
    ledger = open_ledger()
    ledger.enqueue([{"to": token(f"outage-{i}"), "body": "x"} for i in range(NOTIFICATIONS)])
    stop, first_batch = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    runs: list[WorkerRun] = []

    def work(own: Ledger) -> None:
        try:
            # As `expo-push worker` runs by default: one budget shared through the database that goes away.
            pacer = own.shared_pacer(600)
            with own, PushClient(base_url=emulator.url, rate_limit=600, http2=False, pacer=pacer) as client:
                runs.append(
                    own.run_worker(
                        client, stop, batch_size=50, poll_interval=0.02, on_batch=lambda run: first_batch.set()
                    )
                )
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(open_ledger(),)) for _ in range(WORKERS)]
    with _outage_log() as log:
        for thread in threads:
            thread.start()
        try:
            assert first_batch.wait(60)
            outage(log)
            while not errors and (ledger.outbox_backlog().pending or ledger.outbox_backlog().sending):
                stop.wait(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
    assert errors == [], errors
    return ledger, runs, log


def _check(ledger: Ledger, runs: list[WorkerRun], emulator: Emulator, log: _OutageLog) -> None:
    stats, outbox = emulator.stats, ledger.stats().outbox
    seen = (stats, outbox, runs, log.started, log.ended)  # shown whole if an assertion fails
    assert stats.notifications - stats.duplicates == NOTIFICATIONS, seen  # nothing lost
    assert stats.duplicates <= outbox["in_doubt"] + outbox["resent"], seen  # duplicates only among the counted
    assert outbox["sent"] == NOTIFICATIONS, seen
    assert 1 <= len(log.started) <= WORKERS, seen  # once per worker that met it, not once per retry
    assert len(log.ended) == len(log.started), seen
    assert len(runs) == WORKERS, seen


def test_workers_wait_out_a_postgresql_restart_and_lose_nothing(
    postgres_server: PostgresServer, postgres_url: str, emulator: Emulator
) -> None:
    emulator.rate_limit = None

    def restart(log: _OutageLog) -> None:
        postgres_server.restart()

    ledger, runs, log = _run_through_outage(lambda: Ledger.open(postgres_url), emulator, restart)
    with ledger:
        _check(ledger, runs, emulator, log)


def test_workers_wait_out_a_sqlite_write_lock_held_elsewhere_and_lose_nothing(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.rate_limit = None
    monkeypatch.setattr(SQLiteStore, "busy_timeout", 0.2)  # "database is locked" after 0.2 s, not 30
    path = tmp_path / "push.db"

    def hold_the_write_lock(log: _OutageLog) -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            assert log.all_waiting.wait(60)  # every worker met the lock, and is waiting
        finally:
            conn.execute("COMMIT")
            conn.close()

    ledger, runs, log = _run_through_outage(lambda: Ledger.open(path), emulator, hold_the_write_lock)
    with ledger:
        _check(ledger, runs, emulator, log)
        assert len(log.started) == WORKERS




class _ClaimAnswerLost(SQLiteStore):
    """A store whose first claim commits and then loses its answer to a lock, as a claim cut by an outage may."""

    claims = 0

    def claim(self, *args: object, **kwargs: object) -> list:  # type: ignore[override]
        rows = super().claim(*args, **kwargs)  # type: ignore[arg-type]
        type(self).claims += 1
        if type(self).claims == 1:
            raise sqlite3.OperationalError("database is locked")
        return rows


def test_rows_of_a_claim_whose_answer_was_lost_are_given_back_and_sent(tmp_path: Path) -> None:
    # Found in review: the first batch after the outage used up its end, and the rows of the lost claim stayed
    # 'sending' under this worker's own name for as long as it lived (it renews them; others never take them).
    ledger = Ledger(_ClaimAnswerLost(str(tmp_path / "push.db")))
    ledger.enqueue([{"to": token(i), "body": "x"} for i in range(2)], keys=["a", "b"])
    all_sent = threading.Event()

    def on_batch(_: WorkerRun) -> None:
        if all(state == "sent" for _, state in ledger.outbox()):
            all_sent.set()

    stop = threading.Event()
    with Emulator() as emulator, PushClient(base_url=emulator.url, rate_limit=None, http2=False) as client:
        worker = threading.Thread(
            target=ledger.run_worker, args=(client, stop), kwargs={"batch_size": 1, "poll_interval": 0.05,
                                                                   "on_batch": on_batch}
        )  # fmt: skip
        worker.start()
        try:
            assert all_sent.wait(30), ledger.outbox()
        finally:
            stop.set()
            worker.join()
        assert [len(emulator.inbox(token(i))) for i in range(2)] == [1, 1]  # each sent once
    ledger.close()


class _LockedOnce(SQLiteStore):
    """A store whose first receipts check meets a write lock held by someone else."""

    checks = 0

    def due_receipts(self, *args: object, **kwargs: object) -> list:  # type: ignore[override]
        type(self).checks += 1
        if type(self).checks == 1:
            raise sqlite3.OperationalError("database is locked")
        return super().due_receipts(*args, **kwargs)  # type: ignore[arg-type]


async def test_the_async_receipts_watcher_waits_out_an_outage(tmp_path: Path) -> None:
    # Found in review: the sync watcher lived through outages, the asyncio one ended on the first.
    import asyncio

    from expo_push import AsyncPushClient

    ledger = Ledger(_LockedOnce(str(tmp_path / "push.db")))
    stop = asyncio.Event()
    checked: list[object] = []

    def on_check(summary: object) -> None:
        checked.append(summary)
        stop.set()

    with Emulator() as emulator:
        async with AsyncPushClient(base_url=emulator.url, rate_limit=None, http2=False) as client:
            await asyncio.wait_for(ledger.watch_receipts_async(client, stop, interval=0.01, on_check=on_check), 30)
    assert len(checked) == 1
    assert _LockedOnce.checks >= 2
    ledger.close()
