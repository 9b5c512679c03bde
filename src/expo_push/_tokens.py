"""Expo push tokens: which strings are recipients the service accepts, and why the others are not."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_TOKEN_LENGTH", "is_expo_push_token", "token_problem"]

MAX_TOKEN_LENGTH = 256
"""Longest token accepted, in characters. Real ones are about 41 (``ExponentPushToken[`` + 22 + ``]``)."""

# The common case, tested first: printable ASCII but space and brackets inside the brackets.
_EXPO_TOKEN = re.compile(r"^Expo(?:nent)?PushToken\[[!-Z\\^-~]+\]\Z")
# Any other inside, whose characters are then looked at one by one.
_EXPO_TOKEN_SHAPE = re.compile(r"^Expo(?:nent)?PushToken\[([^\[\]]+)\]\Z")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_APNS_DEVICE_TOKEN = re.compile(r"^[0-9a-fA-F]{64}\Z")
_FCM_TOKEN = re.compile(r"^[A-Za-z0-9_-]{11,}:[A-Za-z0-9_-]{20,}\Z")

_CATEGORY_NAMES = {
    "Cc": "a control character",
    "Cf": "an invisible format character",
    "Cs": "a lone surrogate, which UTF-8 cannot encode",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
    "Zs": "a space",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


def _hidden_character(text: str, kinds: str = "CZ") -> str | None:
    """Describe the first character of ``text`` in a Unicode category starting with one of ``kinds``, if any.

    ``C``: control, format, surrogate, private-use, unassigned; ``Z``: spaces and separators.
    """
    for char in text:
        category = unicodedata.category(char)
        if category[0] in kinds:
            name = unicodedata.name(char, "")
            named = f" ({name})" if name else ""
            return f"U+{ord(char):04X}{named}, {_CATEGORY_NAMES[category]}"
    return None


def is_expo_push_token(token: object) -> bool:
    """Return whether ``token`` is an Expo push token the service accepts.

    Accepted forms are ``ExponentPushToken[...]`` (the documented one),
    ``ExpoPushToken[...]`` and a bare UUID, as the official Node SDK accepts,
    at most ``MAX_TOKEN_LENGTH`` characters long. Inside the brackets there is
    no space, bracket, control or invisible character. Raw APNs device tokens
    and FCM registration tokens are not Expo push tokens.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return False
    if _EXPO_TOKEN.match(token) is not None or _UUID.match(token) is not None:
        return True
    shape = _EXPO_TOKEN_SHAPE.match(token)
    return shape is not None and _hidden_character(shape.group(1)) is None


def token_problem(token: object) -> str | None:
    """Say what is wrong with ``token`` as a recipient, or return ``None`` when it is fine.

    The explanation never repeats the token: callers add it where the user needs it.
    """
    if isinstance(token, str):
        if is_expo_push_token(token):
            return None
        if len(token) > MAX_TOKEN_LENGTH:
            return f"is {len(token):,} characters long; an Expo push token has at most {MAX_TOKEN_LENGTH}"
        if not token.strip():
            return "is empty or only whitespace: a recipient needs an Expo push token"
        if token != token.strip():
            return "has leading or trailing whitespace; strip it before sending"
        shape = _EXPO_TOKEN_SHAPE.match(token)
        hidden = _hidden_character(shape.group(1)) if shape is not None else _hidden_character(token, "C")
        if hidden is not None:
            return f"holds {hidden}; an Expo push token has none"
        if _APNS_DEVICE_TOKEN.match(token):
            return (
                "looks like a raw APNs device token (64 hex digits), not an Expo push token; "
                "get the Expo token in the app with getExpoPushTokenAsync()"
            )
        if _FCM_TOKEN.match(token):
            return (
                "looks like a raw FCM registration token, not an Expo push token; "
                "get the Expo token in the app with getExpoPushTokenAsync()"
            )
        return "is not an Expo push token (expected ExponentPushToken[...], ExpoPushToken[...] or a UUID)"
    return f"must be a string, not {type(token).__name__}"
