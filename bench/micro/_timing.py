"""How the micro-benchmarks time a piece of work and print a figure beside its floor."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

REPEAT = 7
"""Timings of each piece of work; the best is kept. CPU time of this process, not wall time: the machine is
shared, and time spent waiting for a core is not the work's."""


def best_us(work: Callable[[], object], per: int, repeat: int = REPEAT) -> float:
    """CPU microseconds per item of the fastest of ``repeat`` runs of ``work`` (which handles ``per`` items)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()  # each run starts from the same heap; the collector runs during it as it would
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best / per * 1e6


def line(figure: float, floor: float | None, unit: str, what: str) -> str:
    """One printed line: the figure, its floor and their ratio."""
    if floor is None:
        return f"{figure:9.2f} {unit:<12} {'':>22}  {what}"
    return f"{figure:9.2f} {unit:<12} floor {floor:6.2f} ({figure / floor:4.1f}x)  {what}"
