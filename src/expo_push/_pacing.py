"""Client-side pacing under the service's rate limit: the pacer interface, and the in-process pacer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Pacer", "PacerProtocol", "Schedule"]


class Schedule:
    """Spaces requests so that notifications leave at no more than ``rate`` per second.

    It is a virtual scheduler (the generic cell rate algorithm with no burst
    allowance beyond one request): each request of ``n`` notifications is
    given the earliest start time that keeps the average at ``rate`` and
    occupies the next ``n / rate`` seconds. A service that allows ``rate``
    per second with up to a second of burst (as a token bucket does) never
    refuses a client paced this way, and a steady sender still reaches the
    full rate. ``rate=None`` turns pacing off; ``hold()`` still works then.

    It has no clock of its own: the caller passes the current time (any
    monotonic clock, in seconds) and sleeps for the returned delay. ``Pacer``
    wraps one per project with a clock and a lock.
    """

    __slots__ = ("_held_until", "_next", "rate")

    def __init__(self, rate: float | None) -> None:
        if rate is not None and not rate > 0:
            raise ValueError(f"rate_limit must be a positive number or None, not {rate!r}")
        self.rate = rate
        self._next = float("-inf")
        self._held_until = float("-inf")

    def reserve(self, n: int, now: float) -> float:
        """Book a request of ``n`` notifications; return how many seconds to wait before sending it.

        ``n=0`` (a receipts request) books nothing and waits only for a hold.
        """
        if n <= 0 or self.rate is None:
            return self.held_for(now)
        start = max(now, self._next, self._held_until)
        self._next = start + n / self.rate
        return start - now

    def refund(self, n: int, now: float) -> None:
        """Give back the slot of ``n`` notifications the service refused whole (they did not count)."""
        if self.rate is not None:
            self._next = max(now, self._next - n / self.rate)

    def hold(self, until: float) -> None:
        """Start nothing before ``until`` (after a 429, so that every request waits, not just the refused one)."""
        self._held_until = max(self._held_until, until)

    def held_for(self, now: float) -> float:
        """Seconds until the current hold ends (0 when there is none).

        Checked again just before a request goes out, so that a request booked
        before a 429 arrived waits for the hold too.
        """
        return max(self._held_until - now, 0.0)


@runtime_checkable
class PacerProtocol(Protocol):
    """What a client asks of a pacer; ``project`` is the Expo project (``@owner/slug``) or ``None``.

    The clients call these from their worker threads (``PushClient``) or from
    the event loop (``AsyncPushClient``), so each call must be short. A pacer
    shared by several clients or processes (``Ledger.shared_pacer()``) gives
    them all one budget per project.
    """

    def reserve(self, notifications: int, project: str | None) -> float:
        """Book a request of ``notifications`` now; return the seconds to wait before sending it."""
        ...

    def refund(self, notifications: int, project: str | None) -> None:
        """Give back the slot of a request the service refused whole."""
        ...

    def hold(self, seconds: float, project: str | None) -> None:
        """Start no request of ``project`` for ``seconds`` (the service answered 429)."""
        ...

    def held_for(self, project: str | None) -> float:
        """Seconds left of the current hold of ``project`` (0 when there is none)."""
        ...


class Pacer:
    """The in-process pacer: a ``Schedule`` per project, on a monotonic clock, safe to share between threads.

    ``rate`` notifications per second for each project (``None``: no pacing,
    holds still apply). This is the clients' default; clients made with
    ``with_options`` share their parent's.
    """

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        Schedule(rate)  # checks the rate
        self.rate = rate
        self._clock = clock
        self._lock = threading.Lock()
        self._schedules: dict[str | None, Schedule] = {}

    def __repr__(self) -> str:
        return f"expo_push.Pacer(rate={self.rate!r})"

    def _schedule(self, project: str | None) -> Schedule:
        schedule = self._schedules.get(project)
        if schedule is None:
            schedule = self._schedules[project] = Schedule(self.rate)
        return schedule

    def reserve(self, notifications: int, project: str | None) -> float:
        """Book a request of ``notifications`` now; return the seconds to wait before sending it."""
        with self._lock:
            return self._schedule(project).reserve(notifications, self._clock())

    def refund(self, notifications: int, project: str | None) -> None:
        """Give back the slot of a request the service refused whole."""
        with self._lock:
            self._schedule(project).refund(notifications, self._clock())

    def hold(self, seconds: float, project: str | None) -> None:
        """Start no request of ``project`` for ``seconds``."""
        with self._lock:
            self._schedule(project).hold(self._clock() + seconds)

    def held_for(self, project: str | None) -> float:
        """Seconds left of the current hold of ``project``."""
        with self._lock:
            return self._schedule(project).held_for(self._clock())
