"""Tickets and receipts: what the service answers about each notification, and which answers are well formed."""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

import msgspec

from ._account import Position
from ._errors import NOTIFICATION_ERRORS, PushReceiptError, PushTicketError

__all__ = ["PushReceipt", "PushTicket", "ticket_problem"]

# Checked when an answer is decoded (a violation fails the decoding, so the answer counts as malformed), not
# when a ticket or receipt is built in Python.
_Status = Annotated[str, msgspec.Meta(pattern=r"\A(?:ok|error)\Z")]
_Id = Annotated[str, msgspec.Meta(pattern=r"\S")]
"""A ticket id as ``get_receipts`` accepts it: not empty, not only whitespace."""


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

    id: _Id | None = None
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
    """What makes a decoded ticket unusable although each field is well formed, or ``None``.

    An ``"ok"`` ticket without an id cannot be followed up with a receipt: the
    answer holding it is treated as malformed, so its recipients count as not
    accepted rather than as tickets nobody can check.
    """
    if ticket.status == "ok" and ticket.id is None:
        return 'a ticket with status "ok" has no id'
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
