"""Argument types shared by the command lines (``expo-push`` and ``python -m expo_push.emulator``)."""

from __future__ import annotations

import argparse

__all__ = ["rate_argument", "seconds_argument"]


def rate_argument(value: str) -> float | None:
    """Notifications per second, or ``none``/``off`` for no limit."""
    if value.strip().lower() in ("none", "off"):
        return None
    try:
        rate = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected notifications per second or 'none', not {value!r}") from None
    if rate <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive rate or 'none', not {value!r}")
    return rate


def seconds_argument(value: str) -> float:
    """A non-negative number (of seconds, or milliseconds where the option says so)."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {value!r}") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, not {value!r}")
    return seconds
