"""Push messages: the model users build, its fields' names on the wire, and dict messages read into it.

Validation (``_validation``) turns either into a ``PreparedMessage``, encoded once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

from ._errors import ValidationError
from ._service import MAX_PAYLOAD_BYTES

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_PAYLOAD_BYTES",
    "MAX_SAFE_INTEGER",
    "PushMessage",
    "Sound",
    "message_from_dict",
    "narrow",
    "recipients_of",
    "unknown_fields",
]

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer (and, negated, the smallest) a JSON number carries exactly: the service reads numbers as doubles."""
MAX_JSON_DEPTH = 32
"""Deepest nesting of objects and lists in ``data``, ``richContent`` and ``extra`` (the field itself is depth 1)."""

Priority = Literal["default", "normal", "high"]
InterruptionLevel = Literal["active", "critical", "passive", "time-sensitive"]
Sound = str | dict[str, Any] | None
"""``"default"``, a sound file name, or ``{"critical": bool, "name": str, "volume": 0..1}``."""


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
        from ._validation import prepare_message  # validation builds on this module

        prepare_message(self, 0)

    def to_wire(self) -> dict[str, Any]:
        """Return the message as the JSON object sent to the service."""
        from ._validation import prepare_message

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
