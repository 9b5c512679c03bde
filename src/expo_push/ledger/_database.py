"""What every query of the ledger runs on: the pool of connections, transactions, and the few differences of SQL
between SQLite and PostgreSQL (placeholders, ``SKIP LOCKED``, lists of ids)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from ._connections import ConnectionPool
from ._rows import Cursor

__all__ = ["Database"]


class Database:
    """A ledger database: its connections and its dialect; the backends (``_sqlite``, ``_postgres``) say how to
    connect and what differs.

    Queries are written once with ``?`` placeholders in the SQL both dialects agree on (``ON CONFLICT``,
    ``RETURNING``, partial indexes). Connections come from a pool, one per transaction.
    """

    dialect = "sqlite"
    placeholder = "?"
    skip_locked = ""
    dead_query_size = 500
    description = "store"
    now_sql = "((julianday('now') - 2440587.5) * 86400.0)"
    """The database's clock in seconds since the epoch, constant within a statement (the shared pacer's clock
    on PostgreSQL; SQLite's pacer uses the machine's clock since boot instead)."""
    greatest = "MAX"
    """The function giving the largest of its arguments."""

    def __init__(self) -> None:
        self.pool = ConnectionPool(self._connect, self._reusable)
        self._sql_cache: dict[str, str] = {}

    # -- to implement ---------------------------------------------------------------------------

    def _connect(self) -> Any:
        raise NotImplementedError

    def _reusable(self, conn: Any) -> bool:
        """Whether a connection given back may be lent again (open, not broken, outside any transaction)."""
        raise NotImplementedError

    def transaction(self, write: bool = True) -> AbstractContextManager[Cursor]:
        """A transaction on a connection of the pool, yielding a cursor; commits on success.

        ``write=False`` promises only reads (SQLite then lets it run beside a writer).
        """
        raise NotImplementedError

    def is_disconnect(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the connection is lost (so a new one may succeed)."""
        return False

    def is_unavailable(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the database cannot be used for now (down, restarting, locked), so that the same
        work may succeed later: a worker waits it out."""
        return False

    # -- plumbing ------------------------------------------------------------------------------

    def execute_one(self, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> Any:
        """Run one statement in a transaction of its own (autocommit); return its first row, or None."""
        with self.pool.connection() as conn:
            cur = conn.execute(sql, params)
            return cur.fetchone() if cur.description is not None else None

    def close(self) -> None:
        """Close the connections (those in use as their transaction ends)."""
        self.pool.close()

    def check_connection(self, connection: Any) -> None:
        """Raise ``TypeError`` or ``ValueError`` unless ``connection`` can be the caller's open transaction on
        this database."""
        raise NotImplementedError

    def _table_exists(self, cur: Cursor, table: str) -> bool:
        cur.execute(self.q("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"), (table,))
        return cur.fetchone() is not None

    def _columns(self, cur: Cursor, table: str) -> set[str]:
        """The columns of ``table`` (none if it does not exist)."""
        cur.execute(f"PRAGMA table_info({table})")
        return {str(row[1]) for row in cur.fetchall()}

    def q(self, sql: str) -> str:
        """``sql`` with this backend's placeholders."""
        out = self._sql_cache.get(sql)
        if out is None:
            out = sql if self.placeholder == "?" else sql.replace("?", self.placeholder)
            self._sql_cache[sql] = out
        return out

    def named(self, sql: str) -> str:
        """``sql`` written with ``:name`` parameters, in this backend's style (``%(name)s`` for psycopg)."""
        return sql if self.placeholder == "?" else re.sub(r"(?<!:):([a-z_]+)", r"%(\1)s", sql)

    def schedule_clock(self) -> Callable[[], float] | None:
        """The clock the shared pacer schedules on, or None for the database's own (see ``_pacer``)."""
        return None

    def _id_sets(self, ids: Sequence[int]) -> list[tuple[str, tuple[Any, ...]]]:
        """``id IN (...)`` conditions covering ``ids``, with their parameters (several when there are many)."""
        return [
            (f"id IN ({', '.join('?' * len(part))})", tuple(part))
            for part in (ids[i : i + 500] for i in range(0, len(ids), 500))
        ]
