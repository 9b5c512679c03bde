"""Argument types shared by the command lines (``expo-push`` and ``python -m expo_push.emulator``).

Each refuses what cannot be meant (``nan``, ``inf``, a negative or zero count) with one line that argparse
prints as a usage error (exit status 2).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["count_argument", "positive_seconds_argument", "rate_argument", "seconds_argument"]


def _number(value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, not {value!r}") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"expected {what}, not {value!r}")
    return number


def rate_argument(value: str) -> float | None:
    """Notifications per second, or ``none``/``off`` for no limit."""
    if value.strip().lower() in ("none", "off"):
        return None
    rate = _number(value, "notifications per second or 'none'")
    if rate <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive rate or 'none', not {value!r}")
    return rate


def seconds_argument(value: str) -> float:
    """A non-negative number (of seconds, or milliseconds where the option says so)."""
    seconds = _number(value, "a number")
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, not {value!r}")
    return seconds


def positive_seconds_argument(value: str) -> float:
    """A number of seconds greater than zero (a timeout, an interval)."""
    seconds = _number(value, "a number of seconds")
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, not {value!r}")
    return seconds


def count_argument(minimum: int) -> Callable[[str], int]:
    """An argument type: a whole number of at least ``minimum``."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number of at least {minimum}, not {value!r}")
        return number

    parse.__name__ = "count"
    return parse
