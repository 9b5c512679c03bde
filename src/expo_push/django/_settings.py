"""The ``EXPO_PUSH`` setting: one dict, read at each use, with expo-push's environment variables as defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .._client import PushClient

__all__ = ["PushSettings", "push_settings"]

_KEYS = ("ACCESS_TOKEN", "BASE_URL", "DATABASE", "LEASE", "BATCH_SIZE", "POLL_INTERVAL")


@dataclass(frozen=True)
class PushSettings:
    """``settings.EXPO_PUSH`` as read now. ``None``: expo-push's own default."""

    access_token: str | None
    """``ACCESS_TOKEN``; default ``$EXPO_ACCESS_TOKEN`` (or ``$EXPO_TOKEN``): needed with push security on."""
    base_url: str | None
    """``BASE_URL``; default ``$EXPO_BASE_URL``, else Expo's service."""
    database: str
    """``DATABASE``: the alias of the database holding the devices and the ledger (``"default"``)."""
    lease: float | None
    """``LEASE``: seconds before a silent worker's notifications are sent again (the ledger's default: 600)."""
    batch_size: int | None
    """``BATCH_SIZE``: notifications a worker claims at a time (the ledger's default: 500)."""
    poll_interval: float | None
    """``POLL_INTERVAL``: seconds a worker waits before looking at an empty outbox again (the ledger's: 1)."""

    def __repr__(self) -> str:  # never the token itself
        token = None if self.access_token is None else "***"
        return (
            f"PushSettings(access_token={token}, base_url={self.base_url!r}, database={self.database!r},"
            f" lease={self.lease!r}, batch_size={self.batch_size!r}, poll_interval={self.poll_interval!r})"
        )

    def client(self, **options: Any) -> PushClient:
        """A ``PushClient`` to the service these settings name (``options`` are ``PushClient``'s)."""
        return PushClient(self.access_token, base_url=self.base_url, **options)


def _number(given: dict[str, Any], name: str, kind: type[int] | type[float]) -> Any:
    value = given.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or kind(value) != value:
        what = "a positive whole number" if kind is int else "a positive number of seconds"
        raise ImproperlyConfigured(f"EXPO_PUSH['{name}'] must be {what}, not {value!r}")
    return kind(value)


def push_settings() -> PushSettings:
    """Read ``settings.EXPO_PUSH`` (a dict, all keys optional) now; ``ImproperlyConfigured`` names a bad key."""
    given = getattr(settings, "EXPO_PUSH", None) or {}
    if not isinstance(given, dict):
        raise ImproperlyConfigured(f"EXPO_PUSH must be a dict, not {type(given).__name__}")
    unknown = sorted(set(given) - set(_KEYS))
    if unknown:
        raise ImproperlyConfigured(f"EXPO_PUSH has unknown keys {unknown}: expected some of {list(_KEYS)}")
    token = given.get("ACCESS_TOKEN") or os.environ.get("EXPO_ACCESS_TOKEN") or os.environ.get("EXPO_TOKEN") or None
    base_url = given.get("BASE_URL") or os.environ.get("EXPO_BASE_URL") or None
    database = given.get("DATABASE", "default")
    if database not in settings.DATABASES:
        raise ImproperlyConfigured(f"EXPO_PUSH['DATABASE'] is {database!r}, which is not in DATABASES")
    return PushSettings(
        access_token=token,
        base_url=base_url,
        database=database,
        lease=_number(given, "LEASE", float),
        batch_size=_number(given, "BATCH_SIZE", int),
        poll_interval=_number(given, "POLL_INTERVAL", float),
    )
