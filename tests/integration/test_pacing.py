"""Both clients pacing themselves under the emulator's rate limit."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from expo_push import RetryPolicy, TooManyRequestsError
from expo_push.emulator import Emulator

from .conftest import Driver, token

TOKENS = [token(i) for i in range(300)]


def test_a_paced_client_never_meets_the_rate_limit(expo_emulator: Emulator, connect: Callable[..., Driver]) -> None:
    expo_emulator.rate_limit = 200
    client = connect(rate_limit=200)
    started = time.monotonic()
    tickets = client.send({"to": TOKENS})
    elapsed = time.monotonic() - started
    assert all(t.ok for t in tickets)
    stats = expo_emulator.stats
    assert (stats.rate_limited, stats.notifications) == (0, 300)
    assert elapsed >= (300 - 100) / 200 * 0.95


def test_an_unpaced_client_is_refused_over_the_limit(expo_emulator: Emulator, connect: Callable[..., Driver]) -> None:
    expo_emulator.rate_limit = 100  # the second request would need a whole second of refill
    client = connect(rate_limit=None, max_concurrency=1, retry_policy=RetryPolicy(max_retries=0))
    with pytest.raises(TooManyRequestsError) as failure:
        client.send({"to": TOKENS})
    assert [t.to for t in failure.value.tickets] == TOKENS[:100]
    assert [r for m in failure.value.unsent for r in m.recipients] == TOKENS[100:]
    assert expo_emulator.stats.rate_limited == 1


def test_a_429_is_waited_out_and_retried(expo_emulator: Emulator, connect: Callable[..., Driver]) -> None:
    # A burst of 100: the second request needs a whole second of refill, however slow the machine is
    # between the two (at 200/s a loaded machine could take the half second the third one needed).
    expo_emulator.rate_limit = 100
    client = connect(rate_limit=None, max_concurrency=1, retry_policy=RetryPolicy(max_retries=6, initial_delay=0.2))
    tickets = client.send({"to": TOKENS[:200]})
    assert all(t.ok for t in tickets)
    stats = expo_emulator.stats
    assert stats.rate_limited >= 1
    assert stats.notifications == 200
    assert stats.duplicates == 0
