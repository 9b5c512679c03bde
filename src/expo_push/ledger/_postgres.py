"""The PostgreSQL backend (psycopg 3, ``pip install expo-push[postgres]``): for workers on several machines."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from ._process import boottime
from ._rows import Cursor
from ._store import Store

__all__ = ["PostgresStore"]


class PostgresStore(Store):
    """Ledger storage in PostgreSQL. Workers claim outbox rows with ``FOR UPDATE SKIP LOCKED``."""

    dialect = "postgresql"
    placeholder = "%s"
    skip_locked = " FOR UPDATE SKIP LOCKED"
    dead_query_size = 50_000
    now_sql = "CAST(EXTRACT(EPOCH FROM statement_timestamp()) AS DOUBLE PRECISION)"
    greatest = "GREATEST"

    def __init__(self, url: str) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError("a PostgreSQL ledger needs psycopg: pip install 'expo-push[postgres]'") from None
        super().__init__()
        self._url = url
        self.description = "postgresql"

    legacy_leases_compatible = True
    _lease_offset: float | None = None

    def lease_now(self) -> float:
        """The lease clock: the database's clock, read once per store and followed with this machine's
        clock since boot, so that workers on every machine share one timeline and a change of a
        machine's wall clock moves nothing."""
        offset = self._lease_offset
        if offset is None:
            with self.transaction(write=False) as cur:
                before = boottime()
                cur.execute("SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)")
                after = boottime()
                offset = self._lease_offset = float(cur.fetchone()[0]) - (before + after) / 2
        return boottime() + offset

    def lease_timeline(self) -> str:
        return "database-clock"

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self._url, autocommit=True)

    def check_connection(self, connection: object) -> None:
        import psycopg

        if not isinstance(connection, psycopg.Connection):
            raise TypeError(
                "connection must be a psycopg 3 Connection (psycopg.connect, or Django's and SQLAlchemy's"
                f" underlying one) for a PostgreSQL ledger, not {type(connection).__name__}"
            )
        status = connection.info.transaction_status
        states = psycopg.pq.TransactionStatus
        if status == states.INERROR:
            raise ValueError("connection's transaction has failed (an earlier statement raised): roll it back first")
        if status not in (states.IDLE, states.INTRANS):
            raise ValueError(f"connection must be idle or in a transaction, not {status.name} (closed, or busy)")
        if status == states.IDLE and connection.autocommit:
            raise ValueError(
                "connection has no transaction open and commits each statement on its own (autocommit=True):"
                " a notification your code then rolled back would still be sent; enqueue inside"
                " `with connection.transaction():` (or Django's transaction.atomic())"
            )
        with connection.cursor() as cur:  # reads only, and never fails: the caller's transaction stays usable
            cur.execute("SELECT to_regclass('expo_push_meta') IS NOT NULL")
            row = cur.fetchone()
            found = None
            if row is not None and row[0]:
                cur.execute("SELECT value FROM expo_push_meta WHERE name = 'ledger_id'")
                row = cur.fetchone()
                found = None if row is None else row[0]
        if found != self.ledger_id:
            raise ValueError(
                "connection must be open on the ledger's database"
                + (
                    " (it has no ledger tables: another database, or another search_path)"
                    if found is None
                    else " (it reaches another ledger's tables: another database, or another search_path)"
                )
            )

    def _table_exists(self, cur: Cursor, table: str) -> bool:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
        return bool(cur.fetchone()[0])

    def _columns(self, cur: Cursor, table: str) -> set[str]:
        cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = %s",
            (table,),
        )
        return {str(row[0]) for row in cur.fetchall()}

    def is_disconnect(self, exc: BaseException) -> bool:
        import psycopg

        return isinstance(exc, psycopg.OperationalError)

    def is_unavailable(self, exc: BaseException) -> bool:
        return self.is_disconnect(exc)

    def _dead_query(self, tokens: Sequence[str]) -> tuple[str, Any]:
        # One text parameter split by the server: adapting a list costs ~2 µs per item, this ~0.1 µs.
        # No valid token contains a line break; one that does cannot be dead (the service never saw it).
        joined = "\n".join(t for t in tokens if "\n" not in t)
        return (
            "SELECT token FROM expo_push_dead_tokens WHERE revived_at IS NULL"
            " AND token = ANY(string_to_array(%s, chr(10)))",
            (joined,),
        )

    def _id_sets(self, ids: Sequence[int]) -> list[tuple[str, tuple[Any, ...]]]:
        # One text parameter, as for tokens: cheaper than adapting a list or a placeholder per id.
        return [("id = ANY(string_to_array(?, ',')::bigint[])", (",".join(map(str, ids)),))] if ids else []

    def _before_schema(self, cur: Cursor) -> None:
        # One process at a time creates the tables; no notices for tables that exist.
        cur.execute("SELECT pg_advisory_xact_lock(4242001)")
        cur.execute("SET LOCAL client_min_messages = warning")

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Cursor]:
        """A transaction on a connection of the pool, committed on success, rolled back on error.

        ``write=False`` reads one snapshot (``REPEATABLE READ``): counts over several tables agree even
        while other sessions commit. Writers run at the server's default (``READ COMMITTED``).

        A connection the server dropped while it was idle (restart, failover, idle timeout) fails at
        ``BEGIN``, before anything ran: the pool's idle connections are then dropped and the transaction
        starts once more on a new one.
        """
        import psycopg

        for attempt in (1, 2):
            with self.pool.connection() as conn, ExitStack() as stack:
                try:
                    conn.isolation_level = None if write else psycopg.IsolationLevel.REPEATABLE_READ
                    stack.enter_context(conn.transaction())
                except psycopg.OperationalError:
                    if attempt == 2:
                        raise
                    self.pool.discard_idle()
                    continue
                yield stack.enter_context(conn.cursor())
                return

    def _reusable(self, conn: Any) -> bool:
        import psycopg

        return not conn.closed and not conn.broken and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
