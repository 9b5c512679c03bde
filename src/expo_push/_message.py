"""Push messages: the model users build, its validation, and its encoding for the wire.

Validation turns user input (a ``PushMessage`` or a camelCase dict) into a
``PreparedMessage``: the recipients plus the JSON of everything else, encoded
once. Requests are then assembled from those bytes without re-encoding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import msgspec

from ._errors import ValidationError
from ._tokens import token_problem

__all__ = [
    "recipients_of",
    "MAX_JSON_DEPTH",
    "MAX_PAYLOAD_BYTES",
    "MAX_SAFE_INTEGER",
    "PreparedMessage",
    "PushMessage",
    "Sound",
    "message_from_dict",
    "narrow",
    "prepare_message",
    "unknown_fields",
]

MAX_PAYLOAD_BYTES = 4096
"""Bound on the JSON of a message without its ``to``: the provider's payload limit."""
MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer (and, negated, the smallest) a JSON number carries exactly: the service reads numbers as doubles."""
MAX_JSON_DEPTH = 32
"""Deepest nesting of objects and lists in ``data``, ``richContent`` and ``extra`` (the field itself is depth 1)."""

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


def _folded(name: str) -> str:
    """``name`` without case, underscores or hyphens: ``channel_id``, ``ChannelID`` and ``channelId`` fold alike."""
    return name.replace("_", "").replace("-", "").lower()


# Folded name -> wire name, to catch a known field in the wrong case or spelling form.
_FOLDED_TO_WIRE: dict[str, str] = {_folded(wire): wire for wire in _WIRE_TO_ATTR if wire != "contentAvailable"}
_WIRE_NAMES = sorted(_WIRE_TO_ATTR)


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


def _shown(name: str) -> str:
    """``name`` as it can be printed: itself, or its quoted, escaped repr if empty or holding invisible characters."""
    return name if name and name.isprintable() else repr(name)


def _misspelt(name: str) -> str | None:
    """The wire name of the known field ``name`` spells in another case or form (``channel_id``), else ``None``."""
    wire = _FOLDED_TO_WIRE.get(_folded(name))
    return wire if wire is not None and wire != name else None


def _nearest(name: str) -> str | None:
    """The known wire name closest to ``name`` (``titel`` -> ``title``), or ``None`` when none is close."""
    wire = _misspelt(name)
    if wire is not None:
        return wire
    import difflib  # here: only a mistaken name needs it, and it costs a cold start

    close = difflib.get_close_matches(name, _WIRE_NAMES, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(_folded(name), list(_FOLDED_TO_WIRE), n=1, cutoff=0.6)
        return _FOLDED_TO_WIRE[close[0]] if close else None
    return close[0]


def unknown_fields(message: Mapping[str, Any]) -> dict[str, str | None]:
    """The keys of a wire dict message that are no field of the service, each with the nearest known name or None.

    ``{"to": t, "titel": "x", "channel_id": "c", "zork": 1}`` gives
    ``{"titel": "title", "channel_id": "channelId", "zork": None}``. Sending
    refuses a misspelt known field (``channel_id``) always and the others only
    in strict mode; this lets a caller warn about them without refusing.
    Keys that are not strings are left out (sending refuses them).
    """
    return {key: _nearest(key) for key in message if isinstance(key, str) and key not in _WIRE_TO_ATTR}


def _misspelt_error(name: str, wire: str, where: str, index: int) -> ValidationError:
    attr = _WIRE_TO_ATTR[wire]
    return ValidationError(
        f"is not a field of a push message: the service would ignore it; "
        f"the field is {wire!r} in a dict (PushMessage({attr}=...))",
        field=f"{where}{_shown(name)}",
        index=index,
    )


def _unknown_error(name: str, index: int) -> ValidationError:
    near = _nearest(name)
    hint = f"; did you mean {near!r}?" if near is not None else " (strict mode refuses unknown fields)"
    return ValidationError(f"is not a field of a push message{hint}", field=_shown(name), index=index)


def message_from_dict(raw: Mapping[str, Any], index: int, *, strict: bool = False) -> PushMessage:
    """Build a ``PushMessage`` from a camelCase wire dict; unknown keys go to ``extra``.

    A known field spelt in another case or form (``channel_id`` for
    ``channelId``) is refused; with ``strict``, every unknown key is.
    """
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise ValidationError(f"is a key that is not a string ({type(key).__name__})", field=repr(key), index=index)
        attr = _WIRE_TO_ATTR.get(key)
        if attr is None:
            wire = _misspelt(key)
            if wire is not None:
                raise _misspelt_error(key, wire, "", index)
            if strict:
                raise _unknown_error(key, index)
            extra[key] = value
        else:
            known[attr] = value
    if "to" not in known:
        raise ValidationError("is required", field="to", index=index)
    if "contentAvailable" in raw and "_contentAvailable" in raw:  # the one field with two names
        raise ValidationError(
            "is given twice, as '_contentAvailable' and as 'contentAvailable'", field="_contentAvailable", index=index
        )
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


_MAX_INTEGER = {"badge": 2**31 - 1, "ttl": MAX_SAFE_INTEGER, "expiration": MAX_SAFE_INTEGER}
"""Largest values the service's JSON numbers hold exactly (a badge is a 32-bit integer on devices)."""


def _check_count(attr: str, value: object, index: int) -> None:
    # The service reads JSON numbers as doubles, so 3600.0 is 3600 to it: an integral float is accepted and
    # sent as given. A fraction, NaN or infinity is refused.
    if isinstance(value, float):
        if not value.is_integer():
            raise ValidationError(
                f"must be a non-negative integer, not {value!r}", field=_wire_field(attr), index=index
            )
    elif isinstance(value, bool) or not isinstance(value, int):
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
    if not isinstance(value, str) or value not in choices:
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
        shown = ", ".join(sorted(repr(key) for key in unknown))
        raise ValidationError(f"has unknown keys {shown} (allowed: critical, name, volume)", field="sound", index=index)
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
            shown = ""
            if isinstance(token, str) and token.strip():
                shown = f"{token!r} " if len(token) <= 80 else f"{token[:60]!r}... "
            raise ValidationError(f"{shown}{problem}", field=where, index=index)
    return tokens, is_list


class _NotJson(Exception):
    """Why a value cannot go on the wire as JSON unchanged; ``path`` says where, from the field inward."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        self.path: list[str] = []


def _check_json_value(value: object, room: int) -> None:
    """Raise ``_NotJson`` if ``value`` would not reach the app as it is, or nests more than ``room`` deep.

    Encoders would quietly turn bytes into base64, NaN into null and sets into
    lists, and the service reads integers beyond 2**53 as rounded doubles.
    """
    if value is None or isinstance(value, (str, bool)):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise _NotJson(
                f"holds the integer {value}, beyond the {MAX_SAFE_INTEGER} a JSON number carries exactly "
                "(the service reads numbers as doubles); send it as a string"
            )
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _NotJson(f"holds {value!r}, which JSON cannot carry")
        return
    if isinstance(value, (dict, list, tuple)):
        if room <= 0:
            raise _NotJson(f"is nested more than {MAX_JSON_DEPTH} deep")
        if isinstance(value, dict):
            _check_json_items(value.items(), room - 1, keyed=True)
        else:
            _check_json_items(enumerate(value), room - 1, keyed=False)
        return
    raise _NotJson(
        f"holds a {type(value).__name__}, which is not a JSON value (use str, int, float, bool, None, list, dict)"
    )


def _check_json_items(items: Iterable[tuple[object, object]], room: int, *, keyed: bool) -> None:
    """``_check_json_value`` for each item of a dict (``keyed``: keys must be strings) or a list (by position)."""
    for key, item in items:
        if keyed and type(key) is not str and not isinstance(key, str):
            raise _NotJson(f"has a key {key!r} that is not a string (it is sent as a JSON object)")
        # The common values are decided here by their type alone, without a call.
        kind = type(item)
        if not (
            kind is str
            or kind is bool
            or item is None
            or (kind is int and -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER)  # type: ignore[operator]
            or (kind is float and item - item == 0.0)  # type: ignore[operator]  # finite: inf - inf and nan - nan are nan
        ):
            try:
                _check_json_value(item, room)
            except _NotJson as exc:
                exc.path.append(f"[{key!r}]")
                raise


def _check_json_object(field: str, value: object, index: int, what: str = "a JSON object (a dict)") -> dict[str, Any]:
    """``value`` if it is a JSON object that goes on the wire unchanged; ``ValidationError`` otherwise."""
    if not isinstance(value, dict):
        raise ValidationError(f"must be {what}, not {type(value).__name__}", field=field, index=index)
    try:
        _check_json_items(value.items(), MAX_JSON_DEPTH - 1, keyed=True)
    except _NotJson as exc:
        path = exc.path[::-1]
        if len(path) > 6:
            path = [*path[:3], f"...({len(path) - 5} more)...", *path[-2:]]
        where = f" at {field}{''.join(path)}" if path else ""
        raise ValidationError(f"{exc.problem}{where}", field=field, index=index) from None
    return value


def _check_data(attr: str, value: object, index: int) -> None:
    _check_json_object("data", value, index)


def _check_rich_content(attr: str, value: object, index: int) -> None:
    _check_json_object("richContent", value, index, "a dict like {'image': url}")
    assert isinstance(value, dict)
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


def _check_extra_names(extra: dict[str, Any], index: int) -> None:
    for key in extra:
        wire = _misspelt(key)
        if wire is not None:
            raise _misspelt_error(key, wire, "extra.", index)


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


def _set_fields(message: PushMessage) -> list[tuple[str, Any]]:
    """``(wire name, value)`` of every field but ``to`` that is set, ``extra`` under its own name."""
    return [
        (_ATTR_TO_WIRE.get(attr, attr), value)
        for attr, value in zip(_FIELD_NAMES, msgspec.structs.astuple(message), strict=True)
        if value is not None and attr != "to"
    ]


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
        # Slow path: find the field by encoding each on its own.
        field = None
        for wire, value in _set_fields(message):
            try:
                _ENCODER.encode(value)
            except (TypeError, ValueError, msgspec.EncodeError):
                field = wire
                break
        reason = str(exc)
        if isinstance(exc, UnicodeEncodeError):
            reason = "it holds a lone surrogate (half of a UTF-16 pair), which UTF-8 cannot encode"
        raise ValidationError(f"cannot be encoded as JSON: {reason}", field=field, index=index) from None
    return payload


def _largest_field(message: PushMessage) -> str | None:
    """The wire name of the field taking the most bytes of the payload (``extra`` counting as one)."""
    sizes = [(len(_ENCODER.encode(value)), wire) for wire, value in _set_fields(message)]
    return max(sizes)[1] if sizes else None


def prepare_message(
    message: PushMessage | Mapping[str, Any],
    index: int,
    *,
    check_size: bool = True,
    strict: bool = False,
) -> PreparedMessage:
    """Validate one message and encode its payload; raise ``ValidationError`` naming ``index`` and the field.

    ``check_size=False`` skips the 4096-byte payload bound (the service itself
    answers an oversized payload with a ``MessageTooBig`` ticket).
    ``strict`` refuses keys of a dict message that are no field of the service
    (see ``message_from_dict``); fields set in ``PushMessage.extra`` are sent
    either way, since putting them there says they are meant.
    """
    if isinstance(message, PushMessage):
        msg = message
    elif isinstance(message, Mapping):
        msg = message_from_dict(message, index, strict=strict)
    else:
        raise ValidationError(f"must be a PushMessage or a dict, not {type(message).__name__}", index=index)
    recipients, to_is_list = _check_recipients(msg.to, index)
    _check_fields(msg, index)
    if msg.extra:
        _check_extra_names(msg.extra, index)
    payload = _encode_payload(msg, index)
    if check_size and len(payload) > MAX_PAYLOAD_BYTES:
        raise ValidationError(
            f"the notification payload is {len(payload)} bytes of JSON without 'to'; "
            f"Apple and Google accept at most {MAX_PAYLOAD_BYTES} (shrink the largest field first)",
            field=_largest_field(msg),
            index=index,
        )
    return PreparedMessage(index, msg, recipients, to_is_list, payload)


def recipients_of(message: PushMessage | Mapping[str, Any]) -> list[str] | None:
    """The recipient tokens of a message or message dict, or ``None`` when its ``to`` is malformed.

    The one place that reads ``to`` without validating the message (counting, matching dead tokens);
    ``prepare_message`` says what is wrong with a malformed one.
    """
    to = message.to if isinstance(message, PushMessage) else message.get("to")
    if isinstance(to, str):
        return [to]
    if isinstance(to, (list, tuple)) and all(isinstance(t, str) for t in to):
        return list(to)
    return None


def narrow(message: PushMessage, recipients: Sequence[str], to_is_list: bool) -> PushMessage:
    """Return ``message`` addressed to ``recipients`` only (keeping a single ``to`` a string)."""
    if not to_is_list and len(recipients) == 1:
        return msgspec.structs.replace(message, to=recipients[0])
    return msgspec.structs.replace(message, to=list(recipients))
