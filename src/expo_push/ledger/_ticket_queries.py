"""The queries of tickets and the receipt queue: recorded sends, receipts due, their outcomes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ._database import Database
from ._rows import Cursor, DueReceipt, QueueRow, ReceiptOutcome, Repoll, StoredTicket, TicketRow, WaitingTicket

__all__ = ["TicketQueries"]

_TICKET_COLUMNS = "key, token, ticket_id, status, error_code, error_message, sent_at, receipt_due_at, message, retries"


class TicketQueries(Database):
    """Tickets and the receipt queue (``expo_push_tickets``, ``expo_push_receipt_queue``)."""

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
