"""The ledger's storage: one SQL schema and every query, shared by the SQLite and PostgreSQL backends.

Queries are written once with ``?`` placeholders in the SQL both dialects
agree on (``ON CONFLICT``, ``RETURNING``, partial indexes); a backend supplies
connections, transactions, column types and the one clause that differs
(``FOR UPDATE SKIP LOCKED`` when claiming outbox rows).

Tables: ``expo_push_tickets`` (one row per ticket once its receipt is due, or
at once for error tickets), ``expo_push_receipt_queue`` (accepted tickets as
they were sent, a few rows per send, column-packed JSON; unpacked into
tickets when due), ``expo_push_dead_tokens``, ``expo_push_outbox`` (enqueued
notifications: pending, sending (claimed by a worker), sent or skipped) and
``expo_push_meta`` (the schema version).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, NamedTuple, Protocol

from ._connections import ConnectionPool
from ._models import DeadToken
from ._process import boot_id, boottime
from ._schema import SCHEMA_VERSION, AddColumn, create_statements, migration_steps

__all__ = [
    "SCHEMA_VERSION",
    "Claim",
    "ClaimedRow",
    "Cursor",
    "DueReceipt",
    "NarrowedRow",
    "OutboxEntry",
    "QueueRow",
    "ReceiptOutcome",
    "Repoll",
    "Store",
    "StoredTicket",
    "TicketRow",
    "WaitingTicket",
]


class TicketRow(NamedTuple):
    """One row of the tickets table, as inserted."""

    key: str | None
    """The caller's reference to the notification."""
    token: str
    ticket_id: str | None
    status: str
    """``"ok"`` or ``"error"``."""
    error_code: str | None
    error_message: str | None
    sent_at: float
    receipt_due_at: float | None
    """``None``: no receipt to fetch."""
    message: str | None
    """The message JSON, kept to resend after ``MessageRateExceeded``."""
    retries: int
    """Resends after ``MessageRateExceeded`` before this one."""


class QueueRow(NamedTuple):
    """One row of the receipt queue: accepted tickets of one send, column-packed (``QueuedTickets`` JSON)."""

    sent_at: float
    due_at: float
    tickets: int
    entries: str


class DueReceipt(NamedTuple):
    """A ticket whose receipt is due, as claimed by ``due_receipts``."""

    ticket_id: str
    row_id: int
    token: str
    sent_at: float


class ReceiptOutcome(NamedTuple):
    """A receipt's outcome to store: ``status`` is ``ok``, ``error`` or ``missing``."""

    status: str
    error: str | None
    message: str | None
    at: float
    row_id: int


class Repoll(NamedTuple):
    """A ticket whose receipt is to be asked again at ``due_at``."""

    due_at: float
    row_id: int


class StoredTicket(NamedTuple):
    """What a resend needs of a ticket row."""

    row_id: int
    key: str | None
    message: str | None
    retries: int


class WaitingTicket(NamedTuple):
    """A ticket row still waiting for its receipt."""

    ticket_id: str
    token: str
    key: str | None
    sent_at: float
    due_at: float


class OutboxEntry(NamedTuple):
    """One outbox row, as enqueued."""

    key: str | None
    """Idempotency key: a key already present is not enqueued again."""
    ref: str | None
    """The reference stored with the tickets."""
    message: str
    recipients: int
    enqueued_at: float
    not_before: float
    retries: int
    project: str | None = None
    """The Expo project ("@owner/slug") of the message, paced under that project's budget; None: unnamed."""


class ClaimedRow(NamedTuple):
    """An outbox row claimed by a worker."""

    id: int
    ref: str | None
    message: str
    recipients: int
    retries: int
    project: str | None = None


class NarrowedRow(NamedTuple):
    """An outbox row sent in part: the message to its recipients still owed, of whom ``in_doubt`` were in a
    request whose answer never came."""

    id: int
    message: str
    recipients: int
    in_doubt: int = 0


class Claim(NamedTuple):
    """Who holds an outbox row being sent, since when."""

    id: int
    worker: str | None
    claimed_at: float


_TICKET_COLUMNS = "key, token, ticket_id, status, error_code, error_message, sent_at, receipt_due_at, message, retries"


class Cursor(Protocol):
    """The part of a DB-API cursor the store uses."""

    def execute(self, sql: Any, params: Any = ..., /) -> Any: ...
    def executemany(self, sql: Any, params: Any, /) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...
    @property
    def rowcount(self) -> int: ...


_MAX_PROJECTS_WALKED = 50  # projects with pending rows a claim considers (the busiest are left for later)


class Store:
    """Every query of the ledger over a backend's connections; subclasses say how to connect.

    Connections come from a pool, one per transaction. A method that takes a ``Cursor`` runs inside the
    caller's transaction (opened with ``transaction()``) and commits with it; ``enqueue_with`` runs inside
    the application's own open transaction, on its connection, and commits nothing; every other method
    that reads or writes the tables opens, and commits, one transaction of its own.
    """

    dialect = "sqlite"
    placeholder = "?"
    skip_locked = ""
    dead_query_size = 500
    description = "store"
    now_sql = "((julianday('now') - 2440587.5) * 86400.0)"
    """The database's clock in seconds since the epoch, constant within a statement."""
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

    # -- plumbing ------------------------------------------------------------------------------

    def execute_one(self, sql: str, params: Sequence[Any]) -> Any:
        """Run one statement in a transaction of its own (autocommit); return its first row, or None."""
        with self.pool.connection() as conn:
            cur = conn.execute(sql, params)
            return cur.fetchone() if cur.description is not None else None

    def close(self) -> None:
        """Close the connections (those in use as their transaction ends)."""
        self.pool.close()

    def q(self, sql: str) -> str:
        """``sql`` with this backend's placeholders."""
        out = self._sql_cache.get(sql)
        if out is None:
            out = sql if self.placeholder == "?" else sql.replace("?", self.placeholder)
            self._sql_cache[sql] = out
        return out

    def _id_sets(self, ids: Sequence[int]) -> list[tuple[str, tuple[Any, ...]]]:
        """``id IN (...)`` conditions covering ``ids``, with their parameters (several when there are many)."""
        return [
            (f"id IN ({', '.join('?' * len(part))})", tuple(part))
            for part in (ids[i : i + 500] for i in range(0, len(ids), 500))
        ]

    def create_schema(self) -> None:
        """Create the tables if they are missing, or bring an older schema up to date (``_schema.py``); refuse
        a database of a newer schema version.

        A database already at this version is only read: no DDL runs, so opening a ledger never takes a
        table lock that a worker's claim could deadlock with.
        """
        with self.transaction(write=False) as cur:
            version = self._schema_version(cur)
        if version != SCHEMA_VERSION:
            with self.transaction() as cur:
                self._before_schema(cur)
                version = self._schema_version(cur)
                if version is None:
                    for statement in create_statements(self.dialect):
                        cur.execute(statement)
                elif version > SCHEMA_VERSION:
                    raise RuntimeError(
                        f"the ledger database has schema version {version}, newer than this expo-push "
                        f"understands ({SCHEMA_VERSION}): upgrade expo-push"
                    )
                elif version < SCHEMA_VERSION:
                    for step in migration_steps(self.dialect, version):
                        if isinstance(step, AddColumn):
                            if step.column not in self._columns(cur, step.table):
                                cur.execute(f"ALTER TABLE {step.table} ADD COLUMN {step.column} {step.kind}")
                        else:
                            cur.execute(step)
                    cur.execute(
                        self.q("UPDATE expo_push_meta SET value = ? WHERE name = ?"),
                        (str(SCHEMA_VERSION), "schema_version"),
                    )
        with self.transaction(write=False) as cur:
            if self._lease_timeline_current(cur):
                return
        with self.transaction() as cur:
            self._check_lease_timeline(cur)

    # -- the lease clock -------------------------------------------------------------------------

    legacy_leases_compatible = False
    """Whether lease times written before the lease clock existed (the writer's wall clock) are on this
    backend's lease timeline (close enough for PostgreSQL, whose lease clock is the database's)."""

    def lease_now(self) -> float:
        """The lease clock: seconds on a timeline every worker of this database shares and that setting a
        machine's wall clock does not move. Outbox leases and "not before" times are on it.

        SQLite (one machine): seconds since the machine booted (``CLOCK_BOOTTIME``).
        """
        return boottime()

    def lease_timeline(self) -> str:
        """Which timeline ``lease_now`` counts on; lease times of another timeline are meaningless here."""
        return f"boot:{boot_id()}"

    def _table_exists(self, cur: Cursor, table: str) -> bool:
        cur.execute(self.q("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"), (table,))
        return cur.fetchone() is not None

    def _schema_version(self, cur: Cursor) -> int | None:
        """The schema version of the database, None when it has no ledger tables (read only)."""
        if not self._table_exists(cur, "expo_push_meta"):
            return None
        cur.execute(self.q("SELECT value FROM expo_push_meta WHERE name = ?"), ("schema_version",))
        row = cur.fetchone()
        return None if row is None else int(row[0])

    def _lease_timeline_current(self, cur: Cursor) -> bool:
        cur.execute(self.q("SELECT value FROM expo_push_meta WHERE name = ?"), ("lease_timeline",))
        row = cur.fetchone()
        return row is not None and row[0] == self.lease_timeline()

    def _check_lease_timeline(self, cur: Cursor) -> None:
        """Rebase the outbox's lease times when they were written on another timeline (the machine booted
        since, or the file was written by an expo-push before the lease clock): pending rows become due
        now, and rows being sent are taken as lost (every process of an earlier boot is gone)."""
        timeline = self.lease_timeline()
        cur.execute(self.q("SELECT value FROM expo_push_meta WHERE name = ?"), ("lease_timeline",))
        row = cur.fetchone()
        if row is not None and row[0] == timeline:
            return
        if row is not None or not self.legacy_leases_compatible:
            now = self.lease_now()
            cur.execute(
                self.q(
                    "UPDATE expo_push_outbox SET not_before = ?,"
                    " claimed_at = CASE WHEN state = 'sending' THEN ? ELSE claimed_at END"
                    " WHERE state IN ('pending', 'sending')"
                ),
                (now, now - 1e12),
            )
        cur.execute(
            self.q(
                "INSERT INTO expo_push_meta (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
            ),
            ("lease_timeline", timeline),
        )

    def _columns(self, cur: Cursor, table: str) -> set[str]:
        """The columns of ``table`` (none if it does not exist)."""
        cur.execute(f"PRAGMA table_info({table})")
        return {str(row[1]) for row in cur.fetchall()}

    def _before_schema(self, cur: Cursor) -> None:
        """Hook run in the schema transaction before the tables are created."""

    # -- tickets -------------------------------------------------------------------------------

    def insert_tickets(self, cur: Cursor, rows: Sequence[TicketRow]) -> None:
        """Insert ticket rows (inside the caller's transaction)."""
        if rows:
            cur.executemany(
                self.q(f"INSERT INTO expo_push_tickets ({_TICKET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                rows,
            )

    def insert_log(self, cur: Cursor, rows: Sequence[QueueRow]) -> None:
        """Queue accepted tickets for their receipts, a few large rows."""
        if rows:  # one statement: a few large rows
            cur.execute(
                self.q(
                    "INSERT INTO expo_push_receipt_queue (sent_at, due_at, tickets, entries) VALUES "
                    + ", ".join(["(?, ?, ?, ?)"] * len(rows))
                ),
                [value for row in rows for value in row],
            )

    def unpack_due(self, now: float, limit: int, unpack: Callable[[QueueRow], Sequence[TicketRow]]) -> int:
        """Turn up to ``limit`` queue rows whose receipts are due into ticket rows (``unpack`` makes them);
        return how many queue rows were unpacked. Concurrent checkers never unpack the same row."""
        with self.transaction() as cur:
            cur.execute(
                self.q(
                    "DELETE FROM expo_push_receipt_queue WHERE id IN (SELECT id FROM expo_push_receipt_queue"
                    f" WHERE due_at <= ? ORDER BY due_at, id LIMIT ?{self.skip_locked})"
                    " RETURNING sent_at, due_at, tickets, entries"
                ),
                (now, limit),
            )
            queued = cur.fetchall()
            for row in queued:
                self.insert_tickets(cur, unpack(QueueRow(*row)))
        return len(queued)

    def due_receipts(self, now: float, hold_until: float, limit: int) -> list[DueReceipt]:
        """Claim up to ``limit`` tickets whose receipt is due, oldest due first, by moving their due time to
        ``hold_until``: concurrent checkers never get the same ones, and those of a checker that stops
        midway are due again then."""
        with self.transaction() as cur:
            cur.execute(
                self.q(
                    "UPDATE expo_push_tickets SET receipt_due_at = ? WHERE id IN (SELECT id FROM expo_push_tickets"
                    " WHERE receipt_due_at IS NOT NULL AND receipt_due_at <= ? ORDER BY receipt_due_at, id"
                    f" LIMIT ?{self.skip_locked}) RETURNING ticket_id, id, token, sent_at"
                ),
                (hold_until, now, limit),
            )
            return sorted((DueReceipt(*r) for r in cur.fetchall()), key=lambda r: r.row_id)

    def settle_receipts(
        self,
        cur: Cursor,
        settled: Sequence[ReceiptOutcome],
        repoll: Sequence[Repoll],
        held_until: float,
    ) -> None:
        """Store receipt outcomes and new due times of
        tickets claimed by ``due_receipts(..., held_until, ...)``; a ticket claimed since by another checker
        (its due time changed, or it was settled) is left to that one."""
        if settled:
            cur.executemany(
                self.q(
                    "UPDATE expo_push_tickets SET receipt_status = ?, receipt_error = ?, receipt_message = ?,"
                    " receipt_at = ?, receipt_due_at = NULL WHERE id = ? AND receipt_due_at = ?"
                ),
                [(*row, held_until) for row in settled],
            )
        if repoll:
            cur.executemany(
                self.q("UPDATE expo_push_tickets SET receipt_due_at = ? WHERE id = ? AND receipt_due_at = ?"),
                [(*row, held_until) for row in repoll],
            )

    def ticket_rows(self, cur: Cursor, row_ids: Sequence[int]) -> list[StoredTicket]:
        """What a resend needs of ticket rows."""
        out: list[StoredTicket] = []
        for condition, params in self._id_sets(row_ids):
            cur.execute(self.q(f"SELECT id, key, message, retries FROM expo_push_tickets WHERE {condition}"), params)
            out.extend(StoredTicket(*r) for r in cur.fetchall())
        return out

    def pending_receipts(self, limit: int | None) -> tuple[list[WaitingTicket], list[QueueRow]]:
        """Tickets still waiting for a receipt, oldest first, at most ``limit`` of each kind, read together:
        ticket rows, and receipt queue rows (a concurrent check moves tickets from the queue to their rows)."""
        with self.transaction(write=False) as cur:
            out = []
            for sql in (
                "SELECT ticket_id, token, key, sent_at, receipt_due_at FROM expo_push_tickets"
                " WHERE receipt_due_at IS NOT NULL ORDER BY sent_at, id",
                "SELECT sent_at, due_at, tickets, entries FROM expo_push_receipt_queue ORDER BY sent_at, id",
            ):
                if limit is None:
                    cur.execute(sql)
                else:
                    cur.execute(self.q(sql + " LIMIT ?"), (limit,))
                out.append(cur.fetchall())
            return [WaitingTicket(*r) for r in out[0]], [QueueRow(*r) for r in out[1]]

    def outcome_counts(self, since: float | None, until: float | None) -> list[tuple[str, str, str | None, int]]:
        """Counts of (ticket status, receipt state, error code) over tickets sent in [since, until)."""
        with self.transaction(write=False) as cur:
            cur.execute(
                self.q(
                    "SELECT status,"
                    " CASE WHEN status <> 'ok' OR ticket_id IS NULL THEN 'none'"
                    " WHEN receipt_status IS NULL THEN 'pending'"
                    " ELSE receipt_status END AS receipt,"
                    " COALESCE(error_code, receipt_error) AS code, COUNT(*)"
                    " FROM expo_push_tickets WHERE sent_at >= ? AND sent_at < ?"
                    " GROUP BY status, receipt, code"
                ),
                (float("-inf") if since is None else since, float("inf") if until is None else until),
            )
            counts = [tuple(r) for r in cur.fetchall()]
            cur.execute(
                self.q(
                    "SELECT COALESCE(SUM(tickets), 0) FROM expo_push_receipt_queue WHERE sent_at >= ? AND sent_at < ?"
                ),
                (float("-inf") if since is None else since, float("inf") if until is None else until),
            )
            queued = int(cur.fetchone()[0])
            if queued:
                counts.append(("ok", "pending", None, queued))
            return counts

    # -- dead tokens ---------------------------------------------------------------------------

    def dead_among(self, tokens: Sequence[str]) -> set[str]:
        """The tokens of ``tokens`` that are dead."""
        dead: set[str] = set()
        if not tokens:
            return dead
        with self.transaction(write=False) as cur:
            for start in range(0, len(tokens), self.dead_query_size):
                part = tokens[start : start + self.dead_query_size]
                cur.execute(*self._dead_query(part))
                dead.update(r[0] for r in cur.fetchall())
        return dead

    def _dead_query(self, tokens: Sequence[str]) -> tuple[str, Any]:
        return (
            self.q(
                "SELECT token FROM expo_push_dead_tokens WHERE revived_at IS NULL"
                f" AND token IN ({', '.join('?' * len(tokens))})"
            ),
            tokens,
        )

    def mark_dead(
        self,
        cur: Cursor,
        token: str,
        at: float,
        reason: str,
        message: str | None,
        ticket_id: str | None,
        evidence_at: float,
        reported: bool = False,
    ) -> bool:
        """Mark ``token`` dead unless it is, or was revived after ``evidence_at``; return whether it died now.

        ``reported``: there is no one to tell (otherwise the death stays to report until ``mark_reported``).
        """
        cur.execute(
            self.q(
                "INSERT INTO expo_push_dead_tokens"
                " (token, died_at, reason, message, ticket_id, revived_at, reported_at) VALUES (?, ?, ?, ?, ?, NULL, ?)"
                " ON CONFLICT (token) DO UPDATE SET died_at = excluded.died_at,"
                " reason = excluded.reason, message = excluded.message, ticket_id = excluded.ticket_id,"
                " revived_at = NULL, reported_at = excluded.reported_at WHERE expo_push_dead_tokens.revived_at"
                " IS NOT NULL AND expo_push_dead_tokens.revived_at <= ? RETURNING token"
            ),
            (token, at, reason, message, ticket_id, at if reported else None, evidence_at),
        )
        return cur.fetchone() is not None

    def dead_tokens(self, since: float | None) -> list[DeadToken]:
        """Dead tokens, oldest death first."""
        with self.transaction(write=False) as cur:
            cur.execute(
                self.q(
                    "SELECT token, died_at, reason, message, ticket_id FROM expo_push_dead_tokens"
                    " WHERE revived_at IS NULL AND died_at >= ? ORDER BY died_at, token"
                ),
                (float("-inf") if since is None else since,),
            )
            return [DeadToken(*r) for r in cur.fetchall()]

    def unreported_dead(self, limit: int) -> list[DeadToken]:
        """Dead tokens whose death was not reported yet (a callback raised, or its process ended), oldest first."""
        with self.transaction(write=False) as cur:
            cur.execute(
                self.q(
                    "SELECT token, died_at, reason, message, ticket_id FROM expo_push_dead_tokens"
                    " WHERE reported_at IS NULL AND revived_at IS NULL ORDER BY died_at, token LIMIT ?"
                ),
                (limit,),
            )
            return [DeadToken(*r) for r in cur.fetchall()]

    def mark_reported(self, deaths: Sequence[DeadToken], at: float) -> None:
        """Note that the application was told of these deaths (a death since, after a revival, stays to report)."""
        if deaths:
            with self.transaction() as cur:
                cur.executemany(
                    self.q(
                        "UPDATE expo_push_dead_tokens SET reported_at = ?"
                        " WHERE token = ? AND died_at = ? AND reported_at IS NULL"
                    ),
                    [(at, dead.token, dead.died_at) for dead in deaths],
                )

    def count_dead(self) -> int:
        """How many tokens are dead."""
        with self.transaction(write=False) as cur:
            cur.execute("SELECT COUNT(*) FROM expo_push_dead_tokens WHERE revived_at IS NULL")
            return int(cur.fetchone()[0])

    def purge(self, before: float) -> tuple[int, int]:
        """Delete settled tickets, and sent or skipped outbox rows, from before ``before``; return both counts."""
        with self.transaction() as cur:
            cur.execute(self.q("DELETE FROM expo_push_tickets WHERE receipt_due_at IS NULL AND sent_at < ?"), (before,))
            tickets = int(cur.rowcount)
            cur.execute(
                self.q("DELETE FROM expo_push_outbox WHERE state IN ('sent', 'skipped') AND sent_at < ?"), (before,)
            )
            return tickets, int(cur.rowcount)

    def revive(self, token: str, at: float) -> bool:
        """Forget the death of ``token`` (remembering when, to ignore older evidence); return whether it was dead."""
        with self.transaction() as cur:
            cur.execute(
                self.q(
                    "UPDATE expo_push_dead_tokens SET revived_at = ? WHERE token = ? AND revived_at IS NULL"
                    " RETURNING token"
                ),
                (at, token),
            )
            return cur.fetchone() is not None

    # -- outbox --------------------------------------------------------------------------------

    def enqueue(self, rows: Sequence[OutboxEntry]) -> int:
        """Insert outbox rows; return how many were new (a key already present is skipped)."""
        with self.transaction() as cur:
            return self.insert_outbox(cur, rows)

    def enqueue_with(self, connection: Any, rows: Sequence[OutboxEntry]) -> int:
        """``enqueue`` on the application's own connection, in its open transaction (not committed here)."""
        self.check_connection(connection)
        cur = connection.cursor()
        try:
            return self.insert_outbox(cur, rows)
        finally:
            cur.close()

    def check_connection(self, connection: Any) -> None:
        """Raise ``TypeError`` unless ``connection`` is one of this backend's, to this ledger's database."""
        raise NotImplementedError

    def insert_outbox(self, cur: Cursor, rows: Sequence[OutboxEntry]) -> int:
        """``enqueue`` inside the caller's transaction."""
        if not rows:
            return 0
        cur.executemany(
            self.q(
                "INSERT INTO expo_push_outbox"
                " (key, ref, message, recipients, enqueued_at, not_before, retries, project, state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending') ON CONFLICT (key) DO NOTHING"
            ),
            [row if row.project is not None else row._replace(project="") for row in rows],
        )
        return int(cur.rowcount)  # rows inserted: a key already present counts 0

    def claim(self, now: float, worker: str, limit: int, after: str = "") -> list[ClaimedRow]:
        """Claim up to ``limit`` pending rows for ``worker``, oldest first, all of one project (a batch is sent
        by a client paced under that project's budget).

        The project is the one with rows ready that the fewest rows are being sent of (so workers spread
        over the projects with a backlog, and one project's backlog never holds up another's), the first
        such after ``after`` in name order, going round (so a worker takes the projects in turn).
        """
        with self.transaction() as cur:
            project = self._next_project(cur, now, after)
            if project is None:
                return []
            cur.execute(
                self.q(
                    "UPDATE expo_push_outbox SET state = 'sending', claimed_at = ?, claimed_by = ?,"
                    " attempts = attempts + 1 WHERE id IN (SELECT id FROM expo_push_outbox"
                    " WHERE state = 'pending' AND project = ? AND not_before <= ?"
                    f" ORDER BY id LIMIT ?{self.skip_locked})"
                    " RETURNING id, ref, message, recipients, retries, project"
                ),
                (now, worker, project, now, limit),
            )
            return sorted(ClaimedRow(r[0], r[1], r[2], r[3], r[4], r[5] or None) for r in cur.fetchall())

    def _next_project(self, cur: Cursor, now: float, after: str) -> str | None:
        """The project a claim takes rows of (see ``claim``), or None when no row is ready."""
        ready: list[str] = []  # projects with rows ready, in name order (one index probe each)
        walk = self.q(
            "SELECT project FROM expo_push_outbox WHERE state = 'pending' AND project > ? AND not_before <= ?"
            " ORDER BY project, id LIMIT 1"
        )
        cur.execute(
            self.q(
                "SELECT project FROM expo_push_outbox WHERE state = 'pending' AND not_before <= ?"
                " ORDER BY project, id LIMIT 1"
            ),
            (now,),
        )
        row = cur.fetchone()
        while row is not None and len(ready) < _MAX_PROJECTS_WALKED:
            ready.append(str(row[0]))
            cur.execute(walk, (row[0], now))
            row = cur.fetchone()
        if len(ready) <= 1:
            return ready[0] if ready else None
        cur.execute("SELECT project, COUNT(*) FROM expo_push_outbox WHERE state = 'sending' GROUP BY project")
        busy = {str(project): int(count) for project, count in cur.fetchall()}
        turn = sorted(ready, key=lambda project: (busy.get(project, 0), project <= after, project))
        return turn[0]

    def finish_sent(self, cur: Cursor, now: float, worker: str, ids: Sequence[int], state: str = "sent") -> None:
        """Mark rows claimed by ``worker`` sent (or ``state``), inside the caller's transaction."""
        for condition, params in self._id_sets(ids):
            cur.execute(
                self.q(f"UPDATE expo_push_outbox SET state = ?, sent_at = ? WHERE claimed_by = ? AND {condition}"),
                (state, now, worker, *params),
            )

    def narrow_outbox(self, cur: Cursor, worker: str, rows: Sequence[NarrowedRow]) -> None:
        """Replace the message of rows claimed by ``worker`` sent in part by the message to those still owed."""
        if rows:
            cur.executemany(
                self.q(
                    "UPDATE expo_push_outbox SET message = ?, recipients = ?, in_doubt = in_doubt + ?"
                    " WHERE id = ? AND state = 'sending' AND claimed_by = ?"
                ),
                [(row.message, row.recipients, row.in_doubt, row.id, worker) for row in rows],
            )

    def renew(self, cur: Cursor, now: float, worker: str) -> None:
        """Renew the lease of every row ``worker`` is sending (it is alive), inside the caller's transaction."""
        cur.execute(
            self.q("UPDATE expo_push_outbox SET claimed_at = ? WHERE state = 'sending' AND claimed_by = ?"),
            (now, worker),
        )

    def release(self, ids: Sequence[int], worker: str, not_before: float, error: str) -> None:
        """Give rows ``worker`` is sending back, to be sent from ``not_before`` on (a row recorded as sent, or
        taken by another worker since, is left as it is)."""
        with self.transaction() as cur:
            for condition, params in self._id_sets(ids):
                cur.execute(
                    self.q(
                        "UPDATE expo_push_outbox SET state = 'pending', not_before = ?, last_error = ?,"
                        f" claimed_by = NULL WHERE state = 'sending' AND claimed_by = ? AND {condition}"
                    ),
                    (not_before, error, worker, *params),
                )

    def sending(self) -> list[Claim]:
        """Who holds each row being sent, since when."""
        with self.transaction(write=False) as cur:
            cur.execute("SELECT id, claimed_by, claimed_at FROM expo_push_outbox WHERE state = 'sending'")
            return [Claim(*r) for r in cur.fetchall()]

    def reclaim(self, rows: Sequence[Claim]) -> int:
        """Put rows being sent by a worker that is gone back to pending, counting the reclaim; return how many.

        ``rows`` are claims as read by ``sending``: a row claimed or renewed since
        (its worker is alive, or another worker took it) is left alone.
        """
        count = 0
        with self.transaction() as cur:
            for row_id, worker, claimed_at in rows:
                cur.execute(
                    self.q(
                        "UPDATE expo_push_outbox SET state = 'pending', claimed_by = NULL, reclaims = reclaims + 1"
                        " WHERE id = ? AND state = 'sending' AND claimed_by = ? AND claimed_at = ?"
                    ),
                    (row_id, worker, claimed_at),
                )
                count += int(cur.rowcount)
        return count

    def outbox_counts(self) -> dict[str, int]:
        """Rows per outbox state, plus ``"resent"``: recipients of rows re-sent after a worker was lost, and
        ``"in_doubt"``: recipients sent again because the answer to their request never came."""
        with self.transaction(write=False) as cur:
            cur.execute("SELECT state, COUNT(*) FROM expo_push_outbox GROUP BY state")
            counts = {str(state): int(n) for state, n in cur.fetchall()}
            cur.execute(
                "SELECT COALESCE(SUM(reclaims * recipients), 0), COALESCE(SUM(in_doubt), 0) FROM expo_push_outbox"
            )
            resent, in_doubt = cur.fetchone()
            counts["resent"], counts["in_doubt"] = int(resent), int(in_doubt)
        return counts

    def projects_of(self, tokens: Sequence[str]) -> dict[str, str]:
        """The known project of each of ``tokens`` that has one."""
        known: dict[str, str] = {}
        if not tokens:
            return known
        with self.transaction(write=False) as cur:
            for start in range(0, len(tokens), 500):
                part = tokens[start : start + 500]
                marks = ", ".join("?" * len(part))
                cur.execute(
                    self.q(f"SELECT token, project FROM expo_push_token_projects WHERE token IN ({marks})"), part
                )
                known.update((str(token), str(project)) for token, project in cur.fetchall())
        return known

    def remember_projects(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Store the project of tokens: (token, project) pairs."""
        if pairs:
            with self.transaction() as cur:
                cur.executemany(
                    self.q(
                        "INSERT INTO expo_push_token_projects (token, project) VALUES (?, ?)"
                        " ON CONFLICT (token) DO UPDATE SET project = excluded.project"
                    ),
                    pairs,
                )

    def outbox_backlog(self) -> tuple[int, int, float | None]:
        """Recipients pending, recipients being sent, and the earliest ``enqueued_at`` of a pending row."""
        with self.transaction(write=False) as cur:
            cur.execute(
                "SELECT COALESCE(SUM(CASE WHEN state = 'pending' THEN recipients END), 0),"
                " COALESCE(SUM(CASE WHEN state = 'sending' THEN recipients END), 0),"
                " MIN(CASE WHEN state = 'pending' THEN enqueued_at END)"
                " FROM expo_push_outbox WHERE state IN ('pending', 'sending')"
            )
            pending, sending, oldest = cur.fetchone()
            return int(pending), int(sending), None if oldest is None else float(oldest)

    def iter_outbox_keys(self) -> Iterator[tuple[str | None, str]]:
        """(key, state) of every outbox row, by id (for inspection and tests)."""
        with self.transaction(write=False) as cur:
            cur.execute("SELECT key, state FROM expo_push_outbox ORDER BY id")
            rows = cur.fetchall()
        for row in rows:
            yield row[0], row[1]
