"""What a client reports while it sends: the observer interface the clients call, and the one that does nothing
(``metrics.PrometheusMetrics`` is an observer built above the clients)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ._models import PushTicket
from ._service import RECEIPTS_PATH

__all__ = ["NO_METRICS", "NoMetrics", "SendObserver", "endpoint_of", "retry_reason"]


class SendObserver(Protocol):
    """What a client reports while it sends; every method must return at once (it runs on the send path)."""

    def request(self, endpoint: str, status: int | None, seconds: float) -> None:
        """One attempt ended: ``endpoint`` ``"send"`` or ``"receipts"``, HTTP ``status`` (``None``: no answer,
        the connection failed or timed out), ``seconds`` from sending to the end of the answer."""
        ...

    def retry(self, reason: str) -> None:
        """An attempt is to be made again: ``reason`` is ``"429"``, ``"5xx"`` or ``"connection"``."""
        ...

    def pacer_wait(self, seconds: float) -> None:
        """A request waited ``seconds`` for the pacer (its slot in the budget, or a 429 hold) before it went."""
        ...

    def tickets(self, tickets: Sequence[PushTicket]) -> None:
        """The service answered with these tickets (ok, or error with a code)."""
        ...

    def failed(self, notifications: int, code: str) -> None:
        """A request of ``notifications`` failed for good (``code``: the error's code or class): not sent."""
        ...


class NoMetrics:
    """Reports nothing: the clients' default."""

    def request(self, endpoint: str, status: int | None, seconds: float) -> None:
        """Nothing."""

    def retry(self, reason: str) -> None:
        """Nothing."""

    def pacer_wait(self, seconds: float) -> None:
        """Nothing."""

    def tickets(self, tickets: Sequence[PushTicket]) -> None:
        """Nothing."""

    def failed(self, notifications: int, code: str) -> None:
        """Nothing."""


NO_METRICS = NoMetrics()
"""The observer of a client made without ``metrics=``."""


def retry_reason(status: int | None) -> str:
    """The ``reason`` label of a retry after an attempt that ended with ``status`` (None: no answer)."""
    if status is None:
        return "connection"
    return "429" if status == 429 else "5xx" if status >= 500 else str(status)


def endpoint_of(path: str) -> str:
    """The ``endpoint`` label of a request to ``path``: ``send`` or ``receipts``."""
    return "receipts" if path.endswith(RECEIPTS_PATH) else "send"
