"""A notification's status by its key, read from the ledger's outbox, tickets and receipt queue."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections

from .._service import DEVICE_NOT_REGISTERED
from .._tokens import is_expo_push_token
from .models import LedgerTicket, OutboxNotification, PushNotification

__all__ = ["DeviceStatus", "NotificationStatus", "device_key", "read_status"]

PENDING, SENT, DELIVERED, FAILED, SKIPPED = "pending", "sent", "delivered", "failed", "skipped"


@dataclass(frozen=True)
class DeviceStatus:
    """Where a notification is for one device."""

    token: str
    state: str
    """``pending`` (in the outbox), ``sent`` (accepted, receipt not in yet), ``delivered`` (receipt ok),
    ``failed`` (an error ticket or receipt: see ``error``), ``skipped`` (the token was known dead)."""
    ticket_id: str | None = None
    error: str | None = None
    """The error code of the ticket or receipt (``DeviceNotRegistered``, ``MessageTooBig``, ...)."""


@dataclass(frozen=True)
class NotificationStatus:
    """Where a notification is: ``state`` sums up ``devices`` (each device's ``DeviceStatus``).

    ``unknown``: never notified (or rolled back); ``no devices``: notified with no active device; else
    ``pending`` while any device waits in the outbox, ``sent`` while any receipt is not in, then
    ``delivered`` if any device got it, ``failed`` if none did.
    """

    key: str
    state: str
    devices: tuple[DeviceStatus, ...] = ()


def device_key(key: str, token: str) -> str:
    """The outbox key of notification ``key`` to ``token``: the key, ``/``, the token."""
    return f"{key}/{token}"


def _of(row_key: str, prefix: str) -> bool:
    """Whether an outbox key is the notification's (its prefix, then a token) and not a longer key's."""
    return row_key.startswith(prefix) and is_expo_push_token(row_key[len(prefix) :])


def _queued_ticket_ids(db: str, sent_at: float) -> dict[str, str]:
    """Ticket ids by outbox key of the accepted tickets recorded at ``sent_at``, still in the receipt queue.

    THE SEAM: the queue's packing is the ledger's; a ledger function giving a key's tickets would replace this.
    """
    from ..ledger._messages import decode_queue

    found: dict[str, str] = {}
    with connections[db].cursor() as cursor:
        cursor.execute("SELECT entries FROM expo_push_receipt_queue WHERE sent_at = %s", [sent_at])
        for (entries,) in cursor.fetchall():
            queued = decode_queue(entries)
            found.update((k, i) for k, i in zip(queued.key, queued.id, strict=True) if k is not None)
    return found


def _ticket_state(ticket: LedgerTicket) -> DeviceStatus:
    token = ticket.token
    if ticket.status != "ok":
        return DeviceStatus(token, FAILED, ticket.ticket_id, ticket.error_code)
    if ticket.receipt_status == "ok":
        return DeviceStatus(token, DELIVERED, ticket.ticket_id)
    if ticket.receipt_status == "error":
        return DeviceStatus(token, FAILED, ticket.ticket_id, ticket.receipt_error)
    return DeviceStatus(token, SENT, ticket.ticket_id)


def read_status(key: str, db: str) -> NotificationStatus:
    """The status of notification ``key`` in the database ``db`` (see ``NotificationStatus``)."""
    # LIKE 'key/%': a range of keys would follow the database's collation (PostgreSQL's may skip punctuation).
    # SQLite's LIKE ignores case, and a key may hold "/": each key is checked here too.
    low = device_key(key, "")
    rows = [
        row
        for row in OutboxNotification.objects.using(db)
        .filter(key__startswith=low)
        .order_by("id")
        .values_list("key", "state", "sent_at")
        if _of(row[0], low)
    ]
    if not rows:
        known = PushNotification.objects.using(db).filter(key=key).exists()
        return NotificationStatus(key, "no devices" if known else "unknown")
    tickets = {t.key: t for t in LedgerTicket.objects.using(db).filter(key__startswith=low).order_by("id")}
    queued: dict[float, dict[str, str]] = {}
    devices = []
    for row_key, state, sent_at in rows:
        token = row_key[len(low) :]
        ticket = tickets.get(row_key)
        if state == SKIPPED:
            devices.append(DeviceStatus(token, SKIPPED, None, DEVICE_NOT_REGISTERED))
        elif ticket is not None:
            devices.append(_ticket_state(ticket))
        elif state == SENT and sent_at is not None:
            ids = queued.get(sent_at)
            if ids is None:
                ids = queued[sent_at] = _queued_ticket_ids(db, sent_at)
            devices.append(DeviceStatus(token, SENT, ids.get(row_key)))
        else:  # pending, or being sent
            devices.append(DeviceStatus(token, PENDING))
    states = {d.state for d in devices}
    overall = next((s for s in (PENDING, SENT, DELIVERED) if s in states), FAILED)
    return NotificationStatus(key, overall, tuple(devices))
