"""Where a ledger lives: a PostgreSQL URL or the path of a SQLite file, checked before anything is opened, and
shown without its password."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["LedgerLocationError", "is_postgres_url", "shown_location", "sqlite_path"]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class LedgerLocationError(ValueError):
    """``Ledger.open`` was given a location that cannot hold a ledger (the message says which and why)."""


def is_postgres_url(location: str) -> bool:
    """Whether ``location`` names a PostgreSQL database."""
    return location.startswith(_POSTGRES_SCHEMES)


def shown_location(location: str) -> str:
    """``location`` as it may be printed or logged: a URL without its password."""
    if not _URL.match(location):
        return location
    try:
        parts = urlsplit(location)
        password = parts.password
    except ValueError:
        return location.split("://", 1)[0] + "://***"
    if password is None:
        return location
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{netloc}"))


def sqlite_path(location: str | Path) -> Path:
    """The SQLite file ``location`` names; ``LedgerLocationError`` when it names something else (another
    database's URL, memory, a directory, a file in a directory that does not exist)."""
    text = str(location)
    if _URL.match(text) and not is_postgres_url(text):
        scheme = text.split("://", 1)[0]
        raise LedgerLocationError(
            f"cannot open the ledger {shown_location(text)}: {scheme}:// is not a database the ledger supports;"
            " give a postgresql:// URL or the path of a SQLite file"
        )
    if text in ("", ":memory:") or text.startswith("file::memory:"):
        raise LedgerLocationError("a ledger must outlive the process: give Ledger.open the path of a SQLite file")
    path = Path(text)
    if path.is_dir():
        raise LedgerLocationError(f"the ledger {text} is a directory; give a file's path, e.g. {path / 'push.db'}")
    if not path.parent.is_dir():
        raise LedgerLocationError(f"cannot create the ledger {text}: no directory {str(path.parent)!r}")
    return path
