"""Expo push tokens: which strings are recipients the service accepts, and why the others are not."""

from __future__ import annotations

import re

__all__ = ["is_expo_push_token", "token_problem"]

_EXPO_TOKEN = re.compile(r"^Expo(?:nent)?PushToken\[[^\[\]\s]+\]\Z")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_APNS_DEVICE_TOKEN = re.compile(r"^[0-9a-fA-F]{64}\Z")
_FCM_TOKEN = re.compile(r"^[A-Za-z0-9_-]{11,}:[A-Za-z0-9_-]{20,}\Z")


def is_expo_push_token(token: object) -> bool:
    """Return whether ``token`` is an Expo push token the service accepts.

    Accepted forms are ``ExponentPushToken[...]`` (the documented one),
    ``ExpoPushToken[...]`` and a bare UUID, as the official Node SDK accepts.
    Raw APNs device tokens and FCM registration tokens are not Expo push tokens.
    """
    return isinstance(token, str) and (_EXPO_TOKEN.match(token) is not None or _UUID.match(token) is not None)


def token_problem(token: object) -> str | None:
    """Say what is wrong with ``token`` as a recipient, or return ``None`` when it is fine.

    The explanation never repeats the token: callers add it where the user needs it.
    """
    if isinstance(token, str):
        if is_expo_push_token(token):
            return None
        if not token.strip():
            return "is empty or only whitespace: a recipient needs an Expo push token"
        if token != token.strip():
            return "has leading or trailing whitespace; strip it before sending"
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
