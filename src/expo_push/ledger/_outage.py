"""Waiting out the ledger's database: a long-running loop backs off while the database is unavailable (restart,
failover, a held lock), says so once per outage, and carries on where it was."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["Outage"]

logger = logging.getLogger("expo_push.ledger")

T = TypeVar("T")

FIRST_WAIT = 0.5
LONGEST_WAIT = 30.0
QUIET = 60.0
"""Seconds after an outage's end within which a new one is taken as the same (a server shutting down may
answer once more between refusals): not logged again."""


class Outage:
    """Retries an action while the database is unavailable, waiting ``FIRST_WAIT`` doubling to ``LONGEST_WAIT``.

    ``is_unavailable(exc)`` says which errors are an outage (the store knows: a lost connection, a refused
    one, a lock held past the busy timeout); anything else is raised at once. Setting ``stop`` cuts a wait
    short, and an outage error met once ``stop`` is set is raised. One WARNING when an outage starts, one
    INFO when it ends, whatever the number of retries between.
    """

    def __init__(
        self,
        is_unavailable: Callable[[BaseException], bool],
        stop: threading.Event,
        who: str,
    ) -> None:
        self._is_unavailable = is_unavailable
        self._stop = stop
        self._who = who
        self._wait = FIRST_WAIT
        self._since: float | None = None
        self._logged_since: float | None = None  # when the outage being logged started
        self._ended_at = -QUIET

    def retry(self, action: Callable[[], T]) -> T:
        """``action()``, tried again after each outage error until it succeeds (or ``stop`` is set)."""
        while True:
            try:
                result = action()
            except Exception as exc:
                if not self._is_unavailable(exc) or self._stop.is_set():
                    raise
                self.failed(exc)
                self.pause()
                continue
            self.succeeded()
            return result

    def pause(self) -> None:
        """Wait before the next try (until ``stop`` is set at most), longer each time during one outage."""
        self._stop.wait(self._wait)
        self._wait = min(self._wait * 2, LONGEST_WAIT)

    def failed(self, exc: BaseException) -> None:
        """Note an outage error (logged when it starts an outage)."""
        if self._since is not None:
            return
        self._since = now = time.monotonic()
        self._wait = FIRST_WAIT
        if now - self._ended_at >= QUIET:
            self._logged_since = now
            logger.warning(
                "expo-push: %s: the ledger's database is unavailable (%s: %s); waiting for it, trying again"
                " every %g s at most",
                self._who,
                type(exc).__name__,
                str(exc).strip().splitlines()[0] if str(exc).strip() else "no message",
                LONGEST_WAIT,
            )

    def succeeded(self) -> bool:
        """Note that the database answered; return whether that ended an outage (logged)."""
        if self._since is None:
            return False
        self._since = None
        self._ended_at = now = time.monotonic()
        if self._logged_since is not None:
            logger.info(
                "expo-push: %s: the ledger's database is back after %.1f s; carrying on",
                self._who,
                now - self._logged_since,
            )
            self._logged_since = None
        return True
