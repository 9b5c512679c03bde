"""Leases of outbox rows, judged without comparing clocks: a claim has expired when this process has seen it
unchanged for a whole lease on its own clock (a live worker renews it, changing it)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from ._rows import Claim

__all__ = ["LeaseWatch"]


class LeaseWatch:
    """Remembers since when (on ``clock``, this process's schedule clock) each claim of another worker has been
    seen as it is.

    No time written by another worker is compared with this process's clock, so clocks that disagree, or
    step, never make a live worker's rows look abandoned: a worker whose clock runs 700 s ahead takes a row
    only after watching it go unrenewed for a lease. The cost: a process takes back the rows of a worker
    lost on another machine a lease after it first looked, not at once.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._first_seen: dict[tuple[int, str | None, float], float] = {}
        self._lock = threading.Lock()

    def expired(self, claims: Sequence[Claim], lease: float, own: str) -> list[Claim]:
        """The claims of ``claims`` (every row being sent, as read now) seen unchanged for their lease (the one
        their worker claimed them with; ``lease`` for claims without one); ``own`` (this worker's name) is never
        among them."""
        now = self._clock()
        out: list[Claim] = []
        with self._lock:
            seen: dict[tuple[int, str | None, float], float] = {}
            for claim in claims:
                if claim.worker == own:
                    continue
                key = (claim.id, claim.worker, claim.claimed_at)
                first = seen[key] = self._first_seen.get(key, now)
                if now - first >= (claim.lease if claim.lease is not None else lease):
                    out.append(claim)
            self._first_seen = seen
        return out
