"""The SQLite backend (standard library): one file, WAL mode, connections from the store's pool."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ._location import sqlite_path
from ._process import boottime
from ._rows import Cursor
from ._store import Store

__all__ = ["SQLiteStore"]


class SQLiteStore(Store):
    """Ledger storage in a SQLite file. Several processes may share the file; writers take turns."""

    busy_timeout = 30.0
    """Seconds a statement waits for another process's write lock before failing with "database is locked"."""

    def __init__(self, path: str | Path) -> None:
        sqlite_path(path)
        super().__init__()
        self.path = str(path)
        self.description = f"sqlite:{self.path}"

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=self.busy_timeout)
        # Large pages (set before the file is first written): the receipt queue stores a few large values
        # per send, and 64 KiB pages write them ~5x cheaper than the default 4 KiB. Checkpoint every
        # 16 MiB of WAL, and keep the WAL file no larger than 64 MiB after one.
        conn.execute("PRAGMA page_size=65536")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA wal_autocheckpoint=256")
        conn.execute("PRAGMA journal_size_limit=67108864")
        conn.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash; WAL keeps it consistent
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        return conn

    def schedule_clock(self) -> Callable[[], float]:
        return boottime

    def is_unavailable(self, exc: BaseException) -> bool:
        text = str(exc)
        return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)

    def check_connection(self, connection: object) -> None:
        if not isinstance(connection, sqlite3.Connection):
            raise TypeError(
                f"connection must be a sqlite3.Connection for a SQLite ledger, not {type(connection).__name__}"
            )
        files = [row[2] for row in connection.execute("PRAGMA database_list") if row[1] == "main"]
        if not files or not files[0] or not Path(files[0]).samefile(self.path):
            raise ValueError(
                f"connection must be open on the ledger's file {self.path!r}, not {files[0] if files else None!r}"
            )
        autocommit = getattr(connection, "autocommit", None)  # Python 3.12+: True, False or legacy (-1)
        if not connection.in_transaction and (
            autocommit is True or (autocommit is not False and connection.isolation_level is None)
        ):
            raise ValueError(
                "connection has no transaction open and commits each statement on its own (autocommit,"
                " isolation_level=None): a notification your code then rolled back would still be sent; open"
                ' the transaction first (connection.execute("BEGIN"), or Django\'s transaction.atomic())'
            )

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Cursor]:
        """``BEGIN IMMEDIATE`` (take the write lock up front, so claims never race) ... ``COMMIT``.

        A read-only transaction is a plain ``BEGIN``: in WAL mode it does not wait for writers.
        """
        with self.pool.connection() as conn:
            cur = conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield cur
                except BaseException:
                    conn.rollback()
                    raise
                try:
                    conn.commit()
                except BaseException:  # e.g. the disk is full: end the transaction, so the connection works again
                    with contextlib.suppress(sqlite3.Error):
                        conn.rollback()
                    raise
            finally:
                cur.close()

    def _reusable(self, conn: sqlite3.Connection) -> bool:
        return not conn.in_transaction
