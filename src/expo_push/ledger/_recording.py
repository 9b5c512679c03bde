"""Recording tickets: rows built from tickets, error tickets acted on, dead tokens skipped, callbacks reported."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._errors import shown_text
from .._models import PushTicket
from .._service import DEVICE_NOT_REGISTERED, INVALID_CREDENTIALS, MESSAGE_RATE_EXCEEDED, MISMATCH_SENDER_ID
from ._messages import QueuedTickets, decode_message, encode, message_json, narrow, payload_text
from ._models import DeadToken
from ._parts import Parts
from ._rows import Cursor, NarrowedRow, OutboxEntry, QueueRow, TicketRow

__all__ = ["CONFIG_ERRORS", "Events", "FinishRows", "Recorder"]

logger = logging.getLogger("expo_push.ledger")

CONFIG_ERRORS = frozenset((INVALID_CREDENTIALS, MISMATCH_SENDER_ID))
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
    project: str | None = None
    """The batch's Expo project (a resend after ``MessageRateExceeded`` goes under it)."""


class Recorder:
    """Stores tickets and acts on error tickets for one ``Ledger`` (whose settings it reads as they are now)."""

    def __init__(self, parts: Parts) -> None:
        self.settings = parts.settings
        self.clocks = parts.clocks
        self.store = parts.store
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
            sent_at + self.settings.receipt_delay if ok and ticket.id else None,
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
        settings = self.settings
        now = self.clocks.wall()
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
            log.append(QueueRow(sent, sent + settings.receipt_delay, len(chunk), encode(queued).decode()))
        events = Events()
        store = self.store
        with store.transaction() as cur:
            store.insert_log(cur, log)
            store.insert_tickets(cur, errors)
            if finish is not None:
                store.finish_sent(cur, now, finish.worker, finish.sent)
                store.narrow_outbox(cur, finish.worker, finish.narrowed)
                store.renew(cur, self.clocks.schedule(), finish.worker)
            for row in errors:
                if row.error_code is not None:
                    self.act_on_error(
                        cur,
                        events,
                        code=row.error_code,
                        message=row.error_message,
                        token=row.token,
                        ticket_id=None,
                        sent_at=sent,
                        now=now,
                        key=row.key,
                        payload=row.message,
                        retries=row.retries,
                        resend_key=f"expo-push:resend:{uuid.uuid4().hex}",
                        project=finish.project if finish is not None else None,
                    )
        self.report_committed(events)

    def record_in_doubt(self, rows: Sequence[tuple[str | None, str, str]]) -> None:
        """Record recipients in doubt after a send, ``(key, token, message JSON)`` each: their request went out
        and no answer came, so they may have been delivered. Rows of status ``in_doubt``, no receipt to fetch;
        the message is kept for whoever decides to resend."""
        if not rows:
            return
        now = self.clocks.wall()
        tickets = [
            TicketRow(
                key=key,
                token=token,
                ticket_id=None,
                status="in_doubt",
                error_code=None,
                error_message=None,
                sent_at=now,
                receipt_due_at=None,
                message=message,
                retries=0,
            )
            for key, token, message in rows
        ]
        with self.store.transaction() as cur:
            self.store.insert_tickets(cur, tickets)

    def report_committed(self, events: Events) -> None:
        """``report`` after a commit: the database going away now leaves the deaths to report later, and never
        makes the caller think the recording failed (and record it again)."""
        try:
            self.report(events)
        except Exception as exc:
            if not self.store.is_unavailable(exc):
                raise
            self._dead_due = True
            logger.warning("expo-push: the ledger's database went away before dead tokens were reported: later")

    def act_on_error(
        self,
        cur: Cursor,
        events: Events,
        *,
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
        project: str | None = None,
    ) -> None:
        """Act on an error of a ticket or receipt, inside the caller's transaction: a dead token is marked, a
        notification refused with ``MessageRateExceeded`` rescheduled (under ``project``, else the token's
        known project: never the unnamed budget when the project is known), a set-up error noted for
        ``report``."""
        settings = self.settings
        if code == DEVICE_NOT_REGISTERED:
            if self.store.mark_dead(cur, token, now, code, message, ticket_id, sent_at, settings.on_dead_token is None):
                events.dead.append(DeadToken(token, now, code, message, ticket_id))
        elif code == MESSAGE_RATE_EXCEEDED:
            if payload is None:
                logger.warning(
                    "expo-push: MessageRateExceeded for a notification the ledger cannot resend "
                    "(recorded without its message)"
                )
            elif retries >= settings.max_rate_retries:
                logger.warning(
                    "expo-push: giving up on a notification after %d resends refused with MessageRateExceeded", retries
                )
            else:
                narrowed = narrow(decode_message(payload), [token])
                ready_at = self.clocks.schedule() + settings.rate_retry_delay * (2**retries)
                entry = OutboxEntry(
                    key=resend_key,
                    ref=key,
                    message=message_json(narrowed),
                    recipients=1,
                    enqueued_at=now,
                    not_before=ready_at,
                    retries=retries + 1,
                    project=project if project is not None else self.store.project_of(cur, token),
                )
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
        callback = self.settings.on_config_error
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
        callback = self.settings.on_dead_token
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
        self.store.mark_reported(reported, self.clocks.wall())

    @staticmethod
    def _call(callback: Callable[..., object], name: str, *args: Any) -> bool:
        """Call a callback of the application; return whether it returned (what it raised is logged)."""
        try:
            callback(*args)
        except Exception:
            logger.exception("expo-push: %s raised; it is called again for the same event later", name)
            return False
        return True
