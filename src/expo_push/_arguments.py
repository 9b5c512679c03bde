"""Argument types and the parser shared by the command lines (``expo-push`` and ``python -m expo_push.emulator``).

Each type refuses what cannot be meant (``nan``, ``inf``, a negative or zero count, port 99999) with one line
that the parser prints as a usage error (exit status 2).
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Sequence
from typing import NoReturn

__all__ = [
    "CommandParser",
    "HelpFormatter",
    "STOPPED",
    "command_epilog",
    "count_argument",
    "port_argument",
    "positive_seconds_argument",
    "project_argument",
    "rate_argument",
    "seconds_argument",
]

EXIT_USAGE = 2


STOPPED = (130, "stopped by Ctrl-C; 143 by SIGTERM, 129 by SIGHUP, 141 by a closed output (128 + the signal)")
"""The exit status line of a command that a signal may stop."""


def command_epilog(examples: Sequence[str], statuses: Sequence[tuple[int, str]], notes: str = "") -> str:
    """The end of a command's ``-h``, in the one style every command shares: examples, notes, exit status."""
    lines = ["examples:", *(f"  {example}" for example in examples), ""]
    if notes:
        lines += [notes.rstrip("\n"), ""]
    lines += ["exit status:", *(f"  {status:<4} {meaning}" for status, meaning in statuses)]
    return "\n".join(lines) + "\n"


class CommandParser(argparse.ArgumentParser):
    """Reports a wrong argument in one line (with where to find help), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see '{self.prog} -h')\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks; wider columns for the long option names."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=110)


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


def port_argument(value: str) -> int:
    """A TCP port number, 0 to 65535 (0: any free one)."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, not {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, not {value!r}")
    return port


def project_argument(form: str) -> Callable[[str], str]:
    """An argument type: an Expo project's full name, ``@owner/slug``, matching the pattern ``form``.

    The form is the caller's: the client's ``_service.PROJECT_FORM``, or the emulator's own model of it.
    """

    def parse(value: str) -> str:
        if not re.fullmatch(form, value):
            raise argparse.ArgumentTypeError(f"expected a project as @owner/slug (e.g. @acme/shop), not {value!r}")
        return value

    parse.__name__ = "project"
    return parse
