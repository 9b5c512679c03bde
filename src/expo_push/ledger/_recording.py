"""Recording tickets: rows built from tickets, error tickets acted on, dead tokens skipped, callbacks reported."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from .._errors import shown_text
from .._message import recipients_of
from .._models import PushTicket
from ._messages import (
    QueuedTickets,
    all_recipients,
    batch_and_keys,
    decode_message,
    encode,
    message_json,
    narrow,
    normalized,
    payload_text,
    resend_payload,
)
from ._models import DeadToken
from ._store import Cursor, NarrowedRow, OutboxEntry, QueueRow, TicketRow

if TYPE_CHECKING:
    from ._ledger import Ledger

__all__ = ["CONFIG_ERRORS", "Events", "FinishRows", "Recorder", "SendPlan"]

logger = logging.getLogger("expo_push.ledger")

CONFIG_ERRORS = frozenset(("InvalidCredentials", "MismatchSenderId"))
"""Codes that mean the app's push set-up is wrong, not the notification: reported once per code."""

_LOG_ROW_TICKETS = 2000  # accepted tickets per row of the receipt queue
_REPORT_AT_ONCE = 1000  # deaths left to report read at a time


@dataclass
class Events:
    """What a transaction found, reported to the application after it commits."""

    dead: list[DeadToken] = field(default_factory=list)
    config: list[tuple[str, str | None]] = field(default_factory=list)
    resends: int = 0


@dataclass(frozen=True)
class FinishRows:
    """Outbox rows a recording settles: ``sent`` rows are done, ``narrowed`` ones owe some recipients still."""

    worker: str
    sent: Sequence[int]
    narrowed: Sequence[NarrowedRow] = ()


class SendPlan:
    """One recorded send: the messages that go out (dead recipients removed), and the key of each; tickets
    are then attributed to their message by position, never by token."""

    def __init__(self, outgoing: list[Any], keys: Sequence[str | None], skipped: list[tuple[int, str]]) -> None:
        self.outgoing = outgoing
        self.keys = keys
        self.skipped = skipped
        """(ticket position, token) of each recipient not sent to because its token is dead."""
        self._counts = [len(recipients_of(m) or ()) for m in outgoing]
        self._recipients = sum(self._counts)
        self._payloads: dict[int, Any] = {}

    def _payload(self, index: int) -> Any:
        payload = self._payloads.get(index)
        if payload is None:
            payload = self._payloads[index] = resend_payload(self.outgoing[index], self._counts[index])
        return payload

    def attribute(self, tickets: Sequence[PushTicket]) -> tuple[Sequence[str | None], Sequence[Any]]:
        """The key and message (as kept to resend) of each ticket, by the ticket's position."""
        if len(tickets) == self._recipients and len(tickets) == len(self.outgoing):
            return self.keys, self.outgoing  # every recipient answered, one per message: in input order
        keys: list[str | None] = []
        payloads: list[Any] = []
        for ticket in tickets:
            position = ticket.position
            if position is None or not 0 <= position.message < len(self.outgoing):
                raise ValueError(f"a ticket without a position in this send: {ticket!r}")
            keys.append(self.keys[position.message])
            payloads.append(self._payload(position.message))
        return keys, payloads


class Recorder:
    """Stores tickets and acts on error tickets for one ``Ledger`` (whose settings it reads as they are now)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.store = ledger._store
        self._reported_config: set[str] = set()  # codes whose callback returned
        self._config_due: dict[str, str | None] = {}  # codes whose callback raised: called again later
        self._dead_due = True  # deaths may wait to be reported (a callback raised, or a process ended before)
        self._report_lock = threading.Lock()

    def ticket_row(
        self, ticket: PushTicket, key: str | None, sent_at: float, message: str | None, retries: int
    ) -> TicketRow:
        """The tickets-table row of ``ticket``."""
        ok = ticket.status == "ok"
        return TicketRow(
            key,
            ticket.to or "",
            ticket.id,
            ticket.status,
            None if ok else ticket.error_code,
            None if ok else ticket.message,
            sent_at,
            sent_at + self.ledger.receipt_delay if ok and ticket.id else None,
            message,
            retries,
        )

    def record(
        self,
        tickets: Sequence[PushTicket],
        keys: Sequence[str | None],
        messages: Sequence[Any],
        retries: Sequence[int] | None = None,
        *,
        sent_at: float | None = None,
        finish: FinishRows | None = None,
    ) -> None:
        """Store tickets with their keys, messages and resends so far, acting on error tickets, in one transaction.

        Accepted tickets go to the receipt queue as a few compact rows (cheap on
        the send path: a handful of objects, whatever the number of tickets);
        each becomes a row of its own when its receipt is due. Error tickets
        (rare) get their row at once. ``finish`` marks outbox rows of a worker
        sent, gives those sent in part the message to their recipients still
        owed, and renews the lease of the worker's other rows, all in the same
        transaction.
        """
        ledger = self.ledger
        now = ledger._clock()
        sent = now if sent_at is None else sent_at
        counts = list(retries) if retries is not None else [0] * len(tickets)
        refused = [i for i, t in enumerate(tickets) if t.status != "ok" or not t.id]
        errors = [self.ticket_row(tickets[i], keys[i], sent, payload_text(messages[i]), counts[i]) for i in refused]
        if refused:
            accepted = sorted(set(range(len(tickets))) - set(refused))
            tickets = [tickets[i] for i in accepted]
            keys = [keys[i] for i in accepted]
            messages = [messages[i] for i in accepted]
            counts = [counts[i] for i in accepted]
        log = []
        for start in range(0, len(tickets), _LOG_ROW_TICKETS):
            part = slice(start, start + _LOG_ROW_TICKETS)
            chunk = tickets[part]
            queued = QueuedTickets(
                list(keys[part]),
                [t.to or "" for t in chunk],
                [t.id or "" for t in chunk],
                list(messages[part]),
                counts[part],
            )
            log.append(QueueRow(sent, sent + ledger.receipt_delay, len(chunk), encode(queued).decode()))
        events = Events()
        store = self.store
        with store.transaction() as cur:
            store.insert_log(cur, log)
            store.insert_tickets(cur, errors)
            if finish is not None:
                store.finish_sent(cur, now, finish.worker, finish.sent)
                store.narrow_outbox(cur, finish.worker, finish.narrowed)
                store.renew(cur, ledger._lease_clock(), finish.worker)
            for row in errors:
                if row.error_code is not None:
                    self.act_on_error(
                        cur, events, row.error_code, row.error_message, row.token, None, sent, now,
                        row.key, row.message, row.retries, f"expo-push:resend:{uuid.uuid4().hex}",
                    )  # fmt: skip
        self.report(events)

    def act_on_error(
        self,
        cur: Cursor,
        events: Events,
        code: str,
        message: str | None,
        token: str,
        ticket_id: str | None,
        sent_at: float,
        now: float,
        key: str | None,
        payload: str | None,
        retries: int,
        resend_key: str,
    ) -> None:
        """Act on an error of a ticket or receipt, inside the caller's transaction: a dead token is marked, a
        notification refused with ``MessageRateExceeded`` rescheduled, a set-up error noted for ``report``."""
        ledger = self.ledger
        if code == "DeviceNotRegistered":
            if self.store.mark_dead(cur, token, now, code, message, ticket_id, sent_at, ledger.on_dead_token is None):
                events.dead.append(DeadToken(token, now, code, message, ticket_id))
        elif code == "MessageRateExceeded":
            if payload is None:
                logger.warning(
                    "expo-push: MessageRateExceeded for a notification the ledger cannot resend "
                    "(recorded without its message)"
                )
            elif retries >= ledger.max_rate_retries:
                logger.warning(
                    "expo-push: giving up on a notification after %d resends refused with MessageRateExceeded", retries
                )
            else:
                narrowed = msgspec.structs.replace(decode_message(payload), to=token)
                ready_at = ledger._lease_clock() + ledger.rate_retry_delay * (2**retries)
                entry = OutboxEntry(resend_key, key, message_json(narrowed), 1, now, ready_at, retries + 1)
                events.resends += self.store.insert_outbox(cur, [entry])
        elif code in CONFIG_ERRORS:
            events.config.append((code, message))

    def report(self, events: Events) -> None:
        """Tell the application what a committed transaction found: set-up errors once per code, dead tokens.

        A callback that raises is logged and called again at a later report (a dead token stays "to report"
        in the database until ``on_dead_token`` returned for it, even across processes); it never undoes what
        was recorded nor stops the caller.
        """
        self._report_config(events.config)
        self._report_dead(events.dead)

    def report_left(self) -> None:
        """Report what earlier reports left (callbacks that raised, deaths a process that ended did not report)."""
        if self._dead_due or self._config_due:
            self.report(Events())

    def _report_config(self, found: Sequence[tuple[str, str | None]]) -> None:
        callback = self.ledger.on_config_error
        with self._report_lock:
            due = {code: message for code, message in found if code not in self._reported_config}
            fresh = [code for code in due if code not in self._config_due]
            for code, message in self._config_due.items():
                due.setdefault(code, message)
            self._config_due.update(due)
            if callback is None:
                self._reported_config.update(due)
                self._config_due.clear()
        for code in fresh:
            logger.error(
                "expo-push: %s: the app's push credentials need fixing (%s); further %s errors "
                "are not reported again by this ledger",
                shown_text(code),
                shown_text(due[code] or "no message"),
                shown_text(code),
            )
        if callback is None:
            return
        for code, message in due.items():
            if self._call(callback, "on_config_error", code, message):
                with self._report_lock:
                    self._reported_config.add(code)
                    self._config_due.pop(code, None)

    def _report_dead(self, found: Sequence[DeadToken]) -> None:
        callback = self.ledger.on_dead_token
        if callback is None:
            return
        if self._dead_due:  # deaths left to report, by this process or another: all of them, oldest first
            self._dead_due = False
            found = self.store.unreported_dead(_REPORT_AT_ONCE)
            if len(found) == _REPORT_AT_ONCE:
                self._dead_due = True
        reported = []
        for dead in found:
            if self._call(callback, "on_dead_token", dead):
                reported.append(dead)
            else:
                self._dead_due = True
        self.store.mark_reported(reported, self.ledger._clock())

    @staticmethod
    def _call(callback: Callable[..., object], name: str, *args: Any) -> bool:
        """Call a callback of the application; return whether it returned (what it raised is logged)."""
        try:
            callback(*args)
        except Exception:
            logger.exception("expo-push: %s raised; it is called again for the same event later", name)
            return False
        return True

    def plan_send(self, messages: Any, keys: Sequence[str | None] | None) -> SendPlan:
        """What a recorded send sends: the messages (dead recipients removed, each made the ``PushMessage`` the
        client would), and their keys."""
        outgoing, out_keys, skipped = self._skip_dead(*batch_and_keys(messages, keys))
        return SendPlan(normalized(outgoing), out_keys, skipped)

    def _skip_dead(
        self, batch: list[Any], keys: Sequence[str | None] | None
    ) -> tuple[list[Any], Sequence[str | None], list[tuple[int, str]]]:
        """The messages to send (dead recipients removed), their keys, and (ticket position, token) of those skipped."""
        out_keys: Sequence[str | None] = keys if keys is not None else [None] * len(batch)
        if not self.ledger.skip_dead_tokens:
            return batch, out_keys, []
        dead = self.store.dead_among(all_recipients(batch))
        if not dead:
            return batch, out_keys, []
        outgoing: list[Any] = []
        kept_keys: list[str | None] = []
        skipped: list[tuple[int, str]] = []
        position = 0
        for message, key in zip(batch, out_keys, strict=True):
            tokens = recipients_of(message)
            if tokens is None or dead.isdisjoint(tokens):
                outgoing.append(message)
                kept_keys.append(key)
                position += len(tokens or ())
                continue
            for token in tokens:
                if token in dead:
                    skipped.append((position, token))
                position += 1
            kept = [t for t in tokens if t not in dead]
            if kept:
                outgoing.append(narrow(message, kept))
                kept_keys.append(key)
        return outgoing, kept_keys, skipped
