"""The outbox: rows enqueued, and the worker that claims them in batches, sends them and records their tickets."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from .._account import SendAccount
from .._errors import PushServerError
from .._message import PushMessage
from .._models import PushTicket
from .._validation import PreparedMessage
from ._leases import LeaseWatch
from ._messages import decode_message, message_json, narrow, resend_payload
from ._models import WorkerRun
from ._outage import Outage
from ._parts import Parts
from ._process import namespace, pid_gone, worker_name
from ._recording import FinishRows, Recorder
from ._rows import ClaimedRow, NarrowedRow, OutboxEntry

if TYPE_CHECKING:
    from .._client import PushClient

__all__ = ["Batch", "Worker", "outbox_entries"]

logger = logging.getLogger("expo_push.ledger")

_FLUSH_TICKETS = 200  # the worker records tickets in transactions of about this many
_MAX_SEND_BACKOFF = 300.0


def outbox_entries(
    prepared: Sequence[PreparedMessage],
    keys: Sequence[str | None] | None,
    now: float,
    ready_at: float,
    projects: Sequence[str | None] | None = None,
) -> list[OutboxEntry]:
    """The outbox rows of validated messages, enqueued ``now`` (wall clock) and ready from ``ready_at`` (lease
    clock); each key is both idempotency key and reference, ``projects`` the project of each message (None:
    unnamed)."""
    return [
        OutboxEntry(
            keys[i] if keys is not None else None,
            keys[i] if keys is not None else None,
            message_json(p.message),
            len(p.recipients),
            now,
            ready_at,
            0,
            projects[i] if projects is not None else None,
        )
        for i, p in enumerate(prepared)
    ]


class Batch:
    """One claimed batch on its way out: what is sent for each row, and the tickets come back per row.

    Tickets are collected per row, by their position in the send; a row whose every recipient has its
    ticket is ready to be recorded (and marked sent) with them. Once the send has ended, however it ended,
    ``settle`` takes what its account says of the other rows: tickets not yet taken, and recipients in
    doubt, and narrows rows sent in part to their recipients still owed.
    """

    def __init__(self, rows: list[ClaimedRow], messages: list[PushMessage], dead: set[str]) -> None:
        self.rows = rows
        self.messages = messages  # each row's, decoded
        self.outgoing: list[PushMessage] = []
        self.skipped_rows: list[int] = []  # ids of rows whose every recipient is dead
        self.skipped_recipients = 0
        self.in_doubt = 0  # recipients whose request went out and whose answer never came
        self._row_of: list[int] = []  # row index of each outgoing message
        self._sent_to: dict[int, list[str]] = {}  # row index -> its recipients sent to
        self._remaining = [0] * len(rows)
        self._collected: dict[int, list[PushTicket]] = {}
        self.settled: set[int] = set()  # ids of rows recorded as sent, or skipped
        # What the next recording stores:
        self.tickets: list[PushTicket] = []
        self.keys: list[str | None] = []
        self.payloads: list[Any] = []
        self.retries: list[int] = []
        self.done: list[int] = []
        self.narrowed: list[NarrowedRow] = []
        for index, message in enumerate(self.messages):
            tokens = message.recipients
            kept = tokens if not dead else [t for t in tokens if t not in dead]
            self.skipped_recipients += len(tokens) - len(kept)
            if not kept:
                self.skipped_rows.append(rows[index].id)
                continue
            if len(kept) < len(tokens):
                message = narrow(message, kept)
            self.outgoing.append(message)
            self._row_of.append(index)
            self._sent_to[index] = kept
            self._remaining[index] = len(kept)

    def _whose(self, ticket: PushTicket) -> tuple[int, int]:
        """The row index of a ticket, and the index of its recipient among those the row was sent to."""
        position = ticket.position
        if position is None:
            raise ValueError(f"a ticket without a position: {ticket!r}")
        return self._row_of[position.message], position.recipient

    def accept(self, ticket: PushTicket) -> None:
        """Take a ticket of the send (its position says whose it is)."""
        index = self._whose(ticket)[0]
        self._collected.setdefault(index, []).append(ticket)
        self._remaining[index] -= 1
        if self._remaining[index] == 0:
            self._take(index, self._collected.pop(index))
            self.done.append(self.rows[index].id)

    def _take(self, index: int, tickets: list[PushTicket]) -> None:
        """Put ``tickets`` of row ``index`` in the next recording."""
        row = self.rows[index]
        message = resend_payload(msgspec.Raw(row.message.encode()), row.recipients)
        self.tickets.extend(tickets)
        self.keys.extend([row.ref] * len(tickets))
        self.payloads.extend([message] * len(tickets))
        self.retries.extend([row.retries] * len(tickets))

    def settle(self, account: SendAccount) -> None:
        """After the send ended: take, from its account, the rows not complete yet.

        A row answered in full is recorded as sent. A row answered in part records its tickets and keeps
        only its recipients still owed, so a retry resends nothing that was accepted; its recipients in
        doubt (their request went out, its answer never came) are counted with the row, and resent with it
        (at-least-once). Rows never answered stay as they are.
        """
        taken = self.settled | set(self.done)  # rows recorded, or waiting in the next recording
        answered: dict[int, dict[int, PushTicket]] = {}  # row index -> its tickets by recipient index
        for ticket in account.tickets:
            index, recipient = self._whose(ticket)
            if self.rows[index].id not in taken:
                answered.setdefault(index, {})[recipient] = ticket
        doubt: Counter[int] = Counter()
        for part in account.in_doubt:
            doubt[self._row_of[part.index]] += len(part.recipients)
        self.in_doubt += sum(doubt.values())
        self._collected.clear()
        for index in sorted(answered.keys() | doubt.keys()):
            kept = self._sent_to[index]
            tickets = answered.get(index, {})
            if len(tickets) == len(kept):
                self._take(index, [tickets[r] for r in sorted(tickets)])
                self.done.append(self.rows[index].id)
                continue
            still = [token for r, token in enumerate(kept) if r not in tickets]
            message = self.messages[index]
            owed = narrow(message, still)
            self.narrowed.append(NarrowedRow(self.rows[index].id, message_json(owed), len(still), doubt[index]))
            self._take(index, [tickets[r] for r in sorted(tickets)])

    @property
    def to_record(self) -> bool:
        """Whether there are tickets or settled rows not recorded yet."""
        return bool(self.tickets or self.done or self.narrowed)

    def take_recording(
        self, worker: str
    ) -> tuple[list[PushTicket], list[str | None], list[Any], list[int], FinishRows]:
        """What the next recording stores, and the rows it finishes; the batch then forgets them."""
        finish = FinishRows(worker, self.done, self.narrowed, project=self.rows[0].project)
        out = (self.tickets, self.keys, self.payloads, self.retries, finish)
        self.tickets, self.keys, self.payloads, self.retries, self.done, self.narrowed = [], [], [], [], [], []
        return out

    def unsettled(self) -> list[int]:
        """Ids of the rows neither recorded nor skipped."""
        return [row.id for row in self.rows if row.id not in self.settled]


class Worker:
    """One outbox worker: claims batches, sends them, records their tickets as chunks come back."""

    def __init__(
        self,
        parts: Parts,
        recorder: Recorder,
        leases: LeaseWatch,
        learn_projects: Callable[[SendAccount], None],
        client: PushClient,
        batch_size: int,
        stop: threading.Event | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
        longest = getattr(client, "max_request_seconds", None)
        settings = parts.settings
        if isinstance(longest, (int, float)) and not settings.lease > longest:
            raise ValueError(
                f"the ledger's lease ({settings.lease:g} s) must be longer than the longest one request of the"
                f" worker's client can take with its retries ({longest:g} s, client.max_request_seconds), or"
                " another worker could take and resend a live worker's notifications: raise lease, or lower the"
                " client's attempt_timeout or max_retries"
            )
        self.settings = settings
        self.clocks = parts.clocks
        self.store = parts.store
        self.recorder = recorder
        self.leases = leases
        self.learn_projects = learn_projects
        self.client = client
        self.batch_size = batch_size
        self.name = worker_name()
        self.run = WorkerRun()
        self._last_project = ""  # the project of its last batch: it takes the projects in turn
        self._renewed_at = 0.0
        # Tickets in hand are recorded, and rows given back, however long the database is away (until
        # ``stop``): a worker never forgets what the service accepted.
        self.outage = Outage(self.store.is_unavailable, stop or threading.Event(), "outbox worker")

    def reclaim(self) -> None:
        """Take back rows of workers that are gone: dead processes on this machine, and expired leases; and
        report what earlier reports left."""
        self.recorder.report_left()
        own_namespace = namespace()
        claims = self.store.sending()
        lost = [c for c in claims if c.worker != self.name and pid_gone(c.worker, own_namespace)]
        lost += [c for c in self.leases.expired(claims, self.settings.lease, self.name) if c not in lost]
        if lost:
            count = self.store.reclaim(lost)
            self.run.reclaimed += count
            logger.warning("expo-push: %d outbox notifications of a lost worker will be sent again", count)

    def release_own(self) -> None:
        """Give back every row this worker holds (between batches: a claim whose answer an outage lost)."""
        self.store.release_worker(self.name, self.clocks.schedule(), "the database went away during a claim")

    def send_batch(self) -> bool:
        """Claim and send one batch; return whether there was anything to claim.

        Once rows are claimed, however the rest ends (the send fails, the database goes away), the rows not
        recorded as sent are given back, and what the service accepted is recorded first, waiting out an
        outage of the database to do it.
        """
        settings, store, clocks = self.settings, self.store, self.clocks
        claimed = store.claim(
            clocks.schedule(), self.name, self.batch_size, after=self._last_project, lease=settings.lease
        )
        if not claimed:
            return False
        self._last_project = claimed[0].project or ""
        self.run.batches += 1
        batch: Batch | None = None
        failure = "the worker stopped before recording the tickets"
        try:
            messages = [decode_message(row.message) for row in claimed]
            dead: set[str] = set()
            if settings.skip_dead_tokens:
                dead = store.dead_among([t for m in messages for t in m.recipients])
            batch = Batch(claimed, messages, dead)
            self.run.skipped += batch.skipped_recipients
            if batch.skipped_rows:
                with store.transaction() as cur:
                    store.finish_sent(cur, clocks.wall(), self.name, batch.skipped_rows, state="skipped")
                batch.settled.update(batch.skipped_rows)
            failure = self._send(batch) or failure
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            settled = batch.settled if batch is not None else set()
            unsettled = [row.id for row in claimed if row.id not in settled]
            if unsettled:
                retry_at = clocks.schedule() + min(2.0**self.run.failed_batches, _MAX_SEND_BACKOFF)
                self.outage.retry(lambda: store.release(unsettled, self.name, retry_at, failure))
            if batch is not None and batch.in_doubt:
                self.run.in_doubt += batch.in_doubt
                logger.warning(
                    "expo-push: %d outbox notifications are in doubt (their request went out, its answer never"
                    " came): they are sent again (at-least-once)",
                    batch.in_doubt,
                )
        return True

    def _send(self, batch: Batch) -> str | None:
        """Send a batch, recording its tickets as they come; return why it failed (None: it did not)."""
        self._renewed_at = self.clocks.schedule()
        account = SendAccount()
        tickets = self._client_for(batch.rows[0].project).iter_send(batch.outgoing, account=account)
        try:
            for ticket in tickets:
                self._keep_claim()
                batch.accept(ticket)
                if len(batch.tickets) >= _FLUSH_TICKETS:
                    self._record(batch)
        except PushServerError as exc:
            self.run.failed_batches += 1
            logger.error(
                "expo-push: the outbox worker's send failed; those notifications wait and are tried again: %s", exc
            )
            return str(exc)
        finally:  # however the send ended: its account says what became of every recipient
            close = getattr(tickets, "close", None)
            if close is not None:
                close()
            batch.settle(account)
            self.learn_projects(account)
            if batch.to_record:
                self._record(batch)
        return None

    def _client_for(self, project: str | None) -> PushClient:
        """The worker's client, paced under ``project`` (a batch is of one project; None: the client's own)."""
        if project is None or project == getattr(self.client, "project", None):
            return self.client
        return self.client.with_options(project=project)

    def _keep_claim(self) -> None:
        """Renew the claim on the batch every quarter lease while tickets come back (the worker is alive)."""
        lease = self.settings.lease
        renew_every = lease / 4 if lease > 0 else float("inf")
        if self.clocks.schedule() - self._renewed_at >= renew_every:
            self._renewed_at = self.clocks.schedule()
            try:
                with self.store.transaction() as cur:
                    self.store.renew(cur, self._renewed_at, self.name)
            except Exception as exc:
                if not self.store.is_unavailable(exc):
                    raise
                self.outage.failed(exc)  # renewed at the next recording, once the database is back

    def _record(self, batch: Batch) -> None:
        """Record what the batch has ready, marking its rows sent, in one transaction."""
        self._renewed_at = self.clocks.schedule()
        tickets, keys, payloads, retries, finish = batch.take_recording(self.name)
        self.outage.retry(lambda: self.recorder.record(tickets, keys, payloads, retries, finish=finish))
        batch.settled.update(finish.sent)  # rows sent in part stay unsettled: released, their rest sent later
        self.run.sent += len(tickets)
