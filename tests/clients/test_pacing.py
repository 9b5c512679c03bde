"""Client-side pacing against a service that enforces its rate with a token bucket."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from expo_push import TooManyRequestsError

from .conftest import tok


class Bucket:
    """The service's limit: ``rate`` notifications per second with one second of burst."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.last = time.monotonic()
        self.refused = 0
        self.lock = threading.Lock()

    def __call__(self, seen, n):
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if len(seen.tokens) > self.tokens:
                self.refused += 1
                return httpx.Response(429, json={"errors": [{"code": "TOO_MANY_REQUESTS", "message": "slow down"}]})
            self.tokens -= len(seen.tokens)
            return None


RATE = 5000


def test_a_burst_paced_to_the_limit_draws_no_429(harness, service):
    service.plan = bucket = Bucket(RATE)
    started = time.monotonic()
    tickets = harness(rate_limit=RATE).send([{"to": tok(i)} for i in range(int(RATE * 1.2))])
    elapsed = time.monotonic() - started
    assert bucket.refused == 0
    assert len(tickets) == RATE * 1.2
    # The requests really were spaced: 6,000 at 5,000 per second take at least 1.18 s.
    assert elapsed >= 1.18


def test_an_unpaced_burst_is_refused_and_nothing_is_lost(harness, service):
    # Three seconds' worth at once: refused unless the client took over two seconds to send it.
    service.plan = bucket = Bucket(1000)
    with pytest.raises(TooManyRequestsError) as info:
        harness(rate_limit=None, max_retries=0, retry_policy=None).send([{"to": tok(i)} for i in range(3000)])
    assert bucket.refused > 0
    assert info.value.tickets  # what got in before the limit is not lost
    accepted = {t.to for t in info.value.tickets}
    unsent = {t for m in info.value.unsent for t in m.recipients}
    assert accepted | unsent == {tok(i) for i in range(3000)}
