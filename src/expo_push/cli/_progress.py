"""Progress of a long send: a redrawn bar with rate and ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO

__all__ = ["Progress"]

_WIDTH = 30
_QUIET_BELOW = 1000  # in a log, smaller sends print no progress lines


class Progress:
    """Counts notifications done out of ``total`` and shows it on ``stream`` (standard error).

    On a terminal the bar is redrawn in place at most ten times a second; in a
    log or a pipe a plain line is written at every tenth of the way (for sends
    of 1,000 notifications or more).
    """

    def __init__(
        self, total: int, stream: IO[str], label: str = "sending", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.total = max(total, 0)
        self.done = 0
        self._stream = stream
        self._label = label
        self._clock = clock
        self._started = clock()
        self._tty = stream.isatty()
        self._last_draw = float("-inf")
        self._next_tenth = 1

    def advance(self, count: int = 1) -> None:
        """Note ``count`` more notifications done."""
        self.done += count
        now = self._clock()
        if self._tty:
            if now - self._last_draw >= 0.1 or self.done >= self.total:
                self._last_draw = now
                self._stream.write("\r" + self.line(now))
                self._stream.flush()
        elif self.total >= _QUIET_BELOW and self.done * 10 >= self._next_tenth * self.total:
            while self.done * 10 >= self._next_tenth * self.total:
                self._next_tenth += 1
            self._stream.write(self.line(now).rstrip() + "\n")
            self._stream.flush()

    def line(self, now: float) -> str:
        """The progress as one line of text."""
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        fraction = self.done / self.total if self.total else 1.0
        bar = "#" * int(fraction * _WIDTH)
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta_text = f"ETA {eta:.0f}s" if eta != float("inf") else "ETA -"
        return (
            f"{self._label} [{bar:<{_WIDTH}}] {self.done:,}/{self.total:,} {fraction:4.0%} {rate:,.0f}/s {eta_text}   "
        )

    def close(self) -> None:
        """End the bar's line on a terminal."""
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()
