"""Faults: which upcoming requests the emulator answers badly, and how.

A ``Fault`` applies to the next ``count`` requests of its ``target`` (or to a
``probability`` share of them, drawn from a generator seeded with ``seed``),
after letting ``after`` of them through. Faults are tried in the order they
were added; the first that applies wins; a fault whose count is used up is removed.

A ``probability`` fault draws once per matching request, in the order the
requests arrive: the same ``seed`` gives the same sequence of decisions
(e.g. pass, pass, fail, pass, ...) every run, and so the same requests fail
when they come one at a time. With several requests in flight at once their
arrival order changes from run to run, so the same seed may hit different
requests (different tokens or chunks); only the share and the sequence repeat.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

__all__ = ["Fault", "FaultKind", "FaultPlan", "FaultTarget"]

FaultKind = Literal["rate_limit", "server_error", "drop", "stall", "invalid_json", "wrong_ticket_count"]
FaultTarget = Literal["send", "receipts", "any"]

_KINDS: tuple[str, ...] = get_args(FaultKind)
_TARGETS: tuple[str, ...] = get_args(FaultTarget)
_SERVER_ERROR_STATUSES = (500, 502, 503, 504)


@dataclass
class Fault:
    """One way to answer upcoming requests badly.

    ``kind`` is one of:

    - ``"rate_limit"``: 429 ``TOO_MANY_REQUESTS``, with ``Retry-After: <retry_after>`` when set;
    - ``"server_error"``: ``status`` 500 (default), 502, 503 or 504, with a JSON
      ``errors`` body, or an HTML page when ``html`` is true (as a proxy answers),
      and ``Retry-After: <retry_after>`` when set;
    - ``"drop"``: the connection is closed without any HTTP answer;
    - ``"stall"``: the answer is held for ``seconds`` (``None``: until
      ``release_stalls()``), then the request is handled normally; other
      requests are served meanwhile. Stalls still held at ``reset()`` or
      ``stop()`` are dropped without accepting anything;
    - ``"invalid_json"``: 200 with a body that is not JSON;
    - ``"wrong_ticket_count"``: 200 with ``ticket_delta`` tickets more (or, negative, fewer) than notifications.

    With ``accept=True`` the request is first handled normally (its
    notifications are accepted, land in inboxes and get receipts) and only the
    answer is replaced by the fault: e.g. ``Fault("drop", accept=True)`` is a
    request that went through but whose answer was lost, so a retry duplicates
    it. ``accept`` has no effect on ``"stall"``.
    """

    kind: FaultKind
    count: int | None = 1
    """How many requests it applies to; ``None``: every matching request until cleared."""
    probability: float = 1.0
    """Share of the matching requests it applies to."""
    after: int = 0
    """How many matching requests to let through untouched before it starts applying."""
    seed: int = 0
    """Seed of the generator drawing against ``probability``, once per matching request in arrival order."""
    target: FaultTarget = "send"
    """Which requests: ``"send"``, ``"receipts"`` or ``"any"`` of the two."""
    status: int = 500
    """HTTP status of a ``"server_error"``."""
    retry_after: float | None = None
    """``Retry-After`` seconds of a ``"rate_limit"`` or ``"server_error"``; ``None`` sends no header."""
    html: bool = False
    """Whether a ``"server_error"`` answers with an HTML page instead of JSON."""
    seconds: float | None = None
    """How long a ``"stall"`` holds the answer; ``None``: until released."""
    accept: bool = False
    """Whether the request is handled (notifications accepted) before the fault replaces its answer."""
    ticket_delta: int = -1
    """Tickets added (positive) or missing (negative) in a ``"wrong_ticket_count"`` answer."""
    applied: int = field(default=0, compare=False)
    """How many requests it has applied to so far."""
    _random: random.Random = field(init=False, repr=False, compare=False)
    _passed: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {', '.join(_KINDS)}, not {self.kind!r}")
        if self.target not in _TARGETS:
            raise ValueError(f"target must be one of {', '.join(_TARGETS)}, not {self.target!r}")
        count = self.count
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise ValueError(f"count must be a positive integer or None, not {self.count!r}")
        if isinstance(self.after, bool) or not isinstance(self.after, int) or self.after < 0:
            raise ValueError(f"after must be a non-negative integer, not {self.after!r}")
        if not 0 < self.probability <= 1:
            raise ValueError(f"probability must be in (0, 1], not {self.probability!r}")
        if self.kind == "server_error" and self.status not in _SERVER_ERROR_STATUSES:
            raise ValueError(f"status of a server_error must be one of {_SERVER_ERROR_STATUSES}, not {self.status!r}")
        if self.retry_after is not None and not self.retry_after >= 0:
            raise ValueError(f"retry_after must be a non-negative number of seconds, not {self.retry_after!r}")
        if self.seconds is not None and not self.seconds >= 0:
            raise ValueError(f"seconds must be a non-negative number, not {self.seconds!r}")
        if self.kind == "wrong_ticket_count" and self.ticket_delta == 0:
            raise ValueError("ticket_delta of a wrong_ticket_count must not be 0")
        self._random = random.Random(self.seed)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Fault:
        """Build a fault from its JSON form (the same names as the constructor)."""
        if not isinstance(raw, dict) or "kind" not in raw:
            raise ValueError('a fault must be an object with at least a "kind"')
        allowed = {"kind", "count", "probability", "after", "seed", "target", "status", "retry_after", "html",
                   "seconds", "accept", "ticket_delta"}  # fmt: skip
        unknown = set(raw) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields {sorted(unknown)}; allowed: {sorted(allowed)}")
        try:
            return cls(**raw)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def as_dict(self) -> dict[str, Any]:
        """The fault as a JSON-ready dict."""
        return {
            "kind": self.kind,
            "count": self.count,
            "probability": self.probability,
            "after": self.after,
            "seed": self.seed,
            "target": self.target,
            "status": self.status,
            "retry_after": self.retry_after,
            "html": self.html,
            "seconds": self.seconds,
            "accept": self.accept,
            "ticket_delta": self.ticket_delta,
            "applied": self.applied,
        }

    def _matches(self, target: str) -> bool:
        return self.target == "any" or self.target == target


class FaultPlan:
    """The faults waiting to apply, in order; safe to use from several threads."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._on_change = on_change

    def add(self, fault: Fault) -> Fault:
        """Queue ``fault`` after those already waiting and return it."""
        with self._lock:
            self._faults.append(fault)
        if self._on_change is not None:
            self._on_change()
        return fault

    def clear(self) -> None:
        """Remove every waiting fault."""
        with self._lock:
            self._faults.clear()
        if self._on_change is not None:
            self._on_change()

    def pending(self) -> list[Fault]:
        """The faults still waiting, in order."""
        with self._lock:
            return list(self._faults)

    def pick(self, target: str) -> Fault | None:
        """The fault that applies to the request arriving now for ``target`` (``"send"``/``"receipts"``), if any."""
        if not self._faults:
            return None
        with self._lock:
            for position, fault in enumerate(self._faults):
                if not fault._matches(target):
                    continue
                if fault._passed < fault.after:
                    fault._passed += 1
                    continue
                if fault.probability < 1 and fault._random.random() >= fault.probability:
                    continue
                fault.applied += 1
                if fault.count is not None and fault.applied >= fault.count:
                    del self._faults[position]
                return fault
        return None
