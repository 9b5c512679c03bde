"""The shared pacer: one rate budget per Expo project, kept in the ledger's database for every worker using it.

The same rule as the client's in-process ``Pacer`` (the generic cell rate
algorithm, no burst beyond one request), with its state in the table
``expo_push_pacing``: one row per project holding when the next request may
start (``next_at``), the end of the current 429 hold (``held_until``) and when
the row was last written (``updated_at``). Each call is one atomic statement on
a pooled connection.

Times are on the schedule clock: SQLite, the machine's clock since boot (every
process of the machine shares it, setting the wall clock moves it not);
PostgreSQL, the database's clock (one clock for workers on every machine). A
statement counts only the time passed since the row was written, and never
less than none: a clock stepped back stalls nothing (the waits in progress
keep their length), a clock stepped forward frees at most the waits in
progress. No schedule depends on a wall clock being right.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._service import RATE_LIMIT
from ._store import Store

__all__ = ["SharedPacer"]

STEP = 1.0
"""Seconds by which the schedule clock must run behind a row's last write to be taken as stepped back (less is
two statements that read the clock in one order and ran in the other)."""

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

    def __init__(
        self, store: Store, rate: float | None = RATE_LIMIT, *, clock: Callable[[], float] | None = None
    ) -> None:
        if rate is not None and (isinstance(rate, bool) or not rate > 0):
            raise ValueError(f"rate must be a positive number or None, not {rate!r}")
        self.rate = rate
        self._store = store
        self._clock = clock if clock is not None else store.schedule_clock()
        n = "CAST(:now AS DOUBLE PRECISION)" if self._clock is not None else store.now_sql
        g = store.greatest
        table = "expo_push_pacing"
        # What is left of a wait or a hold: counted from the later of now and the row's last write.
        next_left = f"{g}({table}.next_at - {g}({n}, {table}.updated_at), 0)"
        hold_left = f"{g}({table}.held_until - {g}({n}, {table}.updated_at), 0)"
        # The time it is for the row: now, or its last write when that is later by less than STEP (statements
        # that read the clock in one order and ran in the other), so concurrent bookings never overlap.
        e = f"(CASE WHEN {table}.updated_at - {n} < {STEP} THEN {g}({n}, {table}.updated_at) ELSE {n} END)"
        self._reserve_sql = store.named(
            f"INSERT INTO {table} (project, next_at, held_until, updated_at) VALUES (:project, {n} + :length, {n},"
            f" {n}) ON CONFLICT (project) DO UPDATE SET next_at = {e} + {g}({next_left}, {hold_left}) + :length,"
            f" held_until = {e} + {hold_left}, updated_at = {e} RETURNING next_at - :length - updated_at"
        )
        self._refund_sql = store.named(
            f"UPDATE {table} SET next_at = {e} + {g}({next_left} - :length, 0), held_until = {e} + {hold_left},"
            f" updated_at = {e} WHERE project = :project"
        )
        self._hold_sql = store.named(
            f"INSERT INTO {table} (project, next_at, held_until, updated_at) VALUES (:project, {n}, {n} + :length,"
            f" {n}) ON CONFLICT (project) DO UPDATE SET next_at = {e} + {next_left},"
            f" held_until = {e} + {g}({hold_left}, :length), updated_at = {e}"
        )
        # Read by a write: the row learns that its clock stepped back, so the hold's end is rebased now.
        self._held_sql = store.named(
            f"UPDATE {table} SET next_at = {e} + {next_left}, held_until = {e} + {hold_left}, updated_at = {e}"
            " WHERE project = :project RETURNING held_until - updated_at"
        )

    def __repr__(self) -> str:
        return f"<SharedPacer rate={self.rate!r} in {self._store.description}>"

    def _run(self, sql: str, project: str | None, length: float = 0.0) -> Any:
        """Run one statement in its own transaction; return its first row (or None)."""
        params: dict[str, Any] = {"project": project or UNNAMED, "length": length}
        if self._clock is not None:
            params["now"] = self._clock()
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
        row = self._run(self._reserve_sql, project, notifications / self.rate)
        return max(float(row[0]), 0.0)

    def refund(self, notifications: int, project: str | None) -> None:
        """Give back the slot of ``notifications`` the service refused whole (they did not count)."""
        if notifications > 0 and self.rate is not None:
            self._run(self._refund_sql, project, notifications / self.rate)

    def hold(self, seconds: float, project: str | None) -> None:
        """Start no request of ``project``, in any worker, for ``seconds`` (the service said 429)."""
        if seconds > 0:
            self._run(self._hold_sql, project, seconds)

    def held_for(self, project: str | None) -> float:
        """Seconds left of the current hold of ``project`` (0 when there is none)."""
        row = self._run(self._held_sql, project)
        return max(float(row[0]), 0.0) if row is not None else 0.0

    def close(self) -> None:
        """Nothing to close: the pacer borrows a connection of the ledger's pool for each statement."""
