"""The exceptions of ``exponent_server_sdk``, each also the matching expo-push exception.

expo_push.PushTicketError, expo_push.PushReceiptError
└── PushTicketError                    raised for an error ticket or an error receipt
    ├── DeviceNotRegisteredError       also expo_push.DeviceNotRegisteredError
    ├── MessageTooBigError             also expo_push.MessageTooBigError
    ├── MessageRateExceededError       also expo_push.MessageRateExceededError
    ├── InvalidCredentialsError        also expo_push.InvalidCredentialsError
    └── (made on first use)            MismatchSenderIdError, ProviderError, DeveloperError,
                                       ExpoError: also the expo-push class of that name
expo_push.PushServerError
└── PushServerError                    a whole request failed; raised as a subclass that is also
                                       the expo-push error of the failure (UnauthorizedError, ...)
                                       and, when ``requests`` is installed, requests' HTTPError or
                                       ConnectionError where the older SDK let those through
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import expo_push
from expo_push import PushConnectionError, PushResponseError
from expo_push._errors import NOTIFICATION_ERRORS

if TYPE_CHECKING:  # for annotations only: the models import this module
    from ._models import PushTicket

__all__ = [
    "DeviceNotRegisteredError",
    "InvalidCredentialsError",
    "MessageRateExceededError",
    "MessageTooBigError",
    "PushServerError",
    "PushTicketError",
    "ServerResponse",
    "mismatch_message",
    "notification_error_class",
    "translate_server_error",
]


class PushTicketError(expo_push.PushTicketError, expo_push.PushReceiptError):
    """An error ticket or error receipt, raised by their ``validate_response()``.

    ``push_response`` is the ``PushTicket`` or ``PushReceipt`` that failed and
    ``message`` its message (``"Unknown push ticket error"`` when it has none);
    ``str(exc)`` is that message. As an expo-push error it also has ``code``
    (``details["error"]``), ``details`` and ``to`` (the token, when known).
    """

    def __init__(
        self,
        push_response: Any,
        *,
        ticket: expo_push.PushTicket | None = None,
        receipt: expo_push.PushReceipt | None = None,
        receipt_id: str | None = None,
    ) -> None:
        message = getattr(push_response, "message", None) or "Unknown push ticket error"
        details = getattr(push_response, "details", None)
        details = details if isinstance(details, dict) else None
        code = details.get("error") if details else None
        super().__init__(
            message,
            code=code if isinstance(code, str) else None,
            details=details,
            to=getattr(push_response, "token", None),
            ticket=ticket,
            receipt=receipt,
            receipt_id=receipt_id,
        )
        self.args = (message,)
        self.push_response = push_response


class DeviceNotRegisteredError(PushTicketError, expo_push.DeviceNotRegisteredError):
    """``DeviceNotRegistered``: the token is dead; stop sending to it."""


class MessageTooBigError(PushTicketError, expo_push.MessageTooBigError):
    """``MessageTooBig``: the notification payload is over 4096 bytes."""


class MessageRateExceededError(PushTicketError, expo_push.MessageRateExceededError):
    """``MessageRateExceeded``: too many messages to one device; back off and retry later."""


class InvalidCredentialsError(PushTicketError, expo_push.InvalidCredentialsError):
    """``InvalidCredentials``: the app's push credentials are revoked or invalid.

    The older SDK raised it for receipts only; an error ticket with this code
    raises it too (it is a ``PushTicketError``, as the older SDK raised there).
    """


_NOTIFICATION_CLASSES: dict[str, type[PushTicketError]] = {}


def notification_error_class(code: str | None) -> type[PushTicketError]:
    """The class raised for an error ticket or receipt with ``code`` that the older SDK had no class for.

    For a code expo-push knows (``MismatchSenderId``, ``ProviderError``,
    ``DeveloperError``, ``ExpoError``), a subclass of ``PushTicketError`` and
    of the expo-push class (``expo_push.MismatchSenderIdError``, ...), made
    once; for any other code, ``PushTicketError`` itself.
    """
    core = NOTIFICATION_ERRORS.get(code or "")
    if core is None:
        return PushTicketError
    cls = _NOTIFICATION_CLASSES.get(core.__name__)
    if cls is None:
        namespace = {"__module__": PushTicketError.__module__, "__qualname__": core.__name__, "__doc__": core.__doc__}
        cls = _NOTIFICATION_CLASSES[core.__name__] = type(core.__name__, (PushTicketError, core), namespace)
    return cls


class ServerResponse:
    """What ``PushServerError.response`` holds: a small stand-in for the older SDK's ``requests.Response``.

    It carries what survived the client's retries: ``status_code`` (``None``
    when no answer came at all), ``text`` (the JSON of the parsed body when
    there was one, else ``""``) and ``json()`` (the parsed body, or
    ``ValueError`` when there was none), plus ``ok``.
    """

    def __init__(self, status_code: int | None, data: dict[str, Any] | None = None) -> None:
        self.status_code = status_code
        self._data = data

    @property
    def text(self) -> str:
        """The body as JSON text, or ``""`` when the answer was not JSON."""
        return "" if self._data is None else json.dumps(self._data)

    @property
    def ok(self) -> bool:
        """Whether the status was below 400."""
        return self.status_code is not None and self.status_code < 400

    def json(self) -> dict[str, Any]:
        """The parsed body; ``ValueError`` when the answer was not JSON (as ``requests`` raises)."""
        if self._data is None:
            raise ValueError("the service's answer was not JSON")
        return self._data

    def __repr__(self) -> str:
        return f"<ServerResponse [{self.status_code}]>"


class PushServerError(expo_push.PushServerError):
    """A request failed as a whole: the older SDK's error, with expo-push's details on top.

    ``message`` is the older SDK's: ``"Request failed"`` (the service answered
    ``errors``, listed in ``errors`` and in ``response_data["errors"]``),
    ``"Invalid server response"`` (an answer that is not JSON or has no
    tickets) or ``"Mismatched response length. ..."`` (a number of tickets that
    does not match the recipients). ``response`` is a ``ServerResponse``;
    ``response_data`` is ``{"errors": [...]}`` when the service answered
    errors and ``None`` otherwise (the older SDK also gave the tickets of a
    mismatched answer there). ``str(exc)`` is ``message``.

    Unlike the older SDK, the request was retried before this was raised (on
    connection errors, timeouts, 429 and 5xx), and a send of many messages
    keeps what went out: ``push_tickets`` are the compat tickets of every
    recipient the service accepted, ``tickets`` the same as expo-push tickets,
    and ``unsent`` the messages (expo-push ``PushMessage``) narrowed to the
    recipients that were not accepted. ``code`` and ``status_code`` say what
    the service answered.
    """

    def __init__(
        self,
        message: str,
        response: Any,
        response_data: dict[str, Any] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message, errors=errors or ())
        self._set_legacy(message, response, response_data, errors)

    def _set_legacy(
        self, message: str, response: Any, response_data: dict[str, Any] | None, errors: list[dict[str, Any]] | None
    ) -> None:
        # Set last: requests' exception base class, when mixed in, resets ``response`` in its __init__.
        self.args = (message,)
        self.message = message
        self.response = response
        self.response_data = response_data
        self.errors = errors  # type: ignore[assignment]  # the older SDK's None when the body had none
        self.push_tickets: list[PushTicket] = []

    def __str__(self) -> str:
        return self.message


_MISMATCH = re.compile(r"answered (\d+) tickets for (\d+) recipients")


def mismatch_message(expected: int, received: int) -> str:
    """The older SDK's message for a number of tickets that does not match the recipients."""
    noun = "receipt" if expected == 1 else "receipts"
    return f"Mismatched response length. Expected {expected} {noun} but only received {received}"


_ERROR_CLASSES: dict[tuple[type[BaseException], str | None], type[PushServerError]] = {}


def _error_class(core: type[expo_push.PushServerError], requests_kind: str | None) -> type[PushServerError]:
    """The class raised for a core error: ours, the core's own class, and a ``requests`` error where due."""
    cls = _ERROR_CLASSES.get((core, requests_kind))
    if cls is None:
        cls = _ERROR_CLASSES[core, requests_kind] = _make_error_class(core, requests_kind)
    return cls


def _make_error_class(core: type[expo_push.PushServerError], requests_kind: str | None) -> type[PushServerError]:
    bases: list[type[BaseException]] = [PushServerError]
    if core is not expo_push.PushServerError:
        bases.append(core)
    if requests_kind is not None:
        try:
            import requests.exceptions
        except ImportError:
            pass
        else:
            bases.append(getattr(requests.exceptions, requests_kind))
    if len(bases) == 1:
        return PushServerError
    # A plain failure with a requests error gets a name of its own: "PushServerError" is the base's.
    name = f"PushServer{requests_kind}" if core is expo_push.PushServerError else core.__name__
    namespace = {"__module__": PushServerError.__module__, "__qualname__": name, "__doc__": core.__doc__}
    cls: type[PushServerError] = type(name, tuple(bases), namespace)
    return cls


def translate_server_error(exc: expo_push.PushServerError) -> PushServerError:
    """The compat ``PushServerError`` for a core one, carrying the older SDK's fields and the core's details.

    The older SDK raised ``requests.ConnectionError`` when no answer came and
    ``requests.HTTPError`` for a 4xx/5xx answer without an ``errors`` body;
    the error raised here is also those (when ``requests`` is installed) so
    handlers written for them still run.
    """
    status = exc.status_code
    requests_kind: str | None = None
    data: dict[str, Any] | None = None
    errors: list[dict[str, Any]] | None = None
    if exc.errors:
        message, errors = "Request failed", list(exc.errors)
        data = {"errors": errors}
    elif isinstance(exc, PushConnectionError):
        message, requests_kind = exc.message, "ConnectionError"
    elif isinstance(exc, PushResponseError) and (found := _MISMATCH.search(exc.message)):
        message = mismatch_message(int(found.group(2)), int(found.group(1)))
    elif status is not None and status >= 400:
        message, requests_kind = f"HTTP {status}: {exc.message}", "HTTPError"
    else:
        message = "Invalid server response"
    cls = _error_class(type(exc), requests_kind)
    error = cls.__new__(cls)
    expo_push.PushServerError.__init__(
        error,
        exc.message,
        code=exc.code,
        status_code=status,
        details=exc.details,
        errors=exc.errors,
        tickets=exc.tickets,
        unsent=exc.unsent,
        receipts=exc.receipts,
    )
    error._set_legacy(message, ServerResponse(status, data), data, errors)
    return error
