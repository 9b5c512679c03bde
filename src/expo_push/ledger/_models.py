"""What the ledger reports: dead tokens, receipt checks, worker runs, statistics."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._defaults import DEFAULT_BATCH_SIZE, DEFAULT_LEASE

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_LEASE",
    "DeadToken",
    "LedgerStats",
    "OutboxBacklog",
    "PendingReceipt",
    "ReceiptCheck",
    "WorkerRun",
]



@dataclass(frozen=True)
class DeadToken:
    """A token the service reported ``DeviceNotRegistered`` for: delete it from your database.

    ``died_at`` is the ledger's clock (seconds since the epoch by default) when
    the death was recorded, ``reason`` the error code, ``message`` the
    service's words, ``ticket_id`` the ticket whose receipt said so (``None``
    when an error ticket said so at send time).
    """

    token: str
    died_at: float
    reason: str
    message: str | None = None
    ticket_id: str | None = None


@dataclass(frozen=True)
class PendingReceipt:
    """A ticket still waiting for its receipt: fetched at ``due_at`` or later."""

    ticket_id: str
    token: str
    key: str | None
    sent_at: float
    due_at: float


@dataclass
class ReceiptCheck:
    """What one ``check_receipts`` call did."""

    checked: int = 0
    """Ticket ids asked for."""
    ok: int = 0
    """Receipts ``ok``: Apple or Google accepted the notification."""
    errors: dict[str, int] = field(default_factory=dict)
    """Error receipts by code."""
    waiting: int = 0
    """Ids with no receipt yet, to be asked again later."""
    missing: int = 0
    """Ids given up on: no receipt within the retention limit."""
    dead_tokens: list[DeadToken] = field(default_factory=list)
    """Tokens newly found dead."""
    resends: int = 0
    """Notifications rescheduled after ``MessageRateExceeded``."""


@dataclass
class WorkerRun:
    """What a worker (``drain`` or ``run_worker``) did."""

    batches: int = 0
    """Batches claimed from the outbox."""
    sent: int = 0
    """Tickets recorded (one per recipient)."""
    skipped: int = 0
    """Recipients not sent to because their token is dead."""
    failed_batches: int = 0
    """Batches the service refused for good (their rows wait and are tried again later)."""
    reclaimed: int = 0
    """Outbox rows taken back from a worker that was lost mid-send (they are sent again)."""
    in_doubt: int = 0
    """Recipients whose request went out and whose answer never came (the send was interrupted, or the
    connection dropped): kept in the outbox and sent again, so they may arrive twice."""


@dataclass(frozen=True)
class LedgerStats:
    """Counts of recorded tickets sent in a time range, and the state of the outbox.

    ``outcomes`` maps ``(ticket status, receipt state, error code)`` to a count,
    where the receipt state is ``"pending"``, ``"ok"``, ``"error"``,
    ``"missing"`` (none within the retention limit) or ``"none"`` (no receipt
    to fetch: an error ticket, or an ``ok`` ticket without an id); the other
    fields are sums over it.
    """

    outcomes: dict[tuple[str, str, str | None], int]
    outbox: dict[str, int]
    """Outbox rows by state (``pending``, ``sending``, ``sent``, ``skipped``); ``resent``: recipients
    sent again because a worker was lost mid-send; ``in_doubt``: recipients sent again because their
    request's answer never came (together, an upper bound of the duplicates)."""
    dead_tokens: int

    @property
    def tickets(self) -> int:
        """Rows recorded: tickets, and recipients in doubt."""
        return sum(self.outcomes.values())

    @property
    def in_doubt(self) -> int:
        """Recipients of ``Ledger.send`` (or ``expo-push send``) whose request went out and whose answer never
        came: they may have been delivered (their message is kept; not sent again by the ledger)."""
        return sum(n for (status, _, _), n in self.outcomes.items() if status == "in_doubt")

    @property
    def accepted(self) -> int:
        """``ok`` tickets."""
        return sum(n for (status, _, _), n in self.outcomes.items() if status == "ok")

    @property
    def ticket_errors(self) -> dict[str, int]:
        """Error tickets by code."""
        return self._by_code(lambda status, receipt: status == "error")

    @property
    def delivered(self) -> int:
        """``ok`` receipts."""
        return sum(n for (_, receipt, _), n in self.outcomes.items() if receipt == "ok")

    @property
    def receipt_errors(self) -> dict[str, int]:
        """Error receipts by code."""
        return self._by_code(lambda status, receipt: receipt == "error")

    @property
    def awaiting_receipt(self) -> int:
        """Accepted notifications whose receipt has not been fetched yet."""
        return sum(n for (_, receipt, _), n in self.outcomes.items() if receipt == "pending")

    @property
    def no_receipt(self) -> int:
        """Accepted notifications that got no receipt within the retention limit."""
        return sum(n for (_, receipt, _), n in self.outcomes.items() if receipt == "missing")

    def _by_code(self, keep: object) -> dict[str, int]:
        out: dict[str, int] = {}
        for (status, receipt, code), n in self.outcomes.items():
            if keep(status, receipt):  # type: ignore[operator]
                name = code or "unknown"
                out[name] = out.get(name, 0) + n
        return out


@dataclass(frozen=True)
class OutboxBacklog:
    """What the outbox holds right now, in notifications (recipients): what an operator alerts on."""

    pending: int
    """Waiting to be claimed by a worker (including those waiting to be tried again)."""
    sending: int
    """Claimed by a worker and not yet recorded."""
    oldest_age: float | None
    """Seconds the pending notification ready the longest has waited since it was ready (enqueued, or due
    again after a retry delay), on the schedule clock; 0 when none is ready yet, ``None`` when none is pending."""
