import pytest

from expo_push import RetryPolicy
from expo_push._pacing import Schedule
from expo_push._retry import parse_retry_after


def test_backoff_doubles_from_half_a_second_up_to_eight():
    policy = RetryPolicy(max_retries=10, jitter=0)
    assert [policy.delay(n, None, 0.0) for n in range(6)] == [0.5, 1, 2, 4, 8, 8]


def test_jitter_only_shortens_the_wait_by_at_most_its_fraction():
    policy = RetryPolicy(jitter=0.25)
    assert policy.delay(1, None, 0.999) == pytest.approx(1 * (1 - 0.25 * 0.999))
    assert policy.delay(1, None, 0.0) == 1


def test_retries_stop_after_max_retries():
    policy = RetryPolicy(max_retries=2)
    assert policy.delay(1, None, 0) is not None
    assert policy.delay(2, None, 0) is None
    assert RetryPolicy(max_retries=0).delay(0, 5.0, 0) is None


def test_retry_after_is_honoured_and_capped():
    policy = RetryPolicy(max_retry_after=30)
    assert policy.delay(0, 7.0, 0.5) == 7.0
    assert policy.delay(0, 500.0, 0.5) == 30


def test_parse_retry_after_seconds_and_http_dates():
    assert parse_retry_after("2", 0) == 2
    assert parse_retry_after("1.5", 0) == 1.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480.0) == 10
    assert parse_retry_after("soon", 0) is None
    assert parse_retry_after("-3", 0) is None
    assert parse_retry_after(None, 0) is None


def test_negative_max_retries_is_refused():
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)


def test_pacer_spaces_requests_at_the_rate():
    pacer = Schedule(600)
    waits = [pacer.reserve(100, now=0.0) for _ in range(6)]
    assert waits == pytest.approx([0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6])


def test_pacer_never_exceeds_rate_plus_one_request_in_any_second():
    pacer = Schedule(600)
    starts = []
    now = 0.0
    for n in [100, 37, 100, 1, 100, 64, 100, 100, 100, 100, 100, 100, 100]:
        now += pacer.reserve(n, now)
        starts.append((now, n))
    for t0, _ in starts:
        in_window = sum(n for t, n in starts if t0 <= t < t0 + 1)
        assert in_window <= 600 + 100


def test_pacer_lets_an_idle_sender_start_at_once():
    pacer = Schedule(600)
    pacer.reserve(100, now=0.0)
    assert pacer.reserve(100, now=10.0) == 0


def test_hold_delays_every_later_request_even_without_a_rate():
    pacer = Schedule(None)
    assert pacer.reserve(100, 0.0) == 0
    pacer.hold(5.0)
    assert pacer.reserve(100, 1.0) == 4.0


def test_pacer_refuses_a_nonpositive_rate():
    with pytest.raises(ValueError, match="rate_limit"):
        Schedule(0)


def test_refund_gives_back_a_refused_requests_slot_but_not_the_past():
    pacer = Schedule(100)
    pacer.reserve(100, now=0.0)  # occupies [0, 1)
    pacer.refund(100, now=0.2)
    assert pacer.reserve(100, now=0.2) == 0
    pacer.refund(500, now=0.3)
    assert pacer.reserve(10, now=0.3) == 0
