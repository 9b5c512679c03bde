"""The Expo Push service as the emulator models it: what a request may hold, and how each refusal is worded.

Written from Expo's Push API page and what answers of the live service show, never from this
package's client (nothing here imports the client's validation: tests of the client against the
emulator must not agree by construction). Each rule is marked where it is defined:

- DOCUMENTED: stated on Expo's "Send notifications with Expo's Push API" page;
- OBSERVED: not documented, but seen in answers of the live service (reported by users or SDKs);
- GUESS: neither; the emulator's choice, made lenient where the service's behaviour is unknown,
  so that a sender is not refused by the emulator for what the service may well accept.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

__all__ = [
    "validation_error",
    "MAX_NOTIFICATIONS_PER_REQUEST",
    "MAX_PAYLOAD_BYTES",
    "MAX_RECEIPT_IDS_PER_REQUEST",
    "Notification",
    "PROJECT_FORM",
    "RequestError",
    "SendRequest",
    "decode_json",
    "encode_json",
    "error_object",
    "malformed_ticket",
    "parse_receipt_ids",
    "parse_send",
    "request_error",
    "ticket_ids",
]

PROJECT_FORM = r"@[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"
"""DOCUMENTED: a project's full name is ``@owner/slug`` (the characters allowed in each part: GUESS)."""
MAX_NOTIFICATIONS_PER_REQUEST = 100
"""DOCUMENTED: at most 100 notifications per send request (a list ``to`` counts once per recipient: OBSERVED)."""
MAX_RECEIPT_IDS_PER_REQUEST = 1000
"""DOCUMENTED: at most 1000 receipt ids per getReceipts request."""
MAX_PAYLOAD_BYTES = 4096
"""DOCUMENTED: the total payload handed to Apple and Google is at most 4096 bytes, else ``MessageTooBig``."""

# DOCUMENTED: ExponentPushToken[...]. OBSERVED (accepted by the service, and by the Node SDK's
# isExpoPushToken): ExpoPushToken[...] and a bare UUID. GUESS: surrounding whitespace is ignored
# (the service parses with a schema library that trims; a token read from a file often ends in "\n").
_TOKEN = re.compile(
    r"(?:Expo(?:nent)?PushToken\[[^\[\]]+\]|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
)

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder()


def decode_json(raw: bytes) -> object:
    """Decode a JSON body as the service (Node's ``JSON.parse``) does.

    A lone UTF-16 surrogate escape (``"\\ud83c"``, what Node and Python write when a string
    is cut mid-emoji) is valid JSON: msgspec refuses it, so such bodies go through the
    standard library, which keeps it. Raises ``ValueError`` for what is not JSON and
    ``RecursionError`` for nesting too deep to read.
    """
    try:
        return _DECODER.decode(raw)
    except msgspec.DecodeError:
        pass
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise ValueError(f"the body is not UTF-8 text: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None


def encode_json(value: object) -> bytes:
    """Encode ``value`` as compact JSON; strings holding lone surrogates are written as escapes."""
    try:
        return _ENCODER.encode(value)
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode()


@dataclass(frozen=True)
class RequestError:
    """A whole request refused: HTTP ``status`` with one error object."""

    status: int
    code: str
    message: str
    details: Any = None
    transient: bool = False
    """``isTransient`` of the error object: whether sending the same request later may succeed."""

    def body(self) -> dict[str, Any]:
        """The response body: ``{"errors": [{"code", "message", "isTransient", "details"?}]}``.

        OBSERVED: captured answers carry ``"isTransient": false`` on ``VALIDATION_ERROR`` and
        ``PUSH_TOO_MANY_EXPERIENCE_IDS``. GUESS: ``true`` on 429 and 5xx answers.
        """
        error: dict[str, Any] = {"code": self.code, "message": self.message, "isTransient": self.transient}
        if self.details is not None:
            error["details"] = self.details
        return {"errors": [error]}


def request_error(status: int, code: str, message: str, details: Any = None) -> RequestError:
    """A request-level error; transient (worth retrying as is) for 429 and 5xx statuses."""
    return RequestError(status, code, message, details, transient=status == 429 or status >= 500)


def validation_error(message: str) -> RequestError:
    """OBSERVED: malformed requests are refused whole with 400 ``VALIDATION_ERROR`` (Joi-style messages)."""
    return request_error(400, "VALIDATION_ERROR", message)


# -- per-notification errors ------------------------------------------------------------------------

_ERROR_MESSAGES = {
    # DOCUMENTED (the wording of each code's explanation on Expo's page).
    "MessageTooBig": f"Notification was too large. On Android and iOS, the total payload must be at most "
    f"{MAX_PAYLOAD_BYTES} bytes.",
    "MessageRateExceeded": "Too many messages were sent to this device recently; back off and retry later.",
    "MismatchSenderId": "The FCM sender ID of the request does not match the credentials of this app.",
    "InvalidCredentials": "The push notification credentials of this app are invalid or were revoked.",
}


def error_object(code: str, token: str, extra_details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ticket or receipt of status ``error`` with ``code`` for ``token``.

    DOCUMENTED: ``{"status": "error", "message", "details": {"error": code}}``; the
    DeviceNotRegistered message quotes the token. OBSERVED: ``details.expoPushToken`` names the
    token on ``DeviceNotRegistered`` only; provider specifics come as ``details.apns`` /
    ``details.fcm`` (``extra_details``, scripted).
    """
    if code == "DeviceNotRegistered":
        message = f'"{token}" is not a registered push notification recipient'
        details: dict[str, Any] = {"error": code, "expoPushToken": token}
    else:
        message = _ERROR_MESSAGES.get(code, f"The notification could not be delivered ({code}).")
        details = {"error": code}
    if extra_details:
        details.update(extra_details)
        details["error"] = code
    return {"status": "error", "message": message, "details": details}


# -- send requests ----------------------------------------------------------------------------------


class Notification:
    """One recipient of one message: the unit the service counts, accepts and gives a ticket to."""

    __slots__ = ("message", "payload", "token", "well_formed")

    def __init__(self, token: str, message: dict[str, Any], payload: bytes, well_formed: bool = True) -> None:
        self.token = token
        """The recipient as sent, trimmed."""
        self.message = message
        """The message as received, with ``to`` narrowed to this recipient (the message itself for a string ``to``)."""
        self.payload = payload
        """The message without ``to`` as JSON: its size is what ``MessageTooBig`` is judged on (GUESS)."""
        self.well_formed = well_formed
        """Whether ``token`` looks like an Expo push token at all."""


@dataclass(frozen=True)
class SendRequest:
    """A send request the service takes: its notifications in order, and whether it answers with one ticket."""

    notifications: list[Notification] = field(default_factory=list)
    single: bool = False
    """DOCUMENTED: a single message object with a single (string) recipient is answered with one ticket object."""


_STRING_FIELDS = ("title", "body", "subtitle", "channelId", "categoryId", "icon", "collapseId", "tag", "threadId",
                  "targetContentId")  # fmt: skip
_ENUMS = {
    "priority": ("default", "normal", "high"),  # DOCUMENTED
    "interruptionLevel": ("active", "critical", "passive", "time-sensitive"),  # DOCUMENTED (newer page)
}
# DOCUMENTED: the type of each field (newer fields from the newer page).
_FIELD_KINDS: dict[str, str] = {
    **dict.fromkeys(_STRING_FIELDS, "string"),
    **dict.fromkeys(("ttl", "expiration", "badge", "relevanceScore"), "number"),
    **dict.fromkeys(("mutableContent", "_contentAvailable", "contentAvailable"), "boolean"),
    **dict.fromkeys(("data", "richContent"), "object"),
    **dict.fromkeys(_ENUMS, "enum"),
    # DOCUMENTED: "default" or null; newer docs: a custom sound name, or an object of
    # critical/name/volume. GUESS: other keys of the object are passed through to Apple.
    "sound": "sound",
}


def _check_fields(message: dict[str, Any], where: str) -> str | None:
    """What is wrong with the documented fields of ``message`` (Joi-style), or ``None``.

    GUESS: ``null`` stands for an absent field (JSON encoders write it for unset
    attributes); unknown fields are passed through, as the service ignores them
    (OBSERVED); any JSON number is a number (``3600.0`` as much as ``3600``: the service
    parses JSON, it does not look at how a number was written).
    """
    kinds = _FIELD_KINDS
    for name, value in message.items():
        kind = kinds.get(name)
        if kind is None or value is None:
            continue
        if kind == "string":
            if not isinstance(value, str):
                return f'"{where}{name}" must be a string'
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f'"{where}{name}" must be a number'
        elif kind == "boolean":
            if not isinstance(value, bool):
                return f'"{where}{name}" must be a boolean'
        elif kind == "object":
            if not isinstance(value, dict):
                return f'"{where}{name}" must be of type object'
        elif kind == "enum":
            if value not in _ENUMS[name]:
                return f'"{where}{name}" must be one of [{", ".join(_ENUMS[name])}]'
        elif not isinstance(value, (str, dict)):  # sound
            return f'"{where}{name}" must be one of [string, object]'
    return None


def _recipients(to: object, where: str) -> list[str] | str:
    """The recipients of a ``to`` value, or what is wrong with it (Joi-style)."""
    if isinstance(to, str):
        return [to]
    if isinstance(to, list):
        if not to:
            return f'"{where}to" must contain at least 1 items'  # GUESS: an empty list is refused
        for position, token in enumerate(to):
            if not isinstance(token, str):
                return f'"{where}to[{position}]" must be a string'
        return to
    if to is None:
        return f'"{where}to" is required'  # DOCUMENTED: only `to` is required
    return f'"{where}to" must be one of [string, array]'


def parse_send(body: object) -> SendRequest | RequestError:
    """Read a decoded send request body into its notifications, or the error refusing it whole."""
    if isinstance(body, dict):
        messages: list[Any] = [body]
        prefix = False
    elif isinstance(body, list):
        messages = body
        prefix = True
    else:
        return validation_error('"value" must be one of [object, array]')
    if not messages:
        return validation_error('"value" must contain at least 1 items')  # GUESS
    recipients: list[list[str]] = []
    count = 0
    for index, message in enumerate(messages):
        where = f"[{index}]." if prefix else ""
        if not isinstance(message, dict):
            return validation_error(f'"[{index}]" must be of type object')
        found = _recipients(message.get("to"), where)
        if isinstance(found, str):
            return validation_error(found)
        problem = _check_fields(message, where)
        if problem is not None:
            return validation_error(problem)
        recipients.append(found)
        count += len(found)
    if count > MAX_NOTIFICATIONS_PER_REQUEST:
        # DOCUMENTED code; the wording is the emulator's.
        return request_error(
            400,
            "PUSH_TOO_MANY_NOTIFICATIONS",
            f"You are trying to send {count} push notifications in one request; "
            f"the limit is {MAX_NOTIFICATIONS_PER_REQUEST}.",
        )
    notifications: list[Notification] = []
    append = notifications.append
    is_token = _TOKEN.fullmatch
    for message, tokens in zip(messages, recipients, strict=True):
        rest = dict(message)
        del rest["to"]
        payload = encode_json(rest)
        listed = isinstance(message["to"], list)
        for token in tokens:
            trimmed = token.strip()
            narrowed = {**message, "to": token} if listed else message
            append(Notification(trimmed, narrowed, payload, is_token(trimmed) is not None))
    single = isinstance(body, dict) and isinstance(body.get("to"), str)
    return SendRequest(notifications, single)


def parse_receipt_ids(body: object) -> list[str] | RequestError:
    """The ticket ids of a decoded getReceipts body, or the error refusing it (DOCUMENTED: ``{"ids": [...]}``)."""
    if not isinstance(body, dict):
        return validation_error('"value" must be of type object')
    ids = body.get("ids")
    if not isinstance(ids, list):
        return validation_error('"ids" is required and must be an array')
    if len(ids) > MAX_RECEIPT_IDS_PER_REQUEST:
        return request_error(
            400,
            "PUSH_TOO_MANY_RECEIPTS",
            f"You are trying to get {len(ids)} push receipts in one request; "
            f"the limit is {MAX_RECEIPT_IDS_PER_REQUEST}.",
        )
    for position, ticket_id in enumerate(ids):
        if not isinstance(ticket_id, str):
            return validation_error(f'"ids[{position}]" must be a string')
    return ids


def ticket_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUID strings, made in one go: far cheaper than ``uuid.uuid4()`` each."""
    raw = bytearray(os.urandom(16 * count))
    for start in range(0, 16 * count, 16):
        raw[start + 6] = (raw[start + 6] & 0x0F) | 0x40
        raw[start + 8] = (raw[start + 8] & 0x3F) | 0x80
    hexed = raw.hex()
    ids = []
    for start in range(0, 32 * count, 32):
        h = hexed[start : start + 32]
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids


def malformed_ticket(token: str) -> dict[str, Any]:
    """The error ticket of a recipient that is not an Expo push token at all."""
    # GUESS: a recipient that is not an Expo push token at all gets an error ticket of its own
    # (the rest of the request goes through), coded as the service codes a token it does not know.
    return {
        "status": "error",
        "message": f'"{token}" is not a valid Expo push token',
        "details": {"error": "DeviceNotRegistered", "expoPushToken": token},
    }
