"""The ledger's storage: every query (by table family, in ``_ticket_queries``, ``_token_queries`` and
``_outbox_queries``), the schema brought up to date on open, and the lease clock."""

from __future__ import annotations

from ._outbox_queries import OutboxQueries
from ._process import boot_id, boottime
from ._rows import Cursor
from ._schema import SCHEMA_VERSION, AddColumn, create_statements, migration_steps, new_ledger_id
from ._ticket_queries import TicketQueries
from ._token_queries import TokenQueries

__all__ = ["Store"]


class Store(TicketQueries, TokenQueries, OutboxQueries):
    """Every query of the ledger over a backend's connections; subclasses say how to connect.

    A method that takes a ``Cursor`` runs inside the caller's transaction (opened with ``transaction()``)
    and commits with it; ``enqueue_with`` runs inside the application's own open transaction, on its
    connection, and commits nothing; every other method that reads or writes the tables opens, and
    commits, one transaction of its own.
    """

    ledger_id: str | None = None
    """The ledger's identity (``expo_push_meta``), read on open: a connection of the application's must reach
    the same one."""

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
            timeline_current = self._lease_timeline_current(cur)
            self.ledger_id = self._meta(cur, "ledger_id")
        if timeline_current and self.ledger_id is not None:
            return
        with self.transaction() as cur:
            self._check_lease_timeline(cur)
            if self.ledger_id is None:  # a ledger from before ledger ids
                cur.execute(
                    self.q("INSERT INTO expo_push_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"),
                    ("ledger_id", new_ledger_id()),
                )
                self.ledger_id = self._meta(cur, "ledger_id")

    def _meta(self, cur: Cursor, name: str) -> str | None:
        cur.execute(self.q("SELECT value FROM expo_push_meta WHERE name = ?"), (name,))
        row = cur.fetchone()
        return None if row is None else str(row[0])

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
        now, and rows being sent are taken back at once, counted as resent (every process of an earlier boot
        is gone)."""
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
                    " reclaims = reclaims + CASE WHEN state = 'sending' THEN 1 ELSE 0 END,"
                    " state = 'pending', claimed_by = NULL WHERE state IN ('pending', 'sending')"
                ),
                (now,),
            )
        cur.execute(
            self.q(
                "INSERT INTO expo_push_meta (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
            ),
            ("lease_timeline", timeline),
        )

    def _before_schema(self, cur: Cursor) -> None:
        """Hook run in the schema transaction before the tables are created."""

    def purge(self, before: float) -> tuple[int, int]:
        """Delete settled tickets, and sent or skipped outbox rows, from before ``before``; return both counts."""
        with self.transaction() as cur:
            cur.execute(self.q("DELETE FROM expo_push_tickets WHERE receipt_due_at IS NULL AND sent_at < ?"), (before,))
            tickets = int(cur.rowcount)
            cur.execute(
                self.q("DELETE FROM expo_push_outbox WHERE state IN ('sent', 'skipped') AND sent_at < ?"), (before,)
            )
            return tickets, int(cur.rowcount)
