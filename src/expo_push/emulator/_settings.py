"""The emulator's settings (what ``reset()`` returns to) and its counters (what ``stats`` shows)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ._history import DEFAULT_HISTORY

__all__ = ["Settings", "Stats"]

_MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """The tunable behaviour of the emulator; ``reset()`` returns to the values given at construction."""

    rate_limit: float | None = 600.0
    """Notifications per second per project; ``None`` turns the limit off."""
    receipt_delay: float = 0.0
    """Seconds after acceptance before a receipt can be fetched."""
    receipt_retention: float = 86400.0
    """Seconds after acceptance during which a receipt can be fetched."""
    latency: float = 0.0
    """Seconds added to every send and receipts request before it is answered."""
    access_tokens: frozenset[str] | None = field(default=None, repr=False)
    """When set, every request needs ``Authorization: Bearer <one of them>``."""
    default_project: str = "@test/app"
    """The project of every token not given one with ``set_project``."""
    registered_only: bool = False
    """When true, only tokens given to ``register`` receive: the others get ``DeviceNotRegistered`` tickets."""
    max_body_bytes: int = 4 * _MIB
    """The largest request body taken, as sent and once decompressed (GUESS: the service's own limit is unknown)."""
    history: int = DEFAULT_HISTORY
    """How many of the latest accepted notifications are kept for ``inbox``, ``messages`` and the inbox page."""

    def __post_init__(self) -> None:
        if self.rate_limit is not None and not self.rate_limit > 0:
            raise ValueError(f"rate_limit must be a positive number or None, not {self.rate_limit!r}")
        for name in ("receipt_delay", "receipt_retention", "latency"):
            value = getattr(self, name)
            if not value >= 0:
                raise ValueError(f"{name} must be a non-negative number of seconds, not {value!r}")
        if not isinstance(self.registered_only, bool):
            raise ValueError(f"registered_only must be true or false, not {self.registered_only!r}")
        if isinstance(self.max_body_bytes, bool) or not isinstance(self.max_body_bytes, int) or self.max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be a positive integer, not {self.max_body_bytes!r}")
        if isinstance(self.history, bool) or not isinstance(self.history, int) or self.history < 1:
            raise ValueError(f"history must be a positive number of notifications, not {self.history!r}")


@dataclass
class Stats:
    """Counters since the last reset; the emulator hands out snapshots (copies) of its own."""

    requests: int = 0
    """Send and receipts requests received (control requests are not counted)."""
    send_requests: int = 0
    receipt_requests: int = 0
    notifications: int = 0
    """Notifications accepted (each recipient of a list ``to`` counts once)."""
    ticket_errors: int = 0
    """Notifications answered with an error ticket (scripted, unregistered or malformed token)."""
    duplicates: int = 0
    """Accepted notifications whose token and payload equal those of one accepted before."""
    rate_limited: int = 0
    """429 answers served, by the rate limit or by a fault."""
    errors: int = 0
    """Other 4xx and 5xx answers served."""
    dropped: int = 0
    """Connections closed without an answer by a fault."""
    faults: int = 0
    """Requests a fault applied to."""
    max_in_flight: int = 0
    """The largest number of send and receipts requests being handled at once."""
    bytes_received: int = 0
    """Request body bytes received, as sent (compressed when the client compressed)."""

    def as_dict(self) -> dict[str, int]:
        """The counters as a JSON-ready dict."""
        return asdict(self)
