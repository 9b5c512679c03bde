"""Push messages: the model users build, its validation, and its encoding for the wire.

Validation turns user input (a ``PushMessage`` or a camelCase dict) into a
``PreparedMessage``: the recipients plus the JSON of everything else, encoded
once. Requests are then assembled from those bytes without re-encoding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import msgspec

from ._errors import ValidationError
from ._tokens import token_problem

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "PreparedMessage",
    "PushMessage",
    "Sound",
    "prepare_message",
]

MAX_PAYLOAD_BYTES = 4096
"""Bound on the JSON of a message without its ``to``: the provider's payload limit."""

Priority = Literal["default", "normal", "high"]
InterruptionLevel = Literal["active", "critical", "passive", "time-sensitive"]
Sound = str | dict[str, Any] | None
"""``"default"``, a sound file name, or ``{"critical": bool, "name": str, "volume": 0..1}``."""

_PRIORITIES = frozenset(("default", "normal", "high"))
_INTERRUPTION_LEVELS = frozenset(("active", "critical", "passive", "time-sensitive"))
_SOUND_KEYS = frozenset(("critical", "name", "volume"))


class PushMessage(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True, rename="camel"):
    """One notification, to one recipient or to a list of recipients.

    Attributes are the service's fields in snake_case; on the wire they are
    camelCase and fields left at ``None`` are omitted. ``extra`` carries fields
    this version does not know yet, under their wire names, unchanged. Only
    ``to`` is required. Construction does not validate; sending does, before
    anything goes out, and ``validate()`` does on demand.
    """

    to: str | list[str]
    """An Expo push token, or a list of them."""
    title: str | None = None
    body: str | None = None
    data: dict[str, Any] | None = None
    """A JSON object delivered to the app."""
    ttl: int | None = None
    """Seconds the provider may keep the message for redelivery."""
    expiration: int | None = None
    """Unix timestamp after which the message is dropped (``ttl`` wins if both are set)."""
    priority: Priority | None = None
    subtitle: str | None = None
    sound: Sound = None
    badge: int | None = None
    interruption_level: InterruptionLevel | None = None
    channel_id: str | None = None
    category_id: str | None = None
    mutable_content: bool | None = None
    content_available: bool | None = msgspec.field(default=None, name="_contentAvailable")
    rich_content: dict[str, Any] | None = None
    """``{"image": url}``."""
    icon: str | None = None
    collapse_id: str | None = None
    tag: str | None = None
    thread_id: str | None = None
    target_content_id: str | None = None
    filter_criteria: str | None = None
    relevance_score: float | None = None
    extra: dict[str, Any] | None = None
    """Further wire fields, by their camelCase names, sent as given."""

    def validate(self) -> None:
        """Raise ``ValidationError`` if this message would be refused; return ``None`` otherwise."""
        prepare_message(self, 0)

    def to_wire(self) -> dict[str, Any]:
        """Return the message as the JSON object sent to the service."""
        prepared = prepare_message(self, 0)
        wire: dict[str, Any] = {"to": self.to}
        wire.update(msgspec.json.decode(prepared.payload))
        return wire

    @property
    def recipients(self) -> list[str]:
        """The recipient tokens as a list, whether ``to`` is one token or several."""
        return [self.to] if isinstance(self.to, str) else list(self.to)


# Wire name -> attribute name, for every field but ``extra``.
_WIRE_TO_ATTR: dict[str, str] = {
    f.encode_name: f.name for f in msgspec.structs.fields(PushMessage) if f.name != "extra"
}
# Newer docs spell it without the underscore; accept both from dicts.
_WIRE_TO_ATTR["contentAvailable"] = "content_available"
_ATTR_TO_WIRE: dict[str, str] = {
    f.name: f.encode_name for f in msgspec.structs.fields(PushMessage) if f.name != "extra"
}


# gc=False: it holds no reference cycles, and leaving the many made by a large send untracked spares the
# garbage collector from walking them (about 2.5 us per notification).
class PreparedMessage(msgspec.Struct, frozen=True, gc=False):
    """A validated message, ready to be put in requests.

    ``payload`` is the encoded JSON object of every field but ``to``, always
    starting with ``{`` and ending with ``}``.
    """

    index: int
    """Position of the message in the caller's input."""
    message: PushMessage
    recipients: tuple[str, ...]
    to_is_list: bool
    payload: bytes


_ENCODER = msgspec.json.Encoder()


def _wire_field(attr: str) -> str:
    return _ATTR_TO_WIRE.get(attr, attr)


def message_from_dict(raw: Mapping[str, Any], index: int) -> PushMessage:
    """Build a ``PushMessage`` from a camelCase wire dict; unknown keys go to ``extra``."""
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise ValidationError(f"keys must be strings, not {type(key).__name__}", index=index)
        attr = _WIRE_TO_ATTR.get(key)
        if attr is None:
            extra[key] = value
        else:
            known[attr] = value
    if "to" not in known:
        raise ValidationError("is required", field="to", index=index)
    if extra:
        known["extra"] = extra
    return PushMessage(**known)


def _check_str(attr: str, value: object, index: int) -> None:
    if not isinstance(value, str):
        raise ValidationError(f"must be a string, not {type(value).__name__}", field=_wire_field(attr), index=index)


def _check_bool(attr: str, value: object, index: int) -> None:
    if not isinstance(value, bool):
        raise ValidationError(
            f"must be true or false, not {type(value).__name__}", field=_wire_field(attr), index=index
        )


_MAX_INTEGER = {"badge": 2**31 - 1, "ttl": 2**53 - 1, "expiration": 2**53 - 1}
"""Largest values the service's JSON numbers hold exactly (a badge is a 32-bit integer on devices)."""


def _check_count(attr: str, value: object, index: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"must be a non-negative integer, not {type(value).__name__}", field=_wire_field(attr), index=index
        )
    if value < 0:
        raise ValidationError(f"must be a non-negative integer, not {value}", field=_wire_field(attr), index=index)
    if value > _MAX_INTEGER[attr]:
        raise ValidationError(
            f"must be at most {_MAX_INTEGER[attr]}, not {value}", field=_wire_field(attr), index=index
        )


def _check_fraction(field: str, value: object, index: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(f"must be a number from 0 to 1, not {value!r}", field=field, index=index)
    if not 0 <= value <= 1:
        raise ValidationError(f"must be a number from 0 to 1, not {value!r}", field=field, index=index)


def _check_choice(attr: str, value: object, choices: frozenset[str], index: int) -> None:
    if value not in choices:
        allowed = ", ".join(repr(c) for c in sorted(choices))
        raise ValidationError(f"must be one of {allowed}, not {value!r}", field=_wire_field(attr), index=index)


def _check_sound(value: object, index: int) -> None:
    if isinstance(value, str):
        if not value:
            raise ValidationError("must not be an empty string (use None for no sound)", field="sound", index=index)
        return
    if not isinstance(value, dict):
        raise ValidationError(
            f"must be 'default', a sound file name, or a dict of critical/name/volume, not {type(value).__name__}",
            field="sound",
            index=index,
        )
    unknown = set(value) - _SOUND_KEYS
    if unknown:
        raise ValidationError(
            f"has unknown keys {sorted(unknown)} (allowed: critical, name, volume)", field="sound", index=index
        )
    if "critical" in value and not isinstance(value["critical"], bool):
        raise ValidationError("'critical' must be true or false", field="sound", index=index)
    if "name" in value and value["name"] is not None and not isinstance(value["name"], str):
        raise ValidationError("'name' must be a string", field="sound", index=index)
    if "volume" in value and value["volume"] is not None:
        _check_fraction("sound.volume", value["volume"], index)


def _check_recipients(to: object, index: int) -> tuple[tuple[str, ...], bool]:
    if isinstance(to, str):
        tokens: tuple[str, ...] = (to,)
        is_list = False
    elif isinstance(to, (list, tuple)):
        if not to:
            raise ValidationError("is an empty list: a message needs at least one recipient", field="to", index=index)
        tokens = tuple(to)
        is_list = True
    else:
        raise ValidationError(
            f"must be an Expo push token or a list of them, not {type(to).__name__}", field="to", index=index
        )
    for position, token in enumerate(tokens):
        problem = token_problem(token)
        if problem is not None:
            where = f"to[{position}]" if is_list else "to"
            shown = f"{token!r} " if isinstance(token, str) and token.strip() else ""
            raise ValidationError(f"{shown}{problem}", field=where, index=index)
    return tokens, is_list


def _json_problem(value: object) -> str | None:
    """What keeps ``value`` from being sent as JSON unchanged, or ``None`` when nothing does.

    Encoders would quietly turn bytes into base64, NaN into null and sets into
    lists; the app would then receive something else than what was sent.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"holds {value!r}, which JSON cannot carry"
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"has a key {key!r} that is not a string (it is sent as a JSON object)"
            problem = _json_problem(item)
            if problem is not None:
                return problem
        return None
    if isinstance(value, (list, tuple)):
        for item in value:
            problem = _json_problem(item)
            if problem is not None:
                return problem
        return None
    return f"holds a {type(value).__name__}, which is not a JSON value (use str, int, float, bool, None, list, dict)"


def _check_json_object(field: str, value: object, index: int) -> dict[str, Any]:
    """``value`` if it is a JSON object that goes on the wire unchanged; ``ValidationError`` otherwise."""
    if not isinstance(value, dict):
        raise ValidationError(f"must be a JSON object (a dict), not {type(value).__name__}", field=field, index=index)
    problem = _json_problem(value)
    if problem is not None:
        raise ValidationError(problem, field=field, index=index)
    return value


def _check_data(attr: str, value: object, index: int) -> None:
    _check_json_object("data", value, index)


def _check_rich_content(attr: str, value: object, index: int) -> None:
    if not isinstance(value, dict):
        raise ValidationError(
            f"must be a dict like {{'image': url}}, not {type(value).__name__}", field="richContent", index=index
        )
    image = value.get("image")
    if image is not None and not isinstance(image, str):
        raise ValidationError(
            f"must be a string URL, not {type(image).__name__}", field="richContent.image", index=index
        )


def _check_extra(attr: str, value: object, index: int) -> None:
    for key in _check_json_object("extra", value, index):
        if key in _WIRE_TO_ATTR:
            raise ValidationError(
                f"{key!r} is a known field: set it as {_WIRE_TO_ATTR[key]}= instead", field="extra", index=index
            )


_CHECKS: dict[str, Callable[[str, Any, int], None]] = {
    **dict.fromkeys(
        (
            "title",
            "body",
            "subtitle",
            "channel_id",
            "category_id",
            "icon",
            "collapse_id",
            "tag",
            "thread_id",
            "target_content_id",
            "filter_criteria",
        ),
        _check_str,
    ),
    **dict.fromkeys(("ttl", "expiration", "badge"), _check_count),
    **dict.fromkeys(("mutable_content", "content_available"), _check_bool),
    "data": _check_data,
    "priority": lambda attr, value, index: _check_choice(attr, value, _PRIORITIES, index),
    "interruption_level": lambda attr, value, index: _check_choice(attr, value, _INTERRUPTION_LEVELS, index),
    "sound": lambda attr, value, index: _check_sound(value, index),
    "rich_content": _check_rich_content,
    "relevance_score": lambda attr, value, index: _check_fraction("relevanceScore", value, index),
    "extra": _check_extra,
}
"""The check of every field but ``to``, by attribute name; each is called only for a value that is set."""
_FIELD_NAMES = PushMessage.__struct_fields__


def _check_fields(message: PushMessage, index: int) -> None:
    for attr, value in zip(_FIELD_NAMES, msgspec.structs.astuple(message), strict=True):
        if value is not None and attr != "to":
            _CHECKS[attr](attr, value, index)


def _encode_payload(message: PushMessage, index: int) -> bytes:
    try:
        rest = msgspec.structs.replace(message, to="", extra=None)
        payload = _ENCODER.encode(rest)
        # ``to`` is required so it is always encoded first; drop it again.
        payload = b"{" + payload[len(b'{"to":"",') :] if payload != b'{"to":""}' else b"{}"
        if message.extra:
            extra = _ENCODER.encode(message.extra)
            payload = extra if payload == b"{}" else payload[:-1] + b"," + extra[1:]
    except (TypeError, ValueError, msgspec.EncodeError) as exc:  # lone surrogates in strings, for one
        raise ValidationError(f"cannot be encoded as JSON: {exc}", index=index) from None
    return payload


def prepare_message(
    message: PushMessage | Mapping[str, Any], index: int, *, check_size: bool = True
) -> PreparedMessage:
    """Validate one message and encode its payload; raise ``ValidationError`` naming ``index``.

    ``check_size=False`` skips the 4096-byte payload bound (the emulator answers
    an oversized payload with a ``MessageTooBig`` receipt, as the service does).
    """
    if isinstance(message, PushMessage):
        msg = message
    elif isinstance(message, Mapping):
        msg = message_from_dict(message, index)
    else:
        raise ValidationError(f"must be a PushMessage or a dict, not {type(message).__name__}", index=index)
    recipients, to_is_list = _check_recipients(msg.to, index)
    _check_fields(msg, index)
    payload = _encode_payload(msg, index)
    if check_size and len(payload) > MAX_PAYLOAD_BYTES:
        raise ValidationError(
            f"the notification payload is {len(payload)} bytes of JSON without 'to'; "
            f"Apple and Google accept at most {MAX_PAYLOAD_BYTES} (shrink 'data' first)",
            field="data" if msg.data else None,
            index=index,
        )
    return PreparedMessage(index, msg, recipients, to_is_list, payload)


def narrow(message: PushMessage, recipients: Sequence[str], to_is_list: bool) -> PushMessage:
    """Return ``message`` addressed to ``recipients`` only (keeping a single ``to`` a string)."""
    if not to_is_list and len(recipients) == 1:
        return msgspec.structs.replace(message, to=recipients[0])
    return msgspec.structs.replace(message, to=list(recipients))
