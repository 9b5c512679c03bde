"""What the commands share: the service options and the client they make, verbosity, and opening a ledger.

Everything here checks its input before anything is sent, and fails with ``UsageError`` (one line, exit 2).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .._arguments import count_argument, positive_seconds_argument, rate_argument
from .._service import RATE_LIMIT

if TYPE_CHECKING:
    from .._client import PushClient
    from ..ledger import Ledger

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_STOPPED",
    "EXIT_USAGE",
    "UsageError",
    "add_ledger_option",
    "add_service_options",
    "add_verbosity_options",
    "checked_base_url",
    "is_url",
    "make_client",
    "open_ledger",
    "quiet",
    "set_up_logging",
    "shown_location",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_STOPPED = 128
"""Stopped by a signal: the exit status is this plus its number (130 for Ctrl-C, 143 for SIGTERM)."""
DEFAULT_BASE_URL = "https://exp.host"


class UsageError(Exception):
    """Wrong arguments or configuration: reported on standard error in one line, with exit status 2."""


# --- the service ------------------------------------------------------------------------------------


def add_service_options(parser: argparse.ArgumentParser) -> None:
    """The options of the commands that talk to the service."""
    group = parser.add_argument_group("service")
    group.add_argument(
        "--base-url",
        metavar="URL",
        help=f"the service's scheme and host (default: $EXPO_BASE_URL, else {DEFAULT_BASE_URL})",
    )
    group.add_argument(
        "--access-token",
        metavar="TOKEN",
        help="Expo access token for push security (default: $EXPO_ACCESS_TOKEN, else $EXPO_TOKEN); never printed",
    )
    group.add_argument(
        "--rate-limit",
        type=rate_argument,
        default=float(RATE_LIMIT),
        metavar="N|none",
        help=f"notifications per second the client paces itself to (default: {RATE_LIMIT}, the service's limit)",
    )
    group.add_argument(
        "--max-concurrency", type=count_argument(1), default=6, metavar="N", help="requests in flight (default: 6)"
    )
    group.add_argument(
        "--max-retries",
        type=count_argument(0),
        default=5,
        metavar="N",
        help="retries of a request after a connection error, 429 or 5xx (default: 5)",
    )
    group.add_argument(
        "--timeout",
        type=positive_seconds_argument,
        default=30.0,
        metavar="S",
        help="seconds to wait for the service at each step of a request (default: 30)",
    )


def checked_base_url(given: str | None) -> str:
    """The service's URL from ``--base-url`` or ``$EXPO_BASE_URL``, or ``UsageError`` saying what is wrong."""
    source = "--base-url"
    if not given:
        given, source = os.environ.get("EXPO_BASE_URL") or "", "$EXPO_BASE_URL"
    if not given:
        return DEFAULT_BASE_URL
    parts = urlsplit(given)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{source} {given!r}: expected a URL such as {DEFAULT_BASE_URL} (http:// or https://)")
    if parts.path.rstrip("/") or parts.query or parts.fragment:
        host = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        raise UsageError(f"{source} {given!r}: give only the scheme and host ({host}); the API paths are added")
    return given.rstrip("/")


def make_client(args: argparse.Namespace, **options: Any) -> PushClient:
    """The client the service options describe, with ``options`` for ``PushClient`` (an empty token counts as none)."""
    base_url = checked_base_url(args.base_url)
    token = args.access_token or os.environ.get("EXPO_ACCESS_TOKEN") or os.environ.get("EXPO_TOKEN") or None
    if token is not None and not token.strip():
        token = None
    from .._client import PushClient

    try:
        return PushClient(
            token,
            base_url=base_url,
            rate_limit=args.rate_limit,
            max_concurrency=args.max_concurrency,
            max_retries=args.max_retries,
            timeout=args.timeout,
            **options,
        )
    except ValueError as exc:  # an access token that cannot be a header, ...; the message never holds it
        raise UsageError(str(exc)) from None


# --- verbosity --------------------------------------------------------------------------------------


def add_verbosity_options(parser: argparse.ArgumentParser) -> None:
    """``-v`` and ``-q``, on every command."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-v", "--verbose", action="store_true", help="also print each retry and other details as they happen"
    )
    group.add_argument("-q", "--quiet", action="store_true", help="print no progress, only errors and results")


def quiet(args: argparse.Namespace) -> bool:
    """Whether ``-q`` was given."""
    return bool(getattr(args, "quiet", False))


class _CommandFormatter(logging.Formatter):
    """Each record as one line headed by the command's name (instead of the library's own "expo-push: ")."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self._prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        return self._prefix + super().format(record).removeprefix("expo-push: ")


def set_up_logging(args: argparse.Namespace, err: IO[str]) -> logging.Handler:
    """Show the ``expo_push`` logger on ``err``: warnings by default, everything with ``-v``, errors with ``-q``."""
    level = logging.INFO if getattr(args, "verbose", False) else logging.ERROR if quiet(args) else logging.WARNING
    handler = logging.StreamHandler(err)
    handler.setFormatter(_CommandFormatter(f"expo-push {args.command}: "))
    handler.setLevel(level)
    logger = logging.getLogger("expo_push")
    logger.addHandler(handler)
    logger.setLevel(min(level, logger.level) if logger.level else level)
    return handler


# --- ledgers ----------------------------------------------------------------------------------------


def add_ledger_option(parser: argparse._ActionsContainer, help_text: str, *, required: bool = False) -> None:
    """``--ledger PATH|URL``."""
    parser.add_argument("--ledger", metavar="PATH|URL", required=required, help=help_text)


def is_url(location: str) -> bool:
    """Whether a ``--ledger`` is a PostgreSQL URL (else a SQLite file's path)."""
    from ..ledger._location import is_postgres_url

    return is_postgres_url(location)


def shown_location(location: str) -> str:
    """``location`` as it may be printed: a URL without its password."""
    from ..ledger._location import shown_location as shown

    return shown(location)


def open_ledger(location: str, *, must_exist: bool, **options: Any) -> Ledger:
    """Open the ledger at ``location``; ``UsageError`` naming it when it cannot be opened.

    ``must_exist`` (commands that only read a ledger): a SQLite file that is not
    there is an error, not a new empty ledger, so that a typo does not read as
    "nothing to report".
    """
    from ..ledger import Ledger, LedgerLocationError

    shown = shown_location(location)
    if must_exist and "://" not in location and not Path(location).exists():
        raise UsageError(f"no ledger at {shown} (no such file); give the file that `send --ledger` wrote")

    try:
        return Ledger.open(location, **options)
    except ImportError:
        raise
    except LedgerLocationError as exc:
        raise UsageError(str(exc)) from None
    except Exception as exc:  # sqlite3 / psycopg errors: the database cannot be opened or read
        reason = " ".join(str(exc).split()) or type(exc).__name__
        reason = reason.replace(location, shown)
        raise UsageError(f"cannot open the ledger {shown}: {reason}") from None
