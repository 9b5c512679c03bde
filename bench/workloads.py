"""The workloads: what is sent, through which emulator settings, and in which sizes for full, quick and smoke runs."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAULT_SHARE", "Workload", "faults_plan", "workloads"]

FAULT_SHARE = 0.10
"""Share of send requests the faults workload answers badly."""


@dataclass(frozen=True)
class Workload:
    """One workload: ``notifications`` recipients in messages of ``per_message`` recipients."""

    group: str
    """``throughput``, ``limit``, ``faults`` or ``scale``."""
    notifications: int
    per_message: int = 1
    latency_ms: float = 0.0
    rate_limit: float | None = None
    faults: tuple[dict[str, Any], ...] = ()
    stream: bool = False
    """Sent from a generator through the streaming API (``iter_send``)."""
    repeats: int = 1
    run: str = field(default="w", compare=False)

    @property
    def title(self) -> str:
        """A short description for the tables."""
        shape = "1 recipient per message" if self.per_message == 1 else f"`to` lists of {self.per_message}"
        text = f"{self.notifications:,} notifications, {shape}"
        if self.group == "throughput":
            text += f", {self.latency_ms:g} ms latency"
        if self.rate_limit is not None:
            text += f", emulator limit {self.rate_limit:g}/s"
        if self.faults:
            text += f", {FAULT_SHARE:.0%} of requests faulted"
        if self.stream:
            text += ", from a generator"
        return text

    def driver_json(self) -> str:
        """The workload as the drivers read it."""
        return json.dumps(
            {
                "notifications": self.notifications,
                "per_message": self.per_message,
                "run": self.run,
                "paced": self.rate_limit is not None,
            }
        )

    def tagged(self, run: str) -> Workload:
        """The same workload with tokens tagged ``run`` (unique per run)."""
        return Workload(
            self.group,
            self.notifications,
            self.per_message,
            self.latency_ms,
            self.rate_limit,
            self.faults,
            self.stream,
            self.repeats,
            run,
        )


def faults_plan(seed: int = 7) -> tuple[dict[str, Any], ...]:
    """Faults for ``FAULT_SHARE`` of send requests, in four equal parts drawn with fixed seeds.

    503s and 429s with ``Retry-After: 1`` accept nothing; a connection dropped
    before handling accepts nothing; one dropped after handling accepted its
    notifications, so a client that retries it duplicates them (unavoidably: it
    cannot know), and one that does not retry has them delivered but unreported.
    The emulator tries faults in order, so each one's probability is of the
    requests the earlier ones left.
    """
    kinds: list[dict[str, Any]] = [
        {"kind": "server_error", "status": 503},
        {"kind": "rate_limit", "retry_after": 1},
        {"kind": "drop"},
        {"kind": "drop", "accept": True},
    ]
    part = FAULT_SHARE / len(kinds)
    plan = []
    for position, spec in enumerate(kinds):
        probability = part / (1 - part * position)
        plan.append({**spec, "count": None, "probability": probability, "seed": seed + position})
    return tuple(plan)


def workloads(size: str) -> list[Workload]:
    """The workloads of a ``full``, ``quick`` or ``smoke`` run."""
    if size == "smoke":
        return [
            Workload("throughput", 2_000, 1, repeats=1),
            Workload("throughput", 2_000, 100, latency_ms=20, repeats=1),
            Workload("limit", 1_200, rate_limit=600),
            Workload("faults", 2_000, faults=faults_plan()),
            Workload("scale", 20_000, stream=True),
        ]
    counts: tuple[int, ...]
    if size == "quick":
        counts, repeats = (10_000,), 3
        limit, faulted, scale = 6_000, 5_000, 100_000
    else:
        counts, repeats = (10_000, 100_000), 3
        limit, faulted, scale = 30_000, 20_000, 1_000_000
    throughput = [
        Workload("throughput", count, per_message, latency_ms=latency, repeats=repeats)
        for count, per_message, latency in itertools.product(counts, (1, 100), (0.0, 20.0))
    ]
    # issue 20's wall target: 20,000 single-recipient notifications at 20 ms, no slower than the Node SDK
    throughput.append(Workload("throughput", 20_000, 1, latency_ms=20.0, repeats=repeats))
    return [
        *throughput,
        Workload("limit", limit, rate_limit=600),
        Workload("faults", faulted, faults=faults_plan()),
        Workload("scale", scale, stream=True, repeats=repeats),
    ]
