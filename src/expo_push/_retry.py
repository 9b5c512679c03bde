"""Retry decisions: which failures are worth another try, and how long to wait before it."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["RETRYABLE_STATUS", "RetryPolicy", "parse_retry_after"]

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses retried: timeouts, the rate limit, and server or proxy failures."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is retried.

    ``max_retries`` counts retries after the first attempt. Without a
    ``Retry-After`` from the service, the wait is exponential: ``initial_delay``
    doubling up to ``max_delay``, less a random part of up to ``jitter`` of it,
    so that clients that failed together do not retry together. A
    ``Retry-After`` is honoured up to ``max_retry_after`` seconds.
    """

    max_retries: int = 5
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValueError(f"max_retries must be a non-negative integer, not {self.max_retries!r}")

    def delay(self, attempt: int, retry_after: float | None, random_fraction: float) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or ``None`` when retries are used up.

        ``attempt`` counts the failed attempts so far minus one (0 after the
        first failure); ``random_fraction`` is a uniform sample from [0, 1).
        """
        if attempt >= self.max_retries:
            return None
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        backoff: float = min(self.initial_delay * 2.0**attempt, self.max_delay)
        return backoff * (1 - self.jitter * random_fraction)


def parse_retry_after(value: str | None, now_epoch: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP date), else ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            import email.utils  # here: only a Retry-After date needs it, and it costs a cold start

            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        return max(when.timestamp() - now_epoch, 0.0)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds
