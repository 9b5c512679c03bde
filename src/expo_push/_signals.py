"""How the command lines (``expo-push`` and the emulator) are stopped: Ctrl-C, SIGTERM and SIGHUP alike.

A stop signal raises ``Stopped`` (a ``KeyboardInterrupt``, so the clients treat it as Ctrl-C) or sets an
event, as the command asks; ``held`` keeps a step whole (a ticket printed and marked printed), and once a
command's requests are done, ``shield`` lets its bookkeeping finish.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import IO, Any

__all__ = [
    "SIGPIPE_STATUS",
    "STOP_SIGNALS",
    "StopSignals",
    "Stopped",
    "drop_output",
    "exit_status",
    "signal_words",
    "stop_notice",
]

STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""Ctrl-C; what ``timeout``, systemd, Kubernetes and CI send to cancel; a terminal that closes."""


_SIGPIPE: int = getattr(signal, "SIGPIPE", 13)

SIGPIPE_STATUS = 128 + _SIGPIPE
"""The exit status of a command whose output is read no more (``| head``): as if ended by SIGPIPE, 141."""


def drop_output(stream: IO[str]) -> None:
    """Send what is still buffered for ``stream``, and all written to it later, to nowhere: its reader left.

    Python ignores SIGPIPE, so a write to a closed pipe raises ``BrokenPipeError``; after this call neither
    later writes nor the flush at exit do.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's StringIO)
        return
    nowhere = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(nowhere, fd)
    finally:
        os.close(nowhere)


class Stopped(KeyboardInterrupt):
    """A stop signal, raised in the main thread: Ctrl-C, SIGTERM or SIGHUP (``signum``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def exit_status(signum: int) -> int:
    """The conventional exit status of a command ended by ``signum``: 128 + its number (130, 143, 129)."""
    return 128 + signum


def signal_words(signum: int) -> str:
    """How a command says it was stopped: ``interrupted`` (Ctrl-C), ``terminated (SIGTERM)``, ``hung up (SIGHUP)``,
    ``output closed (SIGPIPE)`` (what it prints is read no more, as by ``| head``)."""
    if signum == signal.SIGINT:
        return "interrupted"
    name = signal.Signals(signum).name
    if name == "SIGPIPE":
        return f"output closed ({name})"
    return f"hung up ({name})" if name == "SIGHUP" else f"terminated ({name})"


def stop_notice(err: IO[str], prog: str, doing: str) -> Callable[[int], None]:
    """What a command says on its first stop signal (for ``StopSignals.notifying``): what it does now, and
    that a second signal stops it at once."""

    def notice(signum: int) -> None:
        again = "Ctrl-C again" if signum == signal.SIGINT else "a signal" if signum == _SIGPIPE else "again"
        try:
            err.write(f"{prog}: {signal_words(signum)}: {doing} ({again} to stop now)\n")
            err.flush()
        except OSError:  # a terminal that closed (SIGHUP): the command stops all the same
            pass

    return notice


class StopSignals:
    """While entered (in the main thread), every stop signal raises ``Stopped``, or sets the event of ``setting``.

    ``received`` lists the signals met, first first. Elsewhere than the main thread it does nothing (Python
    lets only the main thread handle signals).
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self._raising = True
        self._event: threading.Event | None = None
        self._second_raises = False
        self._notice: Callable[[int], None] | None = None
        self._previous: dict[int, Any] = {}
        self._holding = 0
        self._waiting: int | None = None
        self.held = _Held(self)
        """``with signals.held:`` a stop signal met inside is raised on the way out, once the step is whole."""

    @property
    def first(self) -> int | None:
        """The first stop signal met, or ``None``."""
        return self.received[0] if self.received else None

    def __enter__(self) -> StopSignals:
        try:
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread
            self._restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if len(self.received) == 1 and self._notice is not None:
            self._notice(signum)
        if self._event is not None and self._second_raises and len(self.received) > 1 and self._raising:
            raise Stopped(signum)
        if self._event is not None:
            # Not event.set() here: the handler runs in the main thread, which may hold the event's lock just
            # then (inside event.wait()), and that lock is not reentrant. Another thread sets it once it is free.
            threading.Thread(target=self._event.set, name="expo-push-signal").start()
        elif self._holding:
            if self._waiting is None:
                self._waiting = signum
        elif self._raising:
            raise Stopped(signum)

    def output_closed(self, stream: IO[str]) -> None:
        """``stream``'s reader left (a ``BrokenPipeError``): drop its output, and stop as on SIGPIPE."""
        drop_output(stream)
        self._handle(_SIGPIPE, None)

    @contextmanager
    def notifying(self, notice: Callable[[int], None]) -> Iterator[None]:
        """Call ``notice(signum)`` (in the main thread) on the first stop signal met while inside."""
        self._notice = notice
        try:
            yield
        finally:
            self._notice = None

    @contextmanager
    def setting(self, event: threading.Event, *, second_raises: bool = False) -> Iterator[None]:
        """While inside, a stop signal sets ``event`` instead of raising (a server that stops at its own pace).

        ``second_raises``: a second stop signal raises ``Stopped`` (stop waiting for what is in flight).
        """
        self._event = event
        self._second_raises = second_raises
        if self.received:
            event.set()
        try:
            yield
        finally:
            self._event = None

    def shield(self) -> None:
        """From now on stop signals are only counted: what must finish (tickets printed and recorded) finishes."""
        self._raising = False


class _Held:
    """``StopSignals.held``: raises a stop signal met inside once the step is done (nests)."""

    def __init__(self, signals: StopSignals) -> None:
        self._signals = signals

    def __enter__(self) -> None:
        self._signals._holding += 1

    def __exit__(self, *exc: object) -> None:
        signals = self._signals
        signals._holding -= 1
        if not signals._holding and signals._waiting is not None:
            signum, signals._waiting = signals._waiting, None
            if signals._raising:
                raise Stopped(signum)
