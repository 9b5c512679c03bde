"""Validation: a message (a ``PushMessage`` or a camelCase dict) checked field by field and encoded once.

``prepare_message`` gives a ``PreparedMessage``: the recipients plus the JSON of every other field, from
which requests are assembled without encoding again; or a ``ValidationError`` naming the message and field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from ._errors import ValidationError
from ._message import (
    _ATTR_TO_WIRE,
    _WIRE_TO_ATTR,
    MAX_JSON_DEPTH,
    MAX_PAYLOAD_BYTES,
    MAX_SAFE_INTEGER,
    PushMessage,
    _misspelt,
    _misspelt_error,
    message_from_dict,
)
from ._tokens import MAX_TOKEN_LENGTH, token_problem

__all__ = ["PreparedMessage", "prepare_message"]

_PRIORITIES = frozenset(("default", "normal", "high"))
_INTERRUPTION_LEVELS = frozenset(("active", "critical", "passive", "time-sensitive"))
_SOUND_KEYS = frozenset(("critical", "name", "volume"))


# gc=False: it holds no reference cycles, and leaving the many made by a large send untracked spares the
# garbage collector from walking them (about 2.5 us per notification).
class PreparedMessage(msgspec.Struct, frozen=True, gc=False):
    """A validated message, ready to be put in requests.

    ``payload`` is the encoded JSON object of every field but ``to``, always
    starting with ``{`` and ending with ``}``. A dict message is not kept as a
    ``PushMessage``: ``message`` reads it back from ``payload`` when asked (a
    part to resend), so a large send holds only its bytes.
    """

    index: int
    """Position of the message in the caller's input."""
    source: PushMessage | None
    """The caller's ``PushMessage``; ``None`` for a dict message."""
    recipients: tuple[str, ...]
    to_is_list: bool
    payload: bytes

    @property
    def message(self) -> PushMessage:
        """The message as validated (a dict message as it went out: read back from ``payload``)."""
        if self.source is not None:
            return self.source
        to: str | list[str] = list(self.recipients) if self.to_is_list else self.recipients[0]
        return message_from_dict({"to": to, **_DECODE_OBJECT(self.payload)}, self.index)


_ENCODE = msgspec.json.Encoder().encode
_DECODE_OBJECT = msgspec.json.Decoder(dict[str, Any]).decode


def _wire_field(attr: str) -> str:
    return _ATTR_TO_WIRE.get(attr, attr)


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
_FIELD_CHECKS = {attr: None if _CHECKS[attr] is _check_str else _CHECKS[attr] for attr in _FIELD_NAMES[1:]}
"""The check of each field but ``to`` (``None``: a string)."""


def _check_fields(message: PushMessage, index: int) -> None:
    # ``__rich_repr__`` gives the fields set, in field order (PushMessage leaves fields at their default out of
    # its repr), from C: most of the 23 fields are None and never visited.
    for attr, value in message.__rich_repr__():
        if value is None or attr == "to":
            continue
        check = _FIELD_CHECKS[attr]
        if check is not None:
            check(attr, value, index)
        elif type(value) is not str:
            _check_str(attr, value, index)


def _set_fields(message: PushMessage) -> list[tuple[str, Any]]:
    """``(wire name, value)`` of every field but ``to`` that is set, ``extra`` under its own name."""
    return [
        (_ATTR_TO_WIRE.get(attr, attr), value)
        for attr, value in zip(_FIELD_NAMES, msgspec.structs.astuple(message), strict=True)
        if value is not None and attr != "to"
    ]


def _encode_payload(message: PushMessage, index: int) -> bytes:
    try:
        # ``to`` is required, so it is always encoded first: the payload is the rest.
        encoded = _ENCODE(message) if message.extra is None else _ENCODE(msgspec.structs.replace(message, extra=None))
        after_to = 6 + len(_ENCODE(message.to))  # {"to":<to>
        payload = b"{" + encoded[after_to + 1 :] if len(encoded) > after_to + 1 else b"{}"
        if message.extra:
            extra = _ENCODE(message.extra)
            payload = extra if payload == b"{}" else payload[:-1] + b"," + extra[1:]
    except (TypeError, ValueError, msgspec.EncodeError) as exc:  # lone surrogates in strings, for one
        # Slow path: find the field by encoding each on its own.
        field = None
        for wire, value in _set_fields(message):
            try:
                _ENCODE(value)
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
    sizes = [(len(_ENCODE(value)), wire) for wire, value in _set_fields(message)]
    return max(sizes)[1] if sizes else None


# -- the common dict message, in one pass --------------------------------------------------------------

_TOKEN = re.compile(r"^Expo(?:nent)?PushToken\[[!-Z\\^-~]+\]\Z")
"""The common token (``_tokens``' first test): any other form goes the full way."""
_PLAIN: dict[str, tuple[int, str, Callable[[str, Any, int], None] | None]] = {
    wire: (_FIELD_NAMES.index(attr), attr, None if _CHECKS[attr] is _check_str else _CHECKS[attr])
    for wire, attr in _WIRE_TO_ATTR.items()
    if wire not in ("to", "contentAvailable")
}
"""Wire name -> (place in encoding order, attribute, its check; ``None``: a string) of every field but ``to``
under its one wire spelling."""


def _order(item: tuple[str, Any]) -> int:
    return _PLAIN[item[0]][0]


def _prepare_plain(raw: dict[str, Any], index: int, check_size: bool) -> PreparedMessage | None:
    """A dict message of known fields only, valid, checked in one pass and encoded from the dict itself.

    ``None`` when anything is unusual or wrong: ``prepare_message`` then takes
    the full path, which decides and words any error exactly as it always has.
    Its payload is the one the full path makes: set fields in field order.
    """
    to = raw.get("to")
    if type(to) is str:
        if len(to) > MAX_TOKEN_LENGTH or _TOKEN.match(to) is None:
            return None
        recipients: tuple[str, ...] = (to,)
    elif type(to) is list and to:
        for token in to:
            if type(token) is not str or len(token) > MAX_TOKEN_LENGTH or _TOKEN.match(token) is None:
                return None
        recipients = tuple(to)
    else:
        return None
    last = -1
    ordered = True
    for key, value in raw.items():
        known = _PLAIN.get(key)
        if known is None:
            if key == "to":
                continue
            return None
        if value is None:
            continue
        order, attr, check = known
        if check is None:
            if type(value) is not str:
                return None
        else:
            try:
                check(attr, value, index)
            except ValidationError:
                return None
        if order < last:
            ordered = False
        last = order
    rest = {key: value for key, value in raw.items() if value is not None and key != "to"}
    if not ordered:
        rest = dict(sorted(rest.items(), key=_order))
    try:
        payload = bytes(memoryview(_ENCODE(rest)))  # a copy of its own size: msgspec's buffer has room to spare
    except (TypeError, ValueError, msgspec.EncodeError):
        return None
    if check_size and len(payload) > MAX_PAYLOAD_BYTES:
        return None
    return PreparedMessage(index, None, recipients, type(to) is list, payload)


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
    if type(message) is dict:
        prepared = _prepare_plain(message, index, check_size)
        if prepared is not None:
            return prepared
    if isinstance(message, PushMessage):
        msg = message
    elif isinstance(message, Mapping):
        msg = message_from_dict(message, index, strict=strict)
    else:
        raise ValidationError(f"must be a PushMessage or a dict, not {type(message).__name__}", index=index)
    to = msg.to
    recipients: tuple[str, ...]
    if type(to) is str and len(to) <= MAX_TOKEN_LENGTH and _TOKEN.match(to) is not None:  # the common token
        recipients, to_is_list = (to,), False
    else:
        recipients, to_is_list = _check_recipients(to, index)
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
    source = msg if msg is message else None  # a dict message is read back from its payload when needed
    return PreparedMessage(index, source, recipients, to_is_list, payload)
