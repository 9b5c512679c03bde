"""Client-side pacing under the service's rate limit: a scheduler with no clock of its own."""

from __future__ import annotations

__all__ = ["Pacer"]


class Pacer:
    """Spaces requests so that notifications leave at no more than ``rate`` per second.

    It is a virtual scheduler (the generic cell rate algorithm with no burst
    allowance beyond one request): each request of ``n`` notifications is
    given the earliest start time that keeps the average at ``rate`` and
    occupies the next ``n / rate`` seconds. A service that allows ``rate``
    per second with up to a second of burst (as a token bucket does) never
    refuses a client paced this way, and a steady sender still reaches the
    full rate. ``rate=None`` turns pacing off; ``hold()`` still works then.

    The caller passes the current time (any monotonic clock, in seconds) and
    sleeps for the returned delay; the sync client serializes calls with a lock.
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
