"""Progress of a long send: a redrawn bar with rate, ETA and retries on a terminal, plain lines otherwise."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

__all__ = ["Progress"]

_WIDTH = 30
_QUIET_BELOW = 1000  # in a log, smaller sends print no progress lines


class Progress:
    """Counts notifications done out of ``total`` and shows it on ``stream`` (standard error).

    On a terminal the bar is redrawn in place at most ten times a second, and
    shows the retries so far; in a log or a pipe a plain line is written at
    every tenth of the way (for sends of 1,000 notifications or more).
    ``shown=False`` (``-q``) draws nothing.
    """

    def __init__(
        self,
        total: int,
        stream: IO[str],
        label: str = "sending",
        clock: Callable[[], float] = time.monotonic,
        *,
        shown: bool = True,
    ) -> None:
        self.total = max(total, 0)
        self.done = 0
        self.retries = 0
        self._stream = stream
        self._label = label
        self._clock = clock
        self._started = clock()
        self._shown = shown
        self._tty = shown and stream.isatty()
        self._last_draw = float("-inf")
        self._next_tenth = 1

    def advance(self, count: int = 1) -> None:
        """Note ``count`` more notifications done."""
        self.done += count
        self._draw(force=self.done >= self.total)

    def retried(self) -> None:
        """Note that a request is being retried (shown on the bar at once)."""
        self.retries += 1
        self._draw(force=True)

    def _draw(self, *, force: bool) -> None:
        if not self._shown:
            return
        now = self._clock()
        if self._tty:
            if now - self._last_draw >= 0.1 or force:
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
        retries = f" retries {self.retries:,}" if self.retries else ""
        return (
            f"{self._label} [{bar:<{_WIDTH}}] {self.done:,}/{self.total:,} {fraction:4.0%} {rate:,.0f}/s {eta_text}"
            f"{retries}   "
        )

    @contextmanager
    def counting_retries(self) -> Iterator[None]:
        """While inside, every retry the client logs (on the ``expo_push`` logger) is counted on the bar."""
        handler = _RetryCounter(self)
        logger = logging.getLogger("expo_push")
        previous = logger.level
        if not logger.level or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        try:
            yield
        finally:
            logger.removeHandler(handler)
            logger.setLevel(previous)

    def close(self) -> None:
        """End the bar's line on a terminal."""
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()


class _RetryCounter(logging.Handler):
    """Counts the client's "retrying" log records onto a progress bar."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self._progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying" in str(record.msg):
            self._progress.retried()
