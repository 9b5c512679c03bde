"""The ledger of a Django database: its URL from ``DATABASES``, its tables' DDL for the migration, one per alias.

The ledger's tables live in the same database as the app's models (SQLite or PostgreSQL), so that
``notify`` writes the outbox in the caller's transaction and the worker marks dead devices there.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import quote, urlencode

from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from ..ledger import Ledger

__all__ = [
    "DIALECTS",
    "close_ledgers",
    "create_statements",
    "drop_statements",
    "ledger_for",
    "ledger_location",
    "open_on_connection",
    "open_after_migrate",
]

DIALECTS = ("sqlite", "postgresql")
"""Django's ``connection.vendor`` of the databases the ledger runs on."""

_TABLES = (
    "expo_push_tickets",
    "expo_push_receipt_queue",
    "expo_push_dead_tokens",
    "expo_push_outbox",
    "expo_push_pacing",
    "expo_push_token_projects",
    "expo_push_meta",
)


def create_statements(dialect: str) -> list[str]:
    """Every statement bringing an empty database of ``dialect`` to the ledger's current schema, its version
    recorded (so ``Ledger.open`` finds it current).

    They are ``expo_push.ledger.create_statements(dialect)``'s, plus the lease clock's timeline on PostgreSQL.
    """
    if dialect not in DIALECTS:
        raise ImproperlyConfigured(f"the expo-push ledger runs on SQLite or PostgreSQL, not on {dialect!r}")
    from ..ledger import create_statements as ledger_statements

    statements = ledger_statements(dialect)
    if dialect == "postgresql":  # the lease clock's timeline, the same for every server (SQLite's is the boot's)
        statements.append("INSERT INTO expo_push_meta (name, value) VALUES ('lease_timeline', 'database-clock')")
    return statements


def drop_statements() -> list[str]:
    """The statements removing the ledger's tables (the migration's reverse)."""
    return [f"DROP TABLE IF EXISTS {table}" for table in _TABLES]


def ledger_location(alias: str) -> str:
    """What ``Ledger.open`` takes for the database ``alias`` as Django connects to it now (a test run's own
    database included): the SQLite file's path or a ``postgresql://`` URL."""
    connection = connections[alias]
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(settings["NAME"])
        if connection.is_in_memory_db():
            raise ImproperlyConfigured(
                f"the expo-push ledger needs a SQLite file, and DATABASES[{alias!r}] is in memory (in tests, set"
                " its TEST['NAME'] to a file)"
            )
        return name
    if connection.vendor != "postgresql":
        raise ImproperlyConfigured(f"the expo-push ledger runs on SQLite or PostgreSQL, not {connection.vendor!r}")
    user = quote(str(settings.get("USER") or ""), safe="")
    password = quote(str(settings.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = str(settings.get("HOST") or "")
    port = str(settings.get("PORT") or "")
    address = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    # libpq's parameters (sslmode, ...); Django's own options (isolation_level, pool, ...) are no strings
    options = {k: v for k, v in (settings.get("OPTIONS") or {}).items() if type(v) is str}
    if host.startswith("/"):  # a Unix socket's directory
        address, options = "", {**options, "host": host, **({"port": port} if port else {})}
    query = f"?{urlencode(options)}" if options else ""
    return f"postgresql://{credentials}{address}/{quote(str(settings['NAME']), safe='')}{query}"


_ledgers: dict[str, Ledger] = {}
_lock = threading.Lock()


def ledger_for(alias: str, **options: Any) -> Ledger:
    """The ledger in the database ``alias``: with ``options`` (``Ledger``'s) a new one, which the caller closes;
    without, one shared by this process (the one ``notify`` enqueues with)."""
    location = ledger_location(alias)
    if options:
        return Ledger.open(location, **options)
    with _lock:
        ledger = _ledgers.get(location)
        if ledger is None:
            ledger = _ledgers[location] = Ledger.open(location)
        return ledger


def close_ledgers() -> None:
    """Close the ledgers shared by this process (a test run's end, before its database is dropped)."""
    with _lock:
        ledgers = list(_ledgers.values())
        _ledgers.clear()
    for ledger in ledgers:
        ledger.close()


def _open_outside_transactions(alias: str) -> None:
    """Open the shared ledger of ``alias`` now, if its tables exist, while Django's connection holds no lock.

    ``Ledger.open`` sets SQLite's WAL mode and may write (the lease clock's timeline after a reboot) on
    connections of its own: inside a caller's ``atomic()`` that would wait on the caller's own locks.
    """
    from ._settings import push_settings

    try:
        if alias != push_settings().database or connections[alias].vendor not in DIALECTS:
            return
        location = ledger_location(alias)
    except ImproperlyConfigured:  # said again, and raised, where the ledger is used
        return
    with _lock:
        if location in _ledgers:
            return
    if "expo_push_meta" in connections[alias].introspection.table_names():
        ledger_for(alias)


def open_on_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created``: a new connection to the app's database opens the ledger before any transaction."""
    _open_outside_transactions(connection.alias)


def open_after_migrate(sender: Any, using: str, **kwargs: Any) -> None:
    """``post_migrate``: the ledger's tables may just have been made; open the ledger before any transaction."""
    _open_outside_transactions(using)
