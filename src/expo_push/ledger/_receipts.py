"""Receipts: which are due, what each answer means (a pure planning step), and thin sync and async drivers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from .._errors import PushServerError
from .._models import PushReceipt
from .._service import MAX_RECEIPT_IDS_PER_REQUEST, MESSAGE_RATE_EXCEEDED
from ._messages import decode_queue, payload_text
from ._models import PendingReceipt, ReceiptCheck
from ._outage import Outage
from ._parts import Parts
from ._recording import Events, Recorder
from ._rows import DueReceipt, QueueRow, ReceiptOutcome, Repoll, StoredTicket, TicketRow
from ._store import Store

if TYPE_CHECKING:
    from .._async_client import AsyncPushClient
    from .._client import PushClient

__all__ = [
    "ErrorReceipt",
    "ReceiptPlan",
    "ReceiptRun",
    "check_receipts",
    "check_receipts_async",
    "pending_receipts",
    "plan_receipts",
    "unpack",
    "watch_receipts",
    "watch_receipts_async",
]

logger = logging.getLogger("expo_push.ledger")

RECEIPT_PAGE = MAX_RECEIPT_IDS_PER_REQUEST
_UNPACK_ROWS = 5  # receipt queue rows turned into ticket rows per transaction


class ErrorReceipt(NamedTuple):
    """An error receipt to act on."""

    row_id: int
    code: str
    message: str | None
    token: str
    ticket_id: str
    sent_at: float


@dataclass
class ReceiptPlan:
    """What to store for one page of receipts: outcomes, tickets to ask again, errors to act on."""

    settled: list[ReceiptOutcome] = field(default_factory=list)
    repoll: list[Repoll] = field(default_factory=list)
    errors: list[ErrorReceipt] = field(default_factory=list)


def plan_receipts(
    due: Sequence[DueReceipt],
    receipts: Mapping[str, PushReceipt],
    now: float,
    *,
    retention: float,
    recheck_interval: float,
    summary: ReceiptCheck,
    partial: bool = False,
) -> ReceiptPlan:
    """What the answer ``receipts`` to the ids of ``due`` means, counted into ``summary`` (no I/O).

    ``partial``: the request failed part-way; ids without an answer were not asked successfully and are
    due again at once, uncounted. Otherwise an id without a receipt is asked again after
    ``recheck_interval``, and given up on (``missing``) ``retention`` seconds after its send.
    """
    plan = ReceiptPlan()
    for item in due:
        receipt = receipts.get(item.ticket_id)
        if receipt is None:
            if partial:
                plan.repoll.append(Repoll(now, item.row_id))
                continue
            summary.checked += 1
            expires = item.sent_at + retention
            if now >= expires:
                plan.settled.append(ReceiptOutcome("missing", None, None, now, item.row_id))
                summary.missing += 1
            else:
                plan.repoll.append(Repoll(min(now + recheck_interval, expires), item.row_id))
                summary.waiting += 1
            continue
        summary.checked += 1
        if receipt.ok:
            plan.settled.append(ReceiptOutcome("ok", None, None, now, item.row_id))
            summary.ok += 1
            continue
        code = receipt.error_code or "unknown"
        plan.settled.append(ReceiptOutcome("error", code, receipt.message, now, item.row_id))
        summary.errors[code] = summary.errors.get(code, 0) + 1
        plan.errors.append(ErrorReceipt(item.row_id, code, receipt.message, item.token, item.ticket_id, item.sent_at))
    return plan


def unpack(row: QueueRow) -> list[TicketRow]:
    """The ticket rows of one receipt queue row."""
    queued = decode_queue(row.entries)
    return [
        TicketRow(key, token, ticket_id, "ok", None, None, row.sent_at, row.due_at, payload_text(message), retries)
        for key, token, ticket_id, message, retries in zip(
            queued.key, queued.to, queued.id, queued.message, queued.retries, strict=True
        )
    ]


class ReceiptRun:
    """One receipts check: the database side of it, page by page, for a driver that makes the requests."""

    def __init__(self, parts: Parts, recorder: Recorder) -> None:
        self.settings = parts.settings
        self.store = parts.store
        self.recorder = recorder
        self.now = parts.clocks.wall()
        self.summary = ReceiptCheck()
        self._unpacked = False
        self._last_page_full = True

    def next_due(self) -> tuple[list[DueReceipt], float]:
        """Claim the next page of receipts due, and until when it is held; an empty page ends the check."""
        if not self._unpacked:
            self.recorder.report_left()
            while self.store.unpack_due(self.now, _UNPACK_ROWS, unpack):
                pass
            self._unpacked = True
        if not self._last_page_full:
            return [], self.now
        held = self.now + self.settings.recheck_interval
        due = self.store.due_receipts(self.now, held, RECEIPT_PAGE)
        self._last_page_full = len(due) == RECEIPT_PAGE
        return due, held

    def settle(
        self, due: Sequence[DueReceipt], held: float, receipts: Mapping[str, PushReceipt], partial: bool = False
    ) -> None:
        """Store what the answer to a page means and act on its errors, in one transaction; then report.

        An answer holding ids never asked for is not trusted at all (a broken or hostile answer): the page is
        due again, nothing counted.
        """
        settings, store = self.settings, self.store
        asked = {item.ticket_id for item in due}
        stray = sum(1 for ticket_id in receipts if ticket_id not in asked)
        if stray:
            logger.warning(
                "expo-push: a receipts answer held %d ids never asked for: none of it is used, those receipts"
                " are asked again",
                stray,
            )
            receipts, partial = {}, True
        plan = plan_receipts(
            due,
            receipts,
            self.now,
            retention=settings.receipt_retention,
            recheck_interval=settings.recheck_interval,
            summary=self.summary,
            partial=partial,
        )
        events = Events()
        with store.transaction() as cur:
            store.settle_receipts(cur, plan.settled, plan.repoll, held)
            needs_row = [e.row_id for e in plan.errors if e.code == MESSAGE_RATE_EXCEEDED]
            rows = {r.row_id: r for r in store.ticket_rows(cur, needs_row)} if needs_row else {}
            for error in plan.errors:
                stored = rows.get(error.row_id) or StoredTicket(error.row_id, None, None, 0)
                self.recorder.act_on_error(
                    cur,
                    events,
                    code=error.code,
                    message=error.message,
                    token=error.token,
                    ticket_id=error.ticket_id,
                    sent_at=error.sent_at,
                    now=self.now,
                    key=stored.key,
                    payload=stored.message,
                    retries=stored.retries,
                    resend_key=f"expo-push:resend:ticket:{error.row_id}",
                )
        self.summary.dead_tokens.extend(events.dead)
        self.summary.resends += events.resends
        self.recorder.report_committed(events)


def check_receipts(parts: Parts, recorder: Recorder, client: PushClient) -> ReceiptCheck:
    """The sync driver of a receipts check."""
    run = ReceiptRun(parts, recorder)
    while True:
        due, held = run.next_due()
        if not due:
            return run.summary
        try:
            receipts = client.get_receipts([d.ticket_id for d in due])
        except PushServerError as exc:
            run.settle(due, held, exc.receipts, partial=True)
            raise
        run.settle(due, held, receipts)


async def check_receipts_async(parts: Parts, recorder: Recorder, client: AsyncPushClient) -> ReceiptCheck:
    """The async driver of a receipts check: database work (and callbacks) run off the event loop."""
    run = ReceiptRun(parts, recorder)
    while True:
        due, held = await asyncio.to_thread(run.next_due)
        if not due:
            return run.summary
        try:
            receipts = await client.get_receipts([d.ticket_id for d in due])
        except PushServerError as exc:
            await asyncio.to_thread(run.settle, due, held, exc.receipts, True)
            raise
        await asyncio.to_thread(run.settle, due, held, receipts)


def watch_receipts(
    parts: Parts,
    recorder: Recorder,
    client: PushClient,
    stop: threading.Event,
    interval: float,
    on_check: Callable[[ReceiptCheck], object] | None,
) -> None:
    """The sync receipts watcher: a check every ``interval`` seconds until ``stop`` is set."""
    outage = Outage(parts.store.is_unavailable, stop, "receipts watcher")
    while not stop.is_set():
        try:
            summary = check_receipts(parts, recorder, client)
        except Exception as exc:
            _check_failed(parts.store, exc, outage, interval)
        else:
            _checked(summary, outage, on_check)
        stop.wait(interval)


async def watch_receipts_async(
    parts: Parts,
    recorder: Recorder,
    client: AsyncPushClient,
    stop: asyncio.Event,
    interval: float,
    on_check: Callable[[ReceiptCheck], object] | None,
) -> None:
    """The asyncio receipts watcher: a check every ``interval`` seconds until ``stop`` is set."""
    outage = Outage(parts.store.is_unavailable, threading.Event(), "receipts watcher")  # never paused: no stop
    while not stop.is_set():
        try:
            summary = await check_receipts_async(parts, recorder, client)
        except Exception as exc:
            _check_failed(parts.store, exc, outage, interval)
        else:
            _checked(summary, outage, on_check)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


def _check_failed(store: Store, exc: Exception, outage: Outage, interval: float) -> None:
    """A watcher's check raised: logged and tried again at the next check, or an outage waited out."""
    if isinstance(exc, PushServerError):
        logger.warning("expo-push: receipts check failed, trying again in %.0f s: %s", interval, exc)
    elif store.is_unavailable(exc):
        outage.failed(exc)
    else:
        raise exc


def _checked(summary: ReceiptCheck, outage: Outage, on_check: Callable[[ReceiptCheck], object] | None) -> None:
    outage.succeeded()
    if on_check is not None:
        on_check(summary)


def pending_receipts(store: Store, limit: int | None) -> list[PendingReceipt]:
    """Tickets still waiting for a receipt, oldest first (at most ``limit``), from rows and the queue alike."""
    rows, queue = store.pending_receipts(limit)
    pending = [PendingReceipt(*row) for row in rows]
    for row in queue:
        if limit is not None and len(pending) >= limit:
            break
        queued = decode_queue(row.entries)
        pending.extend(
            PendingReceipt(ticket_id, token, key, row.sent_at, row.due_at)
            for key, token, ticket_id in zip(queued.key, queued.to, queued.id, strict=True)
        )
    pending.sort(key=lambda p: p.sent_at)
    return pending if limit is None else pending[:limit]
