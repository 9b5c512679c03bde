"""The ledger's rows as the queries take and return them (named tuples), and the cursor they run on."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

__all__ = [
    "Claim",
    "ClaimedRow",
    "Cursor",
    "DueReceipt",
    "NarrowedRow",
    "OutboxEntry",
    "QueueRow",
    "ReceiptOutcome",
    "Repoll",
    "StoredTicket",
    "TicketRow",
    "WaitingTicket",
]


class TicketRow(NamedTuple):
    """One row of the tickets table, as inserted."""

    key: str | None
    """The caller's reference to the notification."""
    token: str
    ticket_id: str | None
    status: str
    """``"ok"``, ``"error"``, or ``"in_doubt"`` (a recipient whose request went out and no answer came)."""
    error_code: str | None
    error_message: str | None
    sent_at: float
    receipt_due_at: float | None
    """``None``: no receipt to fetch."""
    message: str | None
    """The message JSON, kept to resend after ``MessageRateExceeded``."""
    retries: int
    """Resends after ``MessageRateExceeded`` before this one."""


class QueueRow(NamedTuple):
    """One row of the receipt queue: accepted tickets of one send, column-packed (``QueuedTickets`` JSON)."""

    sent_at: float
    due_at: float
    tickets: int
    entries: str


class DueReceipt(NamedTuple):
    """A ticket whose receipt is due, as claimed by ``due_receipts``."""

    ticket_id: str
    row_id: int
    token: str
    sent_at: float


class ReceiptOutcome(NamedTuple):
    """A receipt's outcome to store: ``status`` is ``ok``, ``error`` or ``missing``."""

    status: str
    error: str | None
    message: str | None
    at: float
    row_id: int


class Repoll(NamedTuple):
    """A ticket whose receipt is to be asked again at ``due_at``."""

    due_at: float
    row_id: int


class StoredTicket(NamedTuple):
    """What a resend needs of a ticket row."""

    row_id: int
    key: str | None
    message: str | None
    retries: int


class WaitingTicket(NamedTuple):
    """A ticket row still waiting for its receipt."""

    ticket_id: str
    token: str
    key: str | None
    sent_at: float
    due_at: float


class OutboxEntry(NamedTuple):
    """One outbox row, as enqueued."""

    key: str | None
    """Idempotency key: a key already present is not enqueued again."""
    ref: str | None
    """The reference stored with the tickets."""
    message: str
    recipients: int
    enqueued_at: float
    not_before: float
    retries: int
    project: str | None = None
    """The Expo project ("@owner/slug") of the message, paced under that project's budget; None: unnamed."""


class ClaimedRow(NamedTuple):
    """An outbox row claimed by a worker."""

    id: int
    ref: str | None
    message: str
    recipients: int
    retries: int
    project: str | None = None


class NarrowedRow(NamedTuple):
    """An outbox row sent in part: the message to its recipients still owed, of whom ``in_doubt`` were in a
    request whose answer never came."""

    id: int
    message: str
    recipients: int
    in_doubt: int = 0


class Claim(NamedTuple):
    """Who holds an outbox row being sent, since when."""

    id: int
    worker: str | None
    claimed_at: float
    lease: float | None = None
    """The lease its worker claimed it with (None: a claim from before leases were stored)."""


class Cursor(Protocol):
    """The part of a DB-API cursor the store uses."""

    def execute(self, sql: Any, params: Any = ..., /) -> Any: ...
    def executemany(self, sql: Any, params: Any, /) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...
    @property
    def rowcount(self) -> int: ...
