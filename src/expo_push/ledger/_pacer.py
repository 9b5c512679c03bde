"""The shared pacer: one rate budget per Expo project, kept in the ledger's database for every worker using it.

The same rule as the client's in-process ``Pacer`` (the generic cell rate
algorithm, no burst beyond one request), with its state in the table
``expo_push_pacing``: one row per project holding the virtual time at which the
next request may start (``next_at``) and the end of the current 429 hold
(``held_until``). Each call is one atomic statement on a pooled connection;
times are the database's clock, so workers on machines whose clocks disagree
still share one schedule.
"""

from __future__ import annotations

from typing import Any

from ._store import Store

__all__ = ["SharedPacer"]

UNNAMED = ""
"""The budget of requests whose project is not known (``project=None``)."""


class SharedPacer:
    """Paces every client that uses it, in any process or machine, to ``rate`` notifications per second per project.

    Get one from ``Ledger.shared_pacer(rate)`` and give it to the clients
    (``PushClient(pacer=...)``). All workers sharing a ledger should use the
    same ``rate``: each reservation books ``notifications / rate`` seconds of
    the project's schedule. A 429 seen by one of them (``hold``) holds every
    worker of that project.

    Each method is one short statement on a connection borrowed from the
    ledger's pool for that statement (so the sync client's threads may share it).
    """

    def __init__(self, store: Store, rate: float | None = 600.0) -> None:
        if rate is not None and (isinstance(rate, bool) or not rate > 0):
            raise ValueError(f"rate must be a positive number or None, not {rate!r}")
        self.rate = rate
        self._store = store
        now = store.now_sql
        greatest = store.greatest
        table = "expo_push_pacing"
        self._reserve_sql = store.q(
            f"INSERT INTO {table} (project, next_at, held_until, updated_at) VALUES (?, {now} + ?, 0, {now})"
            f" ON CONFLICT (project) DO UPDATE SET next_at = {greatest}(excluded.updated_at, {table}.next_at,"
            f" {table}.held_until) + ?, updated_at = excluded.updated_at"
            " RETURNING next_at - ? - updated_at"
        )
        self._refund_sql = store.q(f"UPDATE {table} SET next_at = {greatest}({now}, next_at - ?) WHERE project = ?")
        self._hold_sql = store.q(
            f"INSERT INTO {table} (project, next_at, held_until, updated_at) VALUES (?, 0, {now} + ?, {now})"
            f" ON CONFLICT (project) DO UPDATE SET held_until = {greatest}({table}.held_until, excluded.held_until)"
        )
        self._held_sql = store.q(f"SELECT held_until - {now} FROM {table} WHERE project = ?")

    def __repr__(self) -> str:
        return f"<SharedPacer rate={self.rate!r} in {self._store.description}>"

    def _run(self, sql: str, params: tuple[Any, ...]) -> Any:
        """Run one statement in its own transaction; return its first row (or None)."""
        try:
            return self._store.execute_one(sql, params)
        except Exception as exc:
            if not self._store.is_disconnect(exc):
                raise
            # The server dropped the connection (restart, failover): once more on a new one.
            self._store.pool.discard_idle()
            return self._store.execute_one(sql, params)

    def reserve(self, notifications: int, project: str | None) -> float:
        """Book a request of ``notifications`` for ``project`` now; return the seconds to wait before sending it.

        ``notifications=0`` (a receipts request) books nothing and waits only for a hold.
        """
        if notifications <= 0 or self.rate is None:
            return self.held_for(project)
        length = notifications / self.rate
        row = self._run(self._reserve_sql, (project or UNNAMED, length, length, length))
        return max(float(row[0]), 0.0)

    def refund(self, notifications: int, project: str | None) -> None:
        """Give back the slot of ``notifications`` the service refused whole (they did not count)."""
        if notifications > 0 and self.rate is not None:
            self._run(self._refund_sql, (notifications / self.rate, project or UNNAMED))

    def hold(self, seconds: float, project: str | None) -> None:
        """Start no request of ``project``, in any worker, for ``seconds`` (the service said 429)."""
        if seconds > 0:
            self._run(self._hold_sql, (project or UNNAMED, seconds))

    def held_for(self, project: str | None) -> float:
        """Seconds left of the current hold of ``project`` (0 when there is none)."""
        row = self._run(self._held_sql, (project or UNNAMED,))
        return max(float(row[0]), 0.0) if row is not None else 0.0

    def close(self) -> None:
        """Nothing to close: the pacer borrows a connection of the ledger's pool for each statement."""
