"""``PushMessage``, ``PushTicket`` and ``PushReceipt`` as ``exponent_server_sdk`` shaped them: namedtuples."""

from __future__ import annotations

import inspect
from typing import Any, NamedTuple

import msgspec

import expo_push
from expo_push._service import DEVICE_NOT_REGISTERED, MESSAGE_RATE_EXCEEDED, MESSAGE_TOO_BIG
from expo_push._tokens import token_problem

from ._errors import (
    DeviceNotRegisteredError,
    InvalidCredentialsError,
    MessageRateExceededError,
    MessageTooBigError,
    PushTicketError,
    notification_error_class,
)

__all__ = ["PushMessage", "PushReceipt", "PushTicket"]


class _MessageFields(NamedTuple):
    to: str | list[str] | None = None
    data: dict[str, Any] | None = None
    title: str | None = None
    body: str | None = None
    sound: str | dict[str, Any] | None = None
    ttl: int | None = None
    expiration: int | None = None
    priority: str | None = None
    badge: int | None = None
    category: str | None = None
    display_in_foreground: bool | None = None
    channel_id: str | None = None
    subtitle: str | None = None
    mutable_content: bool | None = None


# The older SDK's payload: its fields in its order, then the newer ones, then the legacy flag.
_LEGACY_WIRE = (
    ("data", "data"),
    ("title", "title"),
    ("body", "body"),
    ("ttl", "ttl"),
    ("expiration", "expiration"),
    ("priority", "priority"),
    ("subtitle", "subtitle"),
    ("sound", "sound"),
    ("badge", "badge"),
    ("channel_id", "channelId"),
    ("category", "categoryId"),
    ("mutable_content", "mutableContent"),
)
_CORE_WIRE = {f.name: f.encode_name for f in msgspec.structs.fields(expo_push.PushMessage)}


def _token_error(to: object) -> str | None:
    """What is wrong with ``to`` as one token or a non-empty list of them, or ``None``."""
    if isinstance(to, list):
        if not to:
            return "is an empty list: a message needs at least one recipient"
        return next((f"[{i}] {problem}" for i, t in enumerate(to) if (problem := token_problem(t))), None)
    return token_problem(to)


class PushMessage(_MessageFields):
    """One notification, as ``exponent_server_sdk.PushMessage``: a namedtuple, every field defaulting to ``None``.

    The tuple is exactly the older one: fourteen fields in its order (``to,
    data, title, body, sound, ttl, expiration, priority, badge, category,
    display_in_foreground, channel_id, subtitle, mutable_content``), so
    positional construction, ``_make``, unpacking, ``len()`` and ``_fields``
    work as before. Newer service fields are keyword-only attributes kept
    outside the tuple (``get_payload()``, ``_replace()``, ``_asdict()``,
    ``==`` and ``repr`` include them when set): ``rich_content``
    (``richContent=`` is accepted too, as async-expo-push-notifications spells
    it), ``interruption_level``, ``content_available``, ``icon``,
    ``collapse_id``, ``tag``, ``thread_id``, ``target_content_id``,
    ``filter_criteria``, ``relevance_score``.

    ``to`` may be a list of tokens (the older SDK refused lists here);
    ``ExpoPushToken[...]`` tokens are accepted as well as ``ExponentPushToken[...]``.
    Subclasses may override ``get_payload()``: the clients send what it returns.
    """

    # The newer fields, in payload order. No __slots__: set ones live in the instance's __dict__.
    rich_content: dict[str, Any] | None = None
    interruption_level: str | None = None
    content_available: bool | None = None
    icon: str | None = None
    collapse_id: str | None = None
    tag: str | None = None
    thread_id: str | None = None
    target_content_id: str | None = None
    filter_criteria: str | None = None
    relevance_score: float | None = None

    def __new__(cls, *args: Any, richContent: dict[str, Any] | None = None, **kwargs: Any) -> PushMessage:
        if richContent is not None:
            if kwargs.get("rich_content") is not None:
                raise TypeError("give rich_content or richContent, not both")
            kwargs["rich_content"] = richContent
        newer = {name: kwargs.pop(name) for name in _NEWER_FIELDS if name in kwargs}
        message: PushMessage = super().__new__(cls, *args, **kwargs)
        message.__dict__.update((name, value) for name, value in newer.items() if value is not None)
        return message

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"PushMessage is immutable: use _replace({name}=...) for a changed copy")

    def _newer(self) -> dict[str, Any]:
        """The newer fields that are set, in their order."""
        return {name: self.__dict__[name] for name in _NEWER_FIELDS if name in self.__dict__}

    def _replace(self, /, **changes: Any) -> PushMessage:
        """A copy with some fields changed, the newer ones included."""
        newer = {name: changes.pop(name) for name in _NEWER_FIELDS if name in changes}
        legacy = super()._replace(**changes)
        return type(self)(*legacy, **{**self._newer(), **newer})

    def _asdict(self) -> dict[str, Any]:
        """The fourteen fields by name, then the newer fields that are set."""
        return {**super()._asdict(), **self._newer()}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PushMessage):
            return tuple.__eq__(self, other) and self._newer() == other._newer()
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = tuple.__hash__

    def __repr__(self) -> str:
        newer = "".join(f", {name}={value!r}" for name, value in self._newer().items())
        return f"{super().__repr__()[:-1]}{newer})"

    @property
    def richContent(self) -> dict[str, Any] | None:
        """``rich_content`` under the name async-expo-push-notifications gave it."""
        return self.rich_content

    def get_payload(self) -> dict[str, Any]:
        """The message as the service's JSON object, in the older SDK's field order and names.

        ``to`` comes first, then every field that is not ``None``: ``data,
        title, body, ttl, expiration, priority, subtitle, sound, badge,
        channelId, categoryId, mutableContent``, the newer fields, and
        ``_displayInForeground`` last. Raises ``ValueError`` (an
        ``expo_push.ValidationError``) when ``to`` is not a push token or a
        list of them.
        """
        problem = _token_error(self.to)
        if problem is not None:
            raise expo_push.ValidationError(f"invalid push token: {problem}", field="to")
        payload: dict[str, Any] = {"to": self.to}
        for names in (_LEGACY_WIRE, _NEWER_WIRE):
            for attr, wire in names:
                value = getattr(self, attr)
                if value is not None:
                    payload[wire] = value
        if self.display_in_foreground is not None:
            payload["_displayInForeground"] = self.display_in_foreground
        return payload


_NEWER_FIELDS: tuple[str, ...] = tuple(inspect.get_annotations(PushMessage))
"""Fields the service gained after exponent_server_sdk 2.2.0: keyword-only, kept outside the tuple."""
_NEWER_WIRE = tuple((name, _CORE_WIRE[name]) for name in _NEWER_FIELDS)


def _raise_for(response: PushTicket | PushReceipt) -> None:
    if response.status == "ok":
        return
    if response.details and isinstance(response.details, dict):
        code = response.details.get("error")
        code = code if isinstance(code, str) else None
        raise _ERRORS.get(code or "", notification_error_class(code))(response, **response._core_view())
    raise PushTicketError(response, **response._core_view())


def _as_dict(status: str, message: str | None, details: dict[str, Any] | None, **more: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"status": status}
    out.update((key, value) for key, value in more.items() if value)
    if message:
        out["message"] = message
    if details is not None:
        out["details"] = details
    return out


class _Outcome:
    """The status and error-code constants of tickets and receipts, and ``is_success()``."""

    __slots__ = ()
    status: str

    ERROR_STATUS = "error"
    SUCCESS_STATUS = "ok"
    ERROR_DEVICE_NOT_REGISTERED = DEVICE_NOT_REGISTERED
    ERROR_MESSAGE_TOO_BIG = MESSAGE_TOO_BIG
    ERROR_MESSAGE_RATE_EXCEEDED = MESSAGE_RATE_EXCEEDED

    def is_success(self) -> bool:
        """Whether the notification went through (``status == "ok"``)."""
        return self.status == self.SUCCESS_STATUS


class _TicketFields(NamedTuple):
    push_message: PushMessage | None
    status: str
    message: str
    details: dict[str, Any] | None
    id: str


class PushTicket(_TicketFields, _Outcome):
    """The service's answer for one recipient, as ``exponent_server_sdk.PushTicket``.

    ``push_message`` is the message the ticket answers, addressed to this one
    recipient when the message had a list ``to``; ``id`` is the receipt id
    (``""`` on an error ticket) and ``message`` is ``""`` when the service gave none.
    """

    __slots__ = ()

    def validate_response(self) -> None:
        """Raise if the ticket is an error: ``DeviceNotRegisteredError``, ``MessageTooBigError``,
        ``MessageRateExceededError``, ``InvalidCredentialsError`` by ``details["error"]``, else
        ``PushTicketError`` (for codes expo-push knows, a subclass that is also the expo-push error,
        e.g. ``expo_push.MismatchSenderIdError``)."""
        _raise_for(self)

    def json(self) -> dict[str, Any]:
        """The ticket as the service sent it: ``status``, and ``id`` or ``message`` and ``details``."""
        return _as_dict(self.status, self.message, self.details, id=self.id)

    @property
    def token(self) -> str | None:
        """The recipient token, when the ticket's message names a single one."""
        to = self.push_message.to if self.push_message is not None else None
        return to if isinstance(to, str) else None

    def _core_view(self) -> dict[str, Any]:
        """The expo-push view of this ticket, given to the exceptions raised from it."""
        return {
            "ticket": expo_push.PushTicket(
                status=self.status,
                id=self.id or None,
                message=self.message or None,
                details=self.details,
                to=self.token,
            )
        }


class _ReceiptFields(NamedTuple):
    id: str
    status: str
    message: str
    details: dict[str, Any] | None


class PushReceipt(_ReceiptFields, _Outcome):
    """What became of one accepted notification, as ``exponent_server_sdk.PushReceipt``."""

    __slots__ = ()

    INVALID_CREDENTIALS = "InvalidCredentials"

    def validate_response(self) -> None:
        """Raise if the receipt is an error: as ``PushTicket.validate_response``, plus ``InvalidCredentialsError``."""
        _raise_for(self)

    def json(self) -> dict[str, Any]:
        """The receipt as the service sent it: ``status``, and ``message`` and ``details`` on an error."""
        return _as_dict(self.status, self.message, self.details)

    @property
    def token(self) -> str | None:
        """The recipient token when the service names it (``details["expoPushToken"]``), else ``None``."""
        token = (self.details or {}).get("expoPushToken")
        return token if isinstance(token, str) else None

    def _core_view(self) -> dict[str, Any]:
        """The expo-push view of this receipt, given to the exceptions raised from it."""
        receipt = expo_push.PushReceipt(
            status=self.status, message=self.message or None, details=self.details, id=self.id or None
        )
        return {"receipt": receipt, "receipt_id": self.id or None}


_ERRORS: dict[str, type[PushTicketError]] = {
    PushTicket.ERROR_DEVICE_NOT_REGISTERED: DeviceNotRegisteredError,
    PushTicket.ERROR_MESSAGE_TOO_BIG: MessageTooBigError,
    PushTicket.ERROR_MESSAGE_RATE_EXCEEDED: MessageRateExceededError,
    PushReceipt.INVALID_CREDENTIALS: InvalidCredentialsError,
}
"""The older SDK's classes by code, for tickets and receipts alike (it raised InvalidCredentialsError for
receipts only, and plain PushTicketError, which InvalidCredentialsError is, for tickets)."""
