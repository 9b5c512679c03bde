"""Tickets and receipts: what the service answers about each notification."""

from __future__ import annotations

from typing import Any, NoReturn

import msgspec

from ._errors import NOTIFICATION_ERRORS, PushReceiptError, PushTicketError

__all__ = ["PushReceipt", "PushTicket"]


# gc=False: a ticket refers to no other ticket, so it cannot be part of a cycle; untracked, the many tickets of a
# large send cost the garbage collector nothing.
class PushTicket(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True, gc=False):
    """The service's answer for one recipient of a send.

    ``status`` is ``"ok"`` (then ``id`` is the receipt id to poll later) or
    ``"error"`` (then ``message`` and ``details`` say why; ``details["error"]``
    is the error code). ``to`` is the recipient token this ticket is for.
    """

    status: str
    id: str | None = None
    message: str | None = None
    details: dict[str, Any] | None = None
    to: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the service accepted the notification."""
        return self.status == "ok"

    @property
    def error_code(self) -> str | None:
        """The error code (``"DeviceNotRegistered"``, ...) of an error ticket, else ``None``."""
        return _error_code(self.status, self.details)

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


class PushReceipt(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True):
    """What became of one accepted notification, fetched by its ticket id.

    ``status`` ``"ok"`` means Apple or Google accepted it (not that the device
    showed it); ``"error"`` comes with ``message`` and ``details``.
    """

    status: str
    message: str | None = None
    details: dict[str, Any] | None = None
    id: str | None = None
    """The ticket id this receipt was fetched with."""

    @property
    def ok(self) -> bool:
        """Whether Apple or Google accepted the notification."""
        return self.status == "ok"

    @property
    def error_code(self) -> str | None:
        """The error code (``"DeviceNotRegistered"``, ...) of an error receipt, else ``None``."""
        return _error_code(self.status, self.details)

    @property
    def to(self) -> str | None:
        """The recipient token when the service names it (``details.expoPushToken``), else ``None``."""
        token = (self.details or {}).get("expoPushToken")
        return token if isinstance(token, str) else None

    def raise_for_error(self) -> None:
        """Raise the ``PushReceiptError`` subclass of this receipt's code if it is an error."""
        if self.status != "ok":
            _raise_receipt_error(self)


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


def _error_code(status: str, details: dict[str, Any] | None) -> str | None:
    if status == "ok" or not isinstance(details, dict):
        return None
    code = details.get("error")
    return code if isinstance(code, str) else None
