"""The workload every Python driver sends, and the one JSON line each prints (standard library only).

Drivers run in their own virtual environments (the peers' ones have no
expo-push), so this module uses nothing but the standard library. The Node
driver builds the same messages (``node_driver.mjs``); keep the two in step.

A driver is started as ``python <driver> '<workload JSON>'``; the workload has
``notifications`` (recipients in all), ``per_message`` (1, or a list ``to`` of
that many), ``run`` (a tag that makes every token unique) and ``paced`` (the
emulator enforces the service's 600/s limit). It prints one JSON line (see
``report``) and, when ``BENCH_UNSENT_FILE`` is set, writes there the tokens it
knows were not accepted, one per line.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["Outcome", "load", "message_dicts", "report", "token"]


def load() -> dict[str, Any]:
    """The workload given on the command line."""
    workload: dict[str, Any] = json.loads(sys.argv[1])
    return workload


def token(run: str, index: int) -> str:
    """The push token of notification ``index`` of a run: unique, so inboxes tell who got what."""
    return f"ExponentPushToken[{run}-{index:07d}]"


def message_dicts(workload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The workload's messages as camelCase dicts, lazily, in order."""
    run = workload["run"]
    total = workload["notifications"]
    per_message = workload["per_message"]
    for number, start in enumerate(range(0, total, per_message)):
        if per_message == 1:
            to: str | list[str] = token(run, start)
        else:
            to = [token(run, i) for i in range(start, min(start + per_message, total))]
        yield {"to": to, "title": "Benchmark", "body": f"Notification {number}", "data": {"n": number}}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Outcome:
    """What a driver learnt while sending: counted as it goes, printed once by ``report``."""

    def __init__(self, workload: dict[str, Any]) -> None:
        self.workload = workload
        self.tickets = 0
        self.ok = 0
        self.errors: list[str] = []
        self.unsent: list[str] = []
        self.unsent_known = True
        self.setup_cpu = 0.0
        self._started = 0.0
        self.seconds = 0.0

    def start(self) -> None:
        """Mark the start of sending: CPU spent so far (interpreter, imports, building messages) is not counted."""
        self.setup_cpu = _cpu_seconds()
        self._started = time.perf_counter()

    def stop(self) -> None:
        """Mark the end of sending."""
        self.seconds = time.perf_counter() - self._started

    def ticket(self, ok: bool) -> None:
        """Count one ticket."""
        self.tickets += 1
        self.ok += ok

    def error(self, exc: BaseException, unsent: list[str] | None) -> None:
        """Record a failure; ``unsent`` is the tokens the client says were not accepted, ``None`` if it cannot tell."""
        self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        if unsent is None:
            self.unsent_known = False
        else:
            self.unsent.extend(unsent)


def report(outcome: Outcome) -> None:
    """Print the driver's one JSON line and write the unsent tokens where asked."""
    path = os.environ.get("BENCH_UNSENT_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as file:
            file.writelines(f"{unsent}\n" for unsent in outcome.unsent)
    line = {
        "notifications": outcome.workload["notifications"],
        "tickets": outcome.tickets,
        "ok": outcome.ok,
        "errors": len(outcome.errors),
        "first_errors": outcome.errors[:3],
        "unsent": len(outcome.unsent),
        "unsent_known": outcome.unsent_known,
        "seconds": outcome.seconds,
        "setup_cpu": outcome.setup_cpu,
    }
    print(json.dumps(line), flush=True)
