"""``Ledger``: the front of the delivery ledger; recording, receipts and the outbox live in modules of their own."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._account import SendAccount
from .._batch import iter_prepared
from .._errors import ValidationError
from .._message import PushMessage
from .._models import PushTicket
from .._service import RATE_LIMIT
from ._leases import LeaseWatch
from ._location import is_postgres_url, sqlite_path
from ._messages import with_skipped
from ._models import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_LEASE,
    DeadToken,
    LedgerStats,
    OutboxBacklog,
    PendingReceipt,
    ReceiptCheck,
    WorkerRun,
)
from ._outbox import Worker, outbox_entries
from ._pacer import SharedPacer
from ._parts import Clocks, Parts
from ._receipts import check_receipts, check_receipts_async, pending_receipts, watch_receipts, watch_receipts_async
from ._recording import CONFIG_ERRORS, Recorder
from ._sending import RecordedSend, plan_send
from ._store import Store

if TYPE_CHECKING:
    from .._async_client import AsyncPushClient
    from .._client import PushClient

__all__ = ["CONFIG_ERRORS", "Ledger"]

logger = logging.getLogger("expo_push.ledger")


class Ledger:
    """The delivery ledger: every ticket stored, receipts fetched when due, dead tokens reported.

    Open one with ``Ledger.open("push.db")`` (SQLite) or
    ``Ledger.open("postgresql://...")``; see the package docstring for a tour.

    Args:
        store: The storage backend (``Ledger.open`` picks one from a path or URL).
        receipt_delay: Seconds after sending before a receipt is fetched (Expo: about 15 minutes).
        receipt_retention: Seconds after sending after which a ticket with no receipt is
            given up on (Expo keeps receipts 24 hours).
        recheck_interval: Seconds before asking again for a receipt that was not ready.
        skip_dead_tokens: Refuse to send to tokens known dead (``send`` and the outbox).
        on_dead_token: Called with a ``DeadToken`` each time a token is newly found dead.
        on_config_error: Called with ``(code, message)`` the first time this ledger sees an
            ``InvalidCredentials`` or ``MismatchSenderId`` error; it is also logged at ERROR.
        max_rate_retries: Resends of a notification refused with ``MessageRateExceeded``.
        rate_retry_delay: Seconds before the first such resend; each further one waits twice as long.
        lease: Seconds after which an outbox row claimed by a worker that went silent is sent again
            (rows of a worker process that died on this machine, in the same PID namespace, are taken
            back at once). A live worker renews its claim as tickets come back (every ``lease / 4``
            seconds and at each recording), so the lease must only exceed the longest a worker's
            client can go without an answer: one request with all its retries,
            ``client.max_request_seconds`` (540 s with the client's defaults). A worker checks it
            when it starts (``ValueError`` otherwise).
        clock: The wall clock, seconds since the epoch (``time.time``): when tickets were sent, receipts are
            due, tokens died, rows were enqueued. It dates things and moves nothing else.
        lease_clock: The schedule clock: "not before" times (retry delays), leases, the age of the outbox's
            oldest ready row. Monotonic; by default the store's: the machine's clock since boot for SQLite,
            the database's clock read once and followed since boot for PostgreSQL (see docs/ledger.md,
            "Clocks"). Inject one (with ``clock``) to test "15 minutes later" without waiting.
    """

    def __init__(
        self,
        store: Store,
        *,
        receipt_delay: float = 900.0,
        receipt_retention: float = 86400.0,
        recheck_interval: float = 300.0,
        skip_dead_tokens: bool = True,
        on_dead_token: Callable[[DeadToken], None] | None = None,
        on_config_error: Callable[[str, str | None], None] | None = None,
        max_rate_retries: int = 3,
        rate_retry_delay: float = 60.0,
        lease: float = DEFAULT_LEASE,
        clock: Callable[[], float] | None = None,
        lease_clock: Callable[[], float] | None = None,
    ) -> None:
        for name, value in (
            ("receipt_delay", receipt_delay),
            ("receipt_retention", receipt_retention),
            ("rate_retry_delay", rate_retry_delay),
            ("lease", lease),
        ):
            if not value >= 0:
                raise ValueError(f"{name} must be a non-negative number of seconds, not {value!r}")
        if not recheck_interval > 0:
            raise ValueError(f"recheck_interval must be a positive number of seconds, not {recheck_interval!r}")
        if max_rate_retries < 0:
            raise ValueError(f"max_rate_retries must be 0 or more, not {max_rate_retries!r}")
        self._store = store
        self.receipt_delay = receipt_delay
        self.receipt_retention = receipt_retention
        self.recheck_interval = recheck_interval
        self.skip_dead_tokens = skip_dead_tokens
        self.on_dead_token = on_dead_token
        self.on_config_error = on_config_error
        self.max_rate_retries = max_rate_retries
        self.rate_retry_delay = rate_retry_delay
        self.lease = lease
        self._clock = clock if clock is not None else time.time
        store.create_schema()
        self._lease_clock = lease_clock if lease_clock is not None else store.lease_now
        self._leases = LeaseWatch(self._lease_clock)
        self._parts = Parts(store, self, Clocks(wall=self._clock, schedule=self._lease_clock))
        self._recorder = Recorder(self._parts)

    @classmethod
    def open(cls, target: str | Path, **options: Any) -> Ledger:
        """Open (creating if needed) the ledger at ``target``.

        A ``postgresql://`` or ``postgres://`` URL picks PostgreSQL (needs the
        ``postgres`` extra); anything else is the path of a SQLite file.
        ``options`` are those of ``Ledger``.

        ``LedgerLocationError`` (a ``ValueError``), before anything is opened, when ``target`` cannot hold a
        ledger: a URL of another database (``mysql://...``), a directory, a file in a directory that does
        not exist. The message names it, without its password.
        """
        text = str(target)
        store: Store
        if is_postgres_url(text):
            from ._postgres import PostgresStore

            store = PostgresStore(text)
        else:
            from ._sqlite import SQLiteStore

            store = SQLiteStore(sqlite_path(text))
        return cls(store, **options)

    def __repr__(self) -> str:
        return f"<Ledger {self._store.description}>"

    def close(self) -> None:
        """Close the database connections."""
        self._store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def shared_pacer(self, rate: float | None = RATE_LIMIT) -> SharedPacer:
        """A pacer whose budget (``rate`` notifications a second per project) every worker of this ledger's
        database shares: give it to each client, ``PushClient(pacer=ledger.shared_pacer())``."""
        return SharedPacer(self._store, rate)

    # -- recording -------------------------------------------------------------------------------

    def send(
        self,
        client: PushClient,
        messages: PushMessage | Mapping[str, Any] | Iterable[PushMessage | Mapping[str, Any]],
        keys: Sequence[str | None] | None = None,
    ) -> list[PushTicket]:
        """Send through ``client`` and record every ticket; return one ticket per recipient, in input order.

        ``keys`` (one per message) are your references to the notifications,
        stored with their tickets. Recipients whose token is dead are not sent
        to (unless ``skip_dead_tokens`` is off): their ticket is an error
        ``DeviceNotRegistered`` with ``details["skipped"] = True``, not recorded.
        However the send ends (it returns, a request fails for good, it is
        cancelled, Ctrl-C, the client is closed), every ticket the service
        answered is recorded, under the key of its own message (by position),
        before the exception propagates.
        """
        send = self.recorded_send(messages, keys)
        account = SendAccount()
        try:
            tickets = client.send(send.outgoing, account=account)
        finally:  # however the send ended, every ticket the service answered is recorded
            send.finish(account)
        return with_skipped(tickets, send.plan.skipped)

    async def send_async(
        self,
        client: AsyncPushClient,
        messages: PushMessage | Mapping[str, Any] | Iterable[PushMessage | Mapping[str, Any]],
        keys: Sequence[str | None] | None = None,
    ) -> list[PushTicket]:
        """``send`` with an ``AsyncPushClient``; database work runs off the event loop (and so do callbacks)."""
        send = await asyncio.to_thread(self.recorded_send, messages, keys)
        account = SendAccount()
        try:
            tickets = await client.send(send.outgoing, account=account)
        finally:  # however the send ended (cancelled too), every ticket the service answered is recorded
            await asyncio.shield(asyncio.to_thread(send.finish, account))
        return with_skipped(tickets, send.plan.skipped)

    def recorded_send(
        self,
        messages: PushMessage | Mapping[str, Any] | Iterable[PushMessage | Mapping[str, Any]],
        keys: Sequence[str | None] | None = None,
    ) -> RecordedSend:
        """The one send-and-record pipeline, for a driver of its own (``send`` and ``expo-push send`` use it):
        ``.outgoing`` is what to send (recipients known dead taken out, unless ``skip_dead_tokens`` is off;
        ``.skipped_tickets()`` their error tickets), ``.record(tickets)`` records tickets as they come, and
        ``.finish(account)`` records the rest however the send ended."""
        dead_among = self._store.dead_among if self.skip_dead_tokens else None
        recorder = self._recorder
        plan = plan_send(messages, keys, dead_among)
        return RecordedSend(plan, recorder.record, recorder.record_in_doubt, self._learn_projects)

    def record(
        self,
        tickets: PushTicket | Iterable[PushTicket],
        *,
        key: str | None = None,
        keys: Sequence[str | None] | None = None,
        sent_at: float | None = None,
    ) -> int:
        """Record tickets of a send made elsewhere (each needs its ``.to``); return how many.

        ``key`` is one reference for all of them, ``keys`` one per ticket.
        ``sent_at`` defaults to now. Error tickets are acted on as in ``send``
        (a ``DeviceNotRegistered`` ticket marks its token dead).
        """
        items = [tickets] if isinstance(tickets, PushTicket) else list(tickets)
        if keys is not None and len(keys) != len(items):
            raise ValidationError(f"keys has {len(keys)} items for {len(items)} tickets", field="keys")
        for index, ticket in enumerate(items):
            if not isinstance(ticket, PushTicket):
                raise ValidationError(f"ticket {index} must be a PushTicket, not {type(ticket).__name__}")
            if not ticket.to:
                raise ValidationError(f"ticket {index} has no recipient token", field="to")
        self._recorder.record(
            items, keys if keys is not None else [key] * len(items), [None] * len(items), sent_at=sent_at
        )
        return len(items)

    # -- receipts ----------------------------------------------------------------------------------

    def check_receipts(self, client: PushClient) -> ReceiptCheck:
        """Fetch the receipts that are due, record them, and act on them; return what was found.

        Run it every few minutes (cron, or ``watch_receipts``). Ids are asked
        in requests of 1000; an id with no receipt yet is asked again after
        ``recheck_interval``, until ``receipt_retention`` has passed since the
        send. ``DeviceNotRegistered`` marks the token dead;
        ``MessageRateExceeded`` schedules a resend in the outbox. Checks may
        run side by side: each claims the receipts it asks for (until
        ``recheck_interval`` from now, when a check that stopped midway leaves
        them due again), so none is asked or counted twice.
        """
        return check_receipts(self._parts, self._recorder, client)

    async def check_receipts_async(self, client: AsyncPushClient) -> ReceiptCheck:
        """``check_receipts`` with an ``AsyncPushClient``; database work (and callbacks) run off the event loop."""
        return await check_receipts_async(self._parts, self._recorder, client)

    def watch_receipts(
        self,
        client: PushClient,
        stop: threading.Event,
        interval: float = 60.0,
        *,
        on_check: Callable[[ReceiptCheck], object] | None = None,
    ) -> None:
        """Check receipts every ``interval`` seconds until ``stop`` is set; ``on_check`` is given each check's result.

        A failed check is logged and tried again at the next one; while the database is away the watcher
        waits for it (logged once), as a worker does.
        """
        watch_receipts(self._parts, self._recorder, client, stop, interval, on_check)

    async def watch_receipts_async(
        self,
        client: AsyncPushClient,
        stop: asyncio.Event,
        interval: float = 60.0,
        *,
        on_check: Callable[[ReceiptCheck], object] | None = None,
    ) -> None:
        """``watch_receipts`` for asyncio: check every ``interval`` seconds until ``stop`` is set, waiting out
        the database's outages as the sync watcher does."""
        await watch_receipts_async(self._parts, self._recorder, client, stop, interval, on_check)

    def pending_receipts(self, limit: int | None = None) -> list[PendingReceipt]:
        """Tickets still waiting for a receipt, oldest first (at most ``limit``)."""
        return pending_receipts(self._store, limit)

    # -- dead tokens -------------------------------------------------------------------------------

    def dead_tokens(self, since: float | None = None) -> list[DeadToken]:
        """Tokens found dead (at or after ``since``, by the ledger's clock), oldest first.

        Delete them from your database, then call ``forget_dead`` if the app
        registers the same token again.
        """
        return self._store.dead_tokens(since)

    def forget_dead(self, token: str) -> bool:
        """The app registered ``token`` again: send to it again. Return whether it was dead.

        Evidence older than this call (a late receipt of an earlier send) does
        not kill it again.
        """
        return self._store.revive(token, self._clock())

    # -- outbox ------------------------------------------------------------------------------------

    def enqueue(
        self,
        messages: PushMessage | Mapping[str, Any] | Iterable[PushMessage | Mapping[str, Any]],
        keys: Sequence[str | None] | None = None,
        *,
        connection: Any = None,
        project: str | None = None,
    ) -> int:
        """Store notifications durably for a worker to send; return how many were new.

        Every message is validated first (``ValidationError`` names the message
        and field; nothing is stored then). ``keys`` (one per message) are
        idempotency keys: a key already enqueued is not enqueued again, so it
        is sent once. They are also the reference stored with the tickets.

        ``connection``: your application's open connection to the ledger's
        database (a ``sqlite3.Connection`` to the same file, or a psycopg 3
        ``Connection``), to write the notifications inside your own transaction
        (the transactional outbox): they are sent once if it commits, never if
        it rolls back. Nothing is committed here; your code commits.

        ``project``: the Expo project (``"@owner/slug"``) of these messages;
        workers send them paced under that project's budget. Left out, a
        message whose tokens all have a project the ledger knows
        (``set_project``) is enqueued under that one.
        """
        if project is not None and (not isinstance(project, str) or not project.strip()):
            raise ValidationError(f"project must be a name such as '@owner/slug', not {project!r}", field="project")
        prepared = list(iter_prepared(messages))
        if keys is not None:
            keys = list(keys)
            if len(keys) != len(prepared):
                raise ValidationError(f"keys has {len(keys)} items for {len(prepared)} messages", field="keys")
            for index, key in enumerate(keys):
                if key is not None and not isinstance(key, str):
                    raise ValidationError(
                        f"key {index} must be a string or None, not {type(key).__name__}", field="keys"
                    )
        projects: list[str | None] | None = [project] * len(prepared) if project is not None else None
        if project is None:
            known = self._store.projects_of(list({t for p in prepared for t in p.recipients}))
            if known:
                projects = [_one_project(p.recipients, known) for p in prepared]
        rows = outbox_entries(prepared, keys, self._clock(), self._lease_clock(), projects)
        if connection is not None:
            return self._store.enqueue_with(connection, rows)
        return self._store.enqueue(rows)

    def _learn_projects(self, account: SendAccount) -> None:
        """Remember the projects the service named for tokens during a send (a hint: a failure is only logged)."""
        if not account.projects:
            return
        try:
            self._store.remember_projects(sorted(account.projects.items()))
        except Exception:
            logger.exception("expo-push: could not remember the projects the service named for %d tokens",
                             len(account.projects))

    def set_project(self, tokens: str | Iterable[str], project: str) -> None:
        """Remember that ``tokens`` belong to the Expo project ``project`` (``"@owner/slug"``): messages to them
        enqueued later without ``project=`` are paced under that project's budget."""
        if not isinstance(project, str) or not project.strip():
            raise ValidationError(f"project must be a name such as '@owner/slug', not {project!r}", field="project")
        tokens = [tokens] if isinstance(tokens, str) else list(tokens)
        self._store.remember_projects([(token, project) for token in tokens])

    def _worker(self, client: PushClient, batch_size: int, stop: threading.Event | None = None) -> Worker:
        return Worker(self._parts, self._recorder, self._leases, self._learn_projects, client, batch_size, stop)

    def drain(self, client: PushClient, *, batch_size: int = DEFAULT_BATCH_SIZE) -> WorkerRun:
        """Send everything in the outbox that is ready now, then return (a one-shot worker)."""
        worker = self._worker(client, batch_size)
        worker.reclaim()
        while worker.send_batch():
            pass
        return worker.run

    def run_worker(
        self,
        client: PushClient,
        stop: threading.Event,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        poll_interval: float = 1.0,
        on_batch: Callable[[WorkerRun], None] | None = None,
    ) -> WorkerRun:
        """Send from the outbox until ``stop`` is set; return what was done.

        Claims up to ``batch_size`` notifications at a time, sends them through
        ``client`` (its pacing and retries apply) and records the tickets as
        they come back. When the outbox is empty it looks again every
        ``poll_interval`` seconds. ``on_batch`` is called after each batch.
        Several workers may run at once, in threads, processes or machines
        (PostgreSQL for the latter): none sends a notification another claimed.
        """
        worker = self._worker(client, batch_size, stop)
        outage = worker.outage
        reclaim = True
        release_own = False  # after an outage: rows a claim cut short may have left to this worker
        while not stop.is_set():
            try:
                if release_own:
                    worker.release_own()
                    release_own = False
                if reclaim:
                    worker.reclaim()
                sent = worker.send_batch()
                reclaim = not sent
            except Exception as exc:
                if not self._store.is_unavailable(exc) or stop.is_set():
                    raise
                outage.failed(exc)  # a worker lives through database restarts, failovers and locks
                outage.pause()
                reclaim = release_own = True
                continue
            outage.succeeded()
            if sent:
                if on_batch is not None:
                    on_batch(worker.run)
            else:
                stop.wait(poll_interval)
        return worker.run

    # -- numbers -------------------------------------------------------------------------------------

    def stats(self, since: float | None = None, until: float | None = None) -> LedgerStats:
        """Counts of tickets sent in ``[since, until)`` by status, receipt and error code; the outbox; dead tokens."""
        outcomes = {(s, r, c): int(n) for s, r, c, n in self._store.outcome_counts(since, until)}
        return LedgerStats(outcomes, self._store.outbox_counts(), self._store.count_dead())

    def purge(self, older_than: float = 30 * 86400.0) -> tuple[int, int]:
        """Delete what is done with and older than ``older_than`` seconds; return (tickets, outbox rows) deleted.

        Tickets go once their receipt is settled (ok, error, or none within the
        retention limit); outbox rows once sent or skipped, and with them their
        idempotency keys (a key enqueued again after that is sent again).
        Dead tokens are kept until ``forget_dead``. Run it now and then, e.g.
        after the receipts check.
        """
        return self._store.purge(self._clock() - older_than)

    def outbox_backlog(self) -> OutboxBacklog:
        """How many notifications wait in the outbox and are being sent, and how long the one ready the longest
        has waited to be taken (on the schedule clock: no wall clock, set right or wrong, hides a stuck outbox)."""
        pending, sending, oldest = self._store.outbox_backlog()
        return OutboxBacklog(pending, sending, None if oldest is None else max(self._lease_clock() - oldest, 0.0))

    def outbox(self) -> list[tuple[str | None, str]]:
        """``(key, state)`` of every outbox row, oldest first: ``pending``, ``sending``, ``sent`` or ``skipped``."""
        return list(self._store.iter_outbox_keys())


def _one_project(recipients: Sequence[str], known: Mapping[str, str]) -> str | None:
    """The project all of ``recipients`` are known to belong to, or None (unknown, or several)."""
    found = {known.get(token) for token in recipients}
    return found.pop() if len(found) == 1 else None
