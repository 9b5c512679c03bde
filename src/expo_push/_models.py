"""Tickets and receipts: what the service answers about each notification, and which answers are well formed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NoReturn

import msgspec

from ._account import Position
from ._errors import NOTIFICATION_ERRORS, PushReceiptError, PushTicketError

__all__ = ["PushReceipt", "PushTicket", "ticket_problem"]

if TYPE_CHECKING:
    _Status = str
else:
    # Checked when an answer is decoded (any other value fails the decoding, so the answer counts as malformed),
    # not when a ticket or receipt is built in Python, where ``status`` is typed ``str``. A Literal rather than a
    # ``pattern``: decoding costs a tenth, and every decoded status is one of two shared strings.
    _Status = Literal["ok", "error"]


# gc=False: a ticket or receipt refers to no other one, so it cannot be part of a cycle; untracked, the many
# tickets of a large send cost the garbage collector nothing.
class _Outcome(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True, gc=False):
    """What tickets and receipts share: a status, and for an error its message and details."""

    status: _Status
    message: str | None = None
    details: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether the status is ``"ok"``."""
        return self.status == "ok"

    @property
    def error_code(self) -> str | None:
        """The error code (``"DeviceNotRegistered"``, ...) of an error, else ``None``."""
        if self.status == "ok" or not isinstance(self.details, dict):
            return None
        code = self.details.get("error")
        return code if isinstance(code, str) else None


class PushTicket(_Outcome, kw_only=True, gc=False):
    """The service's answer for one recipient of a send.

    ``status`` is ``"ok"`` (then ``id`` is the receipt id to poll later) or
    ``"error"`` (then ``message`` and ``details`` say why, and ``error_code``
    is ``details["error"]``). ``to`` is the recipient token this ticket is
    for, and ``position`` where it came from in the input (message index,
    recipient index); ``ok`` says whether the service accepted the notification.
    """

    id: str | None = None
    to: str | None = None
    position: Position | None = None

    def raise_for_error(self) -> None:
        """Raise the ``PushTicketError`` subclass of this ticket's code if it is an error."""
        if self.status != "ok":
            cls = NOTIFICATION_ERRORS.get(self.error_code or "", PushTicketError)
            raise cls(
                self.message or "the service refused the notification",
                code=self.error_code,
                details=self.details,
                to=self.to,
                ticket=self,
            )


class PushReceipt(_Outcome, kw_only=True, gc=False):
    """What became of one accepted notification, fetched by its ticket id.

    ``status`` ``"ok"`` (``ok`` is true) means Apple or Google accepted it, not
    that the device showed it; ``"error"`` comes with ``message``, ``details``
    and ``error_code``.
    """

    id: str | None = None
    """The ticket id this receipt was fetched with."""

    @property
    def to(self) -> str | None:
        """The recipient token when the service names it (``details.expoPushToken``), else ``None``."""
        token = (self.details or {}).get("expoPushToken")
        return token if isinstance(token, str) else None

    def raise_for_error(self) -> None:
        """Raise the ``PushReceiptError`` subclass of this receipt's code if it is an error."""
        if self.status != "ok":
            _raise_receipt_error(self)


def ticket_problem(ticket: PushTicket) -> str | None:
    """What makes a decoded ticket unusable although it decoded, or ``None``; the text starts with the field.

    An ``"ok"`` ticket without an id cannot be followed up with a receipt, nor
    can one whose id is empty or only whitespace (``get_receipts`` refuses
    it): the answer holding it is treated as malformed, so its recipients
    count as not accepted rather than as tickets nobody can check.
    """
    ticket_id = ticket.id
    if ticket_id is None:
        return ': a ticket with status "ok" has no id' if ticket.status == "ok" else None
    if not ticket_id or ticket_id.isspace():
        return f".id: {ticket_id!r} is no ticket id (empty or only whitespace)"
    return None


def _raise_receipt_error(receipt: PushReceipt) -> NoReturn:
    code = receipt.error_code
    found = NOTIFICATION_ERRORS.get(code or "")
    cls: type[PushReceiptError] = (
        found if found is not None and issubclass(found, PushReceiptError) else PushReceiptError
    )
    raise cls(
        receipt.message or "the notification could not be delivered",
        code=code,
        details=receipt.details,
        to=receipt.to,
        receipt=receipt,
        receipt_id=receipt.id,
    )
