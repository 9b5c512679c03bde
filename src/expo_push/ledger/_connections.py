"""The store's database connections: a small pool shared by every thread, so a scrape, a short-lived thread or
a lost connection holds nothing once its transaction ends."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["ConnectionPool"]


class ConnectionPool:
    """Connections lent for one transaction each, and taken back after it.

    At most ``keep`` idle connections stay open between uses; one returned beyond that is closed, and so
    is one that is broken or still inside a transaction (``reusable`` says which can be lent again). The
    connections open at any time are the transactions running plus at most ``keep``: no thread, however
    short-lived, owns one.
    """

    def __init__(self, connect: Callable[[], Any], reusable: Callable[[Any], bool], keep: int = 4) -> None:
        self._connect = connect
        self._reusable = reusable
        self._keep = keep
        self._idle: list[Any] = []
        self._lent = 0
        self._lock = threading.Lock()
        self._closed = False

    @property
    def open_connections(self) -> int:
        """Connections open now: idle and lent."""
        with self._lock:
            return len(self._idle) + self._lent

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A connection for one transaction; back in the pool (or closed) when the block ends.

        A connection whose block raised is checked like any other: one still usable goes back.
        """
        conn = self._take()
        try:
            yield conn
        finally:
            self._give_back(conn)

    def _take(self) -> Any:
        with self._lock:
            self._lent += 1
            if self._idle:
                return self._idle.pop()
        try:
            return self._connect()
        except BaseException:
            with self._lock:
                self._lent -= 1
            raise

    def _give_back(self, conn: Any) -> None:
        keep = False
        with contextlib.suppress(Exception):
            keep = self._reusable(conn)
        with self._lock:
            self._lent -= 1
            if keep and not self._closed and len(self._idle) < self._keep:
                self._idle.append(conn)
                return
        with contextlib.suppress(Exception):
            conn.close()

    def discard_idle(self) -> None:
        """Close every idle connection (after the server dropped them all, say)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        """Close the idle connections; those lent are closed as they come back, and so are any lent later."""
        with self._lock:
            self._closed = True
        self.discard_idle()
