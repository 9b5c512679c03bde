"""What the ledger's helpers (recording, receipts, the outbox worker) are given, explicitly: the store, the two
clocks, the settings as the application set them; they import nothing from the ``Ledger`` facade."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ._models import DeadToken
from ._store import Store

__all__ = ["Clocks", "Parts", "Settings"]


class Settings(Protocol):
    """The ledger's settings, read as they are at each use (the application may change them)."""

    receipt_delay: float
    receipt_retention: float
    recheck_interval: float
    skip_dead_tokens: bool
    on_dead_token: Callable[[DeadToken], None] | None
    on_config_error: Callable[[str, str | None], None] | None
    max_rate_retries: int
    rate_retry_delay: float
    lease: float


@dataclass(frozen=True)
class Clocks:
    """The wall clock (dates: sent, due, died, enqueued) and the schedule clock (monotonic: "not before" times,
    leases; the shared pacer keeps its own reading); see docs/ledger.md, "Clocks"."""

    wall: Callable[[], float]
    schedule: Callable[[], float]


@dataclass(frozen=True)
class Parts:
    """A ledger's parts, as its helpers get them."""

    store: Store
    settings: Settings
    clocks: Clocks
