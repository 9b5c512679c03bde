"""The queries of the outbox: enqueue, claim a batch of one project, settle it, reclaim rows of lost workers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ._database import Database
from ._rows import Claim, ClaimedRow, Cursor, NarrowedRow, OutboxEntry

__all__ = ["OutboxQueries"]


class OutboxQueries(Database):
    """The outbox (``expo_push_outbox``)."""

    _MAX_PROJECTS_WALKED = 50  # projects with pending rows a claim considers (the busiest are left for later)

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

    def claim(
        self, now: float, worker: str, limit: int, after: str = "", lease: float | None = None
    ) -> list[ClaimedRow]:
        """Claim up to ``limit`` pending rows for ``worker``, oldest first, all of one project (a batch is sent
        by a client paced under that project's budget).

        The project is the one with rows ready that the fewest rows are being sent of (so workers spread
        over the projects with a backlog, and one project's backlog never holds up another's), the first
        such after ``after`` in name order, going round (so a worker takes the projects in turn). ``lease``
        (the worker's) is stored with the claim: other workers judge the claim by it.
        """
        with self.transaction() as cur:
            project = self._next_project(cur, now, after)
            if project is None:
                return []
            cur.execute(
                self.q(
                    "UPDATE expo_push_outbox SET state = 'sending', claimed_at = ?, claimed_by = ?, lease = ?,"
                    " attempts = attempts + 1 WHERE id IN (SELECT id FROM expo_push_outbox"
                    " WHERE state = 'pending' AND project = ? AND not_before <= ?"
                    f" ORDER BY id LIMIT ?{self.skip_locked})"
                    " RETURNING id, ref, message, recipients, retries, project"
                ),
                (now, worker, lease, project, now, limit),
            )
            return sorted(ClaimedRow(r[0], r[1], r[2], r[3], r[4], r[5] or None) for r in cur.fetchall())

    def _next_project(self, cur: Cursor, now: float, after: str) -> str | None:
        """The project a claim takes rows of (see ``claim``), or None when no row is ready.

        Projects with rows ready are walked in name order from the one after ``after``, going round, at most
        ``_MAX_PROJECTS_WALKED`` of them (one index probe each): however many projects there are, each
        comes in its turn.
        """
        first = self.q(
            "SELECT project FROM expo_push_outbox WHERE state = 'pending' AND not_before <= ?"
            " ORDER BY project, id LIMIT 1"
        )
        walk = self.q(
            "SELECT project FROM expo_push_outbox WHERE state = 'pending' AND project > ? AND not_before <= ?"
            " ORDER BY project, id LIMIT 1"
        )
        ready: list[str] = []  # in turn: after ``after`` by name, then from the first name round to it
        cur.execute(walk, (after, now))
        row = cur.fetchone()
        for wrapped in (False, True):
            if wrapped:
                cur.execute(first, (now,))
                row = cur.fetchone()
            while row is not None and len(ready) < self._MAX_PROJECTS_WALKED:
                project = str(row[0])
                if wrapped and (project > after or project in ready):
                    break
                ready.append(project)
                cur.execute(walk, (project, now))
                row = cur.fetchone()
        if len(ready) <= 1:
            return ready[0] if ready else None
        cur.execute("SELECT project, COUNT(*) FROM expo_push_outbox WHERE state = 'sending' GROUP BY project")
        busy = {str(project): int(count) for project, count in cur.fetchall()}
        return min(ready, key=lambda project: busy.get(project, 0))  # the first in turn of the least busy

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
        """Renew the lease of every row ``worker`` is sending (it is alive), inside the caller's transaction: its
        claim changes (other workers watch for that), though the clock may not have moved."""
        cur.execute(
            self.q(
                f"UPDATE expo_push_outbox SET claimed_at = {self.greatest}(?, claimed_at + 0.001)"
                " WHERE state = 'sending' AND claimed_by = ?"
            ),
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

    def release_worker(self, worker: str, not_before: float, error: str) -> int:
        """Give back every row ``worker`` is sending; return how many."""
        with self.transaction() as cur:
            cur.execute(
                self.q(
                    "UPDATE expo_push_outbox SET state = 'pending', not_before = ?, last_error = ?, claimed_by = NULL"
                    " WHERE state = 'sending' AND claimed_by = ?"
                ),
                (not_before, error, worker),
            )
            return int(cur.rowcount)

    def sending(self) -> list[Claim]:
        """Who holds each row being sent, since when."""
        with self.transaction(write=False) as cur:
            cur.execute("SELECT id, claimed_by, claimed_at, lease FROM expo_push_outbox WHERE state = 'sending'")
            return [Claim(*r) for r in cur.fetchall()]

    def reclaim(self, rows: Sequence[Claim]) -> int:
        """Put rows being sent by a worker that is gone back to pending, counting the reclaim; return how many.

        ``rows`` are claims as read by ``sending``: a row claimed or renewed since
        (its worker is alive, or another worker took it) is left alone.
        """
        count = 0
        with self.transaction() as cur:
            for claim in rows:
                cur.execute(
                    self.q(
                        "UPDATE expo_push_outbox SET state = 'pending', claimed_by = NULL, reclaims = reclaims + 1"
                        " WHERE id = ? AND state = 'sending' AND claimed_by = ? AND claimed_at = ?"
                    ),
                    (claim.id, claim.worker, claim.claimed_at),
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

    def outbox_backlog(self) -> tuple[int, int, float | None]:
        """Recipients pending, recipients being sent, and the earliest ``not_before`` of a pending row (schedule
        clock)."""
        with self.transaction(write=False) as cur:
            cur.execute(
                "SELECT COALESCE(SUM(CASE WHEN state = 'pending' THEN recipients END), 0),"
                " COALESCE(SUM(CASE WHEN state = 'sending' THEN recipients END), 0),"
                " MIN(CASE WHEN state = 'pending' THEN not_before END)"
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
