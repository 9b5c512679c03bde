"""Every exception expo-push raises, under one base.

    ExpoPushError
    ├── ValidationError                  bad input; raised before any request is sent
    ├── SendInterrupted                  the client was closed during a send (.account)
    ├── PushServerError                  a whole request failed for good
    │   ├── PushConnectionError          no usable answer: connection failed, timed out, dropped
    │   ├── PushResponseError            an answer the protocol does not allow (bad JSON, wrong ticket count)
    │   ├── TooManyRequestsError         TOO_MANY_REQUESTS (429), still after every retry
    │   ├── UnauthorizedError            UNAUTHORIZED: missing or wrong access token
    │   ├── TooManyExperienceIdsError    PUSH_TOO_MANY_EXPERIENCE_IDS (splitting turned off)
    │   ├── TooManyNotificationsError    PUSH_TOO_MANY_NOTIFICATIONS
    │   └── TooManyReceiptsError         PUSH_TOO_MANY_RECEIPTS
    ├── PushTicketError                  one notification was refused when sent
    └── PushReceiptError                 one notification failed after it was accepted
        (each of the following is both a PushTicketError and a PushReceiptError)
        ├── DeviceNotRegisteredError     the token is dead: stop sending to it
        ├── MessageTooBigError           payload over 4096 bytes
        ├── MessageRateExceededError     too many messages to one device: back off
        ├── MismatchSenderIdError        FCM credentials do not match the app
        ├── InvalidCredentialsError      push credentials revoked or invalid
        ├── ProviderError                Apple or Google refused it
        ├── DeveloperError               the service blames the sender's set-up
        └── ExpoError                    the service failed internally

Error codes this version does not know are kept as they came (``.code``,
``.message``, ``.details``) on the base class of their kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._service import (
    DEVICE_NOT_REGISTERED,
    INVALID_CREDENTIALS,
    MESSAGE_RATE_EXCEEDED,
    MESSAGE_TOO_BIG,
    MISMATCH_SENDER_ID,
)

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._account import SendAccount
    from ._message import PushMessage
    from ._models import PushReceipt, PushTicket

__all__ = [
    "DeveloperError",
    "DeviceNotRegisteredError",
    "ExpoError",
    "ExpoPushError",
    "InvalidCredentialsError",
    "MessageRateExceededError",
    "MessageTooBigError",
    "MismatchSenderIdError",
    "ProviderError",
    "PushConnectionError",
    "PushReceiptError",
    "PushResponseError",
    "PushServerError",
    "PushTicketError",
    "SendInterrupted",
    "TooManyExperienceIdsError",
    "TooManyNotificationsError",
    "TooManyReceiptsError",
    "TooManyRequestsError",
    "UnauthorizedError",
    "ValidationError",
    "shown_text",
]


def shown_text(text: str) -> str:
    """``text`` from elsewhere (the service's messages and codes), safe to print on a terminal or in a log line.

    Control and other invisible characters (an escape sequence's ESC, a newline, a bidi override) are written
    as Python escapes (``\\x1b``, ``\\n``, ``\\u202e``), so what the service says cannot move the cursor,
    recolour the terminal or forge a log line.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class ExpoPushError(Exception):
    """Base class of every exception raised by expo-push."""


class ValidationError(ExpoPushError, ValueError):
    """A message (or another argument) is malformed; nothing was sent.

    ``index`` is the position of the offending message in the input (``None``
    when the problem is not tied to one message), ``field`` the wire name of the
    field, and ``reason`` what is wrong with its value.
    """

    def __init__(self, reason: str, *, field: str | None = None, index: int | None = None) -> None:
        self.reason = reason
        self.field = field
        self.index = index
        where = []
        if index is not None:
            where.append(f"message {index}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {reason}" if where else reason)


class PushServerError(ExpoPushError):
    """A request to the service failed for good (after any retries).

    When raised by a send, ``tickets`` holds every ticket the service answered
    before the failure (in input order, each with ``.to`` and ``.position``),
    ``unsent`` the messages, narrowed to their recipients, that were never
    sent (resend exactly those), and ``in_doubt`` those whose request went out
    but whose answer never came or could not be read: the service may have
    delivered them, so resending them may duplicate a few (the service is
    at-least-once anyway). ``account`` is the send's whole ``SendAccount``.
    When raised by ``get_receipts``, ``receipts`` holds the receipts fetched
    before the failure.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        details: Any = None,
        errors: Sequence[dict[str, Any]] = (),
        tickets: Sequence[PushTicket] = (),
        unsent: Sequence[PushMessage] = (),
        in_doubt: Sequence[PushMessage] = (),
        receipts: dict[str, PushReceipt] | None = None,
        account: SendAccount | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code
        self.details = details
        self.errors: list[dict[str, Any]] = list(errors)
        self.tickets: list[PushTicket] = list(tickets)
        self.unsent: list[PushMessage] = list(unsent)
        self.in_doubt: list[PushMessage] = list(in_doubt)
        self.receipts: dict[str, PushReceipt] = dict(receipts or {})
        self.account = account

    def with_outcome(
        self,
        *,
        tickets: Sequence[PushTicket] = (),
        unsent: Sequence[PushMessage] = (),
        in_doubt: Sequence[PushMessage] = (),
        receipts: dict[str, PushReceipt] | None = None,
        account: SendAccount | None = None,
    ) -> Self:
        """A copy of this error (same class, code and details) carrying what the send or fetch achieved."""
        return type(self)(
            self.message,
            code=self.code,
            status_code=self.status_code,
            details=self.details,
            errors=self.errors,
            tickets=tickets,
            unsent=unsent,
            in_doubt=in_doubt,
            receipts=receipts,
            account=account,
        )

    def __str__(self) -> str:
        parts = [shown_text(self.message)]
        if self.code:
            parts.insert(0, f"{shown_text(self.code)}:")
        if self.status_code is not None:
            parts.append(f"(HTTP {self.status_code})")
        if self.tickets or self.unsent or self.in_doubt:
            summary = f"[{len(self.tickets)} accepted, {_count_recipients(self.unsent)} unsent"
            if self.in_doubt:
                summary += f", {_count_recipients(self.in_doubt)} in doubt"
            parts.append(summary + "]")
        return " ".join(parts)


class SendInterrupted(ExpoPushError):
    """The client was closed while a send ran: it stopped starting requests and let those out come back.

    ``account`` says what became of every recipient read: accepted (with its
    ticket), never sent, or in doubt.
    """

    def __init__(self, message: str, *, account: SendAccount) -> None:
        super().__init__(f"{message}: {account.summary()}")
        self.account = account


def _count_recipients(messages: Sequence[PushMessage]) -> int:
    return sum(len(m.recipients) for m in messages)


class PushConnectionError(PushServerError):
    """No usable answer: the connection failed, timed out or was dropped."""


class PushResponseError(PushServerError):
    """The service answered something the protocol does not allow.

    For example a body that is not JSON on a 200, or a number of tickets that
    does not match the number of recipients sent. Such a request is not retried:
    the service may have accepted it, and a retry could send it twice.
    """


class TooManyRequestsError(PushServerError):
    """``TOO_MANY_REQUESTS``: over the rate limit, still after every retry."""


class UnauthorizedError(PushServerError):
    """``UNAUTHORIZED``: push security is on and the access token is missing or wrong."""


class TooManyExperienceIdsError(PushServerError):
    """``PUSH_TOO_MANY_EXPERIENCE_IDS``: recipients of several projects in one request.

    ``details`` maps each ``@owner/slug`` to its tokens. Clients split such
    requests by themselves unless told not to (``split_projects=False``).
    """


class TooManyNotificationsError(PushServerError):
    """``PUSH_TOO_MANY_NOTIFICATIONS``: more than 100 notifications in one request."""


class TooManyReceiptsError(PushServerError):
    """``PUSH_TOO_MANY_RECEIPTS``: more than 1000 ids in one receipts request."""


class _NotificationError(ExpoPushError):
    """Shared body of ticket and receipt errors: the code, message and details of one notification."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        to: str | None = None,
        ticket: PushTicket | None = None,
        receipt: PushReceipt | None = None,
        receipt_id: str | None = None,
    ) -> None:
        super().__init__(shown_text(f"{code}: {message}" if code else message))
        self.message = message
        self.code = code
        self.details = details
        self.to = to
        self.ticket = ticket
        self.receipt = receipt
        self.receipt_id = receipt_id


class PushTicketError(_NotificationError):
    """The service refused one notification when it was sent (an error ticket).

    ``to`` is the recipient token, ``ticket`` the ticket itself.
    """


class PushReceiptError(_NotificationError):
    """One notification failed after the service accepted it (an error receipt).

    ``receipt_id`` is the ticket id the receipt was fetched with, ``receipt``
    the receipt itself.
    """


class DeviceNotRegisteredError(PushTicketError, PushReceiptError):
    """``DeviceNotRegistered``: the token is dead; stop sending to it until the app registers again."""


class MessageTooBigError(PushTicketError, PushReceiptError):
    """``MessageTooBig``: the notification payload is over 4096 bytes."""


class MessageRateExceededError(PushTicketError, PushReceiptError):
    """``MessageRateExceeded``: too many messages to one device; send less often and retry later."""


class MismatchSenderIdError(PushTicketError, PushReceiptError):
    """``MismatchSenderId``: the FCM credentials do not belong to the app's project."""


class InvalidCredentialsError(PushTicketError, PushReceiptError):
    """``InvalidCredentials``: the project's push credentials are revoked or invalid."""


class ProviderError(PushTicketError, PushReceiptError):
    """``ProviderError``: Apple or Google refused the notification."""


class DeveloperError(PushTicketError, PushReceiptError):
    """``DeveloperError``: the service blames the sender's configuration or payload."""


class ExpoError(PushTicketError, PushReceiptError):
    """``ExpoError``: the service failed internally with this notification."""


NOTIFICATION_ERRORS: dict[str, type[PushTicketError]] = {
    DEVICE_NOT_REGISTERED: DeviceNotRegisteredError,
    MESSAGE_TOO_BIG: MessageTooBigError,
    MESSAGE_RATE_EXCEEDED: MessageRateExceededError,
    MISMATCH_SENDER_ID: MismatchSenderIdError,
    INVALID_CREDENTIALS: InvalidCredentialsError,
    "ProviderError": ProviderError,
    "DeveloperError": DeveloperError,
    "ExpoError": ExpoError,
}
"""Per-code notification errors; every class here is also a PushReceiptError."""

REQUEST_ERRORS: dict[str, type[PushServerError]] = {
    "TOO_MANY_REQUESTS": TooManyRequestsError,
    "UNAUTHORIZED": UnauthorizedError,
    "PUSH_TOO_MANY_EXPERIENCE_IDS": TooManyExperienceIdsError,
    "PUSH_TOO_MANY_NOTIFICATIONS": TooManyNotificationsError,
    "PUSH_TOO_MANY_RECEIPTS": TooManyReceiptsError,
}
"""Per-code whole-request errors."""
