"""The outbox: rows enqueued, and the worker that claims them in batches, sends them and records their tickets."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from .._errors import PushServerError
from .._message import PreparedMessage, PushMessage
from .._models import PushTicket
from ._messages import decode_message, message_json, resend_payload
from ._models import WorkerRun
from ._process import namespace, pid_gone, worker_name
from ._recording import FinishRows
from ._store import ClaimedRow, NarrowedRow, OutboxEntry

if TYPE_CHECKING:
    from .._client import PushClient
    from ._ledger import Ledger

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

    Tickets are collected per row; a row whose every recipient has its ticket is ready to be recorded
    (and marked sent) with them. After a failed send, ``salvage`` takes the tickets the error carried and
    narrows rows sent in part to their recipients still owed.
    """

    def __init__(self, rows: list[ClaimedRow], dead: set[str]) -> None:
        self.rows = rows
        self.messages = [decode_message(row.message) for row in rows]
        self.outgoing: list[PushMessage] = []
        self.skipped_rows: list[int] = []  # ids of rows whose every recipient is dead
        self.skipped_recipients = 0
        self._sent_to: dict[int, list[str]] = {}  # row index -> its recipients sent to
        self._owner: list[int] = []  # row index of each outgoing recipient, in order
        self._tokens: list[str] = []  # token of each outgoing recipient, in order
        self._remaining = [0] * len(rows)
        self._collected: dict[int, list[PushTicket]] = {}
        self._position = 0  # outgoing recipients answered so far, in order
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
                message = msgspec.structs.replace(message, to=kept if isinstance(message.to, list) else kept[0])
            self.outgoing.append(message)
            self._sent_to[index] = kept
            self._owner.extend([index] * len(kept))
            self._tokens.extend(kept)
            self._remaining[index] = len(kept)

    def accept(self, ticket: PushTicket) -> None:
        """Take the next ticket of the send, in order."""
        index = self._owner[self._position]
        self._position += 1
        self._collect(index, ticket)

    def _collect(self, index: int, ticket: PushTicket) -> None:
        self._collected.setdefault(index, []).append(ticket)
        self._remaining[index] -= 1
        if self._remaining[index] == 0:
            self._take(index)
            self.done.append(self.rows[index].id)

    def _take(self, index: int) -> None:
        """Move the tickets collected for row ``index`` to the next recording."""
        row = self.rows[index]
        message = resend_payload(msgspec.Raw(row.message.encode()), row.recipients)
        tickets = self._collected.pop(index)
        self.tickets.extend(tickets)
        self.keys.extend([row.ref] * len(tickets))
        self.payloads.extend([message] * len(tickets))
        self.retries.extend([row.retries] * len(tickets))

    def salvage(self, exc: PushServerError) -> None:
        """After a failed send: keep the accepted tickets ``exc`` carries, and narrow rows sent in part.

        A ticket is kept when its owner is unambiguous (the same token twice among the recipients not yet
        answered is sent again: at-least-once). A row with some tickets keeps only its recipients still owed
        (what ``exc.unsent`` holds for it), so a retry resends nothing that was accepted.
        """
        rest = range(self._position, len(self._owner))
        counts = Counter(self._tokens[p] for p in rest)
        where = {self._tokens[p]: p for p in rest}
        for ticket in exc.tickets:
            if ticket.to is not None and counts.get(ticket.to) == 1:
                self._collect(self._owner[where[ticket.to]], ticket)
        for index in list(self._collected):
            owed = Counter(self._sent_to[index])
            owed.subtract(t.to or "" for t in self._collected[index])
            message = self.messages[index]
            still: list[str] = []
            for recipient in message.recipients:
                if owed[recipient] > 0:
                    owed[recipient] -= 1
                    still.append(recipient)
            narrowed = message_json(msgspec.structs.replace(message, to=still))
            self.narrowed.append(NarrowedRow(self.rows[index].id, narrowed, len(still)))
            self._take(index)

    @property
    def to_record(self) -> bool:
        """Whether there are tickets or settled rows not recorded yet."""
        return bool(self.tickets or self.done or self.narrowed)

    def take_recording(
        self, worker: str
    ) -> tuple[list[PushTicket], list[str | None], list[Any], list[int], FinishRows]:
        """What the next recording stores, and the rows it finishes; the batch then forgets them."""
        out = (self.tickets, self.keys, self.payloads, self.retries, FinishRows(worker, self.done, self.narrowed))
        self.tickets, self.keys, self.payloads, self.retries, self.done, self.narrowed = [], [], [], [], [], []
        return out

    def unsettled(self) -> list[int]:
        """Ids of the rows neither recorded nor skipped."""
        return [row.id for row in self.rows if row.id not in self.settled]


class Worker:
    """One outbox worker: claims batches, sends them, records their tickets as chunks come back."""

    def __init__(self, ledger: Ledger, client: PushClient, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
        self.ledger = ledger
        self.store = ledger._store
        self.client = client
        self.batch_size = batch_size
        self.name = worker_name()
        self.run = WorkerRun()
        self._last_project = ""  # the project of its last batch: it takes the projects in turn
        self._renewed_at = 0.0

    def reclaim(self) -> None:
        """Take back rows of workers that are gone: dead processes on this machine, and expired leases; and
        report what earlier reports left."""
        self.ledger._recorder.report_left()
        now = self.ledger._lease_clock()
        own_namespace = namespace()
        lost = [
            claim
            for claim in self.store.sending()
            if claim.worker != self.name
            and (claim.claimed_at + self.ledger.lease <= now or pid_gone(claim.worker, own_namespace))
        ]
        if lost:
            count = self.store.reclaim(lost)
            self.run.reclaimed += count
            logger.warning("expo-push: %d outbox notifications of a lost worker will be sent again", count)

    def send_batch(self) -> bool:
        """Claim and send one batch; return whether there was anything to claim."""
        ledger, store = self.ledger, self.store
        claimed = store.claim(ledger._lease_clock(), self.name, self.batch_size, after=self._last_project)
        if not claimed:
            return False
        self._last_project = claimed[0].project or ""
        self.run.batches += 1
        dead: set[str] = set()
        if ledger.skip_dead_tokens:
            dead = store.dead_among([t for row in claimed for t in decode_message(row.message).recipients])
        batch = Batch(claimed, dead)
        self.run.skipped += batch.skipped_recipients
        if batch.skipped_rows:
            with store.transaction() as cur:
                store.finish_sent(cur, ledger._clock(), self.name, batch.skipped_rows, state="skipped")
            batch.settled.update(batch.skipped_rows)
        self._renewed_at = ledger._lease_clock()
        failure = "the worker stopped before recording the tickets"
        client = self._client_for(claimed[0].project)
        try:
            try:
                for ticket in client.iter_send(batch.outgoing):
                    self._keep_claim()
                    batch.accept(ticket)
                    if len(batch.tickets) >= _FLUSH_TICKETS:
                        self._record(batch)
            except PushServerError as exc:
                failure = str(exc)
                self.run.failed_batches += 1
                logger.error(
                    "expo-push: the outbox worker's send failed; those notifications wait and are tried again: %s", exc
                )
                batch.salvage(exc)
            if batch.to_record:
                self._record(batch)
        finally:
            unsettled = batch.unsettled()
            if unsettled:
                retry_at = ledger._lease_clock() + min(2.0**self.run.failed_batches, _MAX_SEND_BACKOFF)
                store.release(unsettled, self.name, retry_at, failure)
        return True

    def _client_for(self, project: str | None) -> PushClient:
        """The worker's client, paced under ``project`` (a batch is of one project; None: the client's own)."""
        if project is None or project == getattr(self.client, "project", None):
            return self.client
        return self.client.with_options(project=project)

    def _keep_claim(self) -> None:
        """Renew the claim on the batch every quarter lease while tickets come back (the worker is alive)."""
        ledger = self.ledger
        renew_every = ledger.lease / 4 if ledger.lease > 0 else float("inf")
        if ledger._lease_clock() - self._renewed_at >= renew_every:
            self._renewed_at = ledger._lease_clock()
            with self.store.transaction() as cur:
                self.store.renew(cur, self._renewed_at, self.name)

    def _record(self, batch: Batch) -> None:
        """Record what the batch has ready, marking its rows sent, in one transaction."""
        self._renewed_at = self.ledger._lease_clock()
        tickets, keys, payloads, retries, finish = batch.take_recording(self.name)
        self.ledger._recorder.record(tickets, keys, payloads, retries, finish=finish)
        batch.settled.update(finish.sent)  # rows sent in part stay unsettled: released, their rest sent later
        self.run.sent += len(tickets)
