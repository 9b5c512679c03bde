"""What the sync and async clients tell their metrics observer: attempts, retries by reason, pacer waits, tickets."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from expo_push import AsyncPushClient, PushClient, PushServerError, RetryPolicy
from expo_push.emulator import Emulator
from expo_push.metrics import PrometheusMetrics

FAST = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.02, max_retry_after=0.05)
DEAD = "ExponentPushToken[client-metrics-dead]"


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def _messages(count: int) -> list[dict[str, str]]:
    return [{"to": f"ExponentPushToken[client-metrics-{i}]", "body": "hi"} for i in range(count - 1)] + [
        {"to": DEAD, "body": "hi"}
    ]


def _script(emulator: Emulator) -> None:
    emulator.rate_limit = None
    emulator.script_token(DEAD, ticket_error="DeviceNotRegistered")
    emulator.add_fault("rate_limit", count=1, retry_after=0.01)
    emulator.add_fault("server_error", count=1, status=503)


def _check(registry: CollectorRegistry) -> None:
    assert value(registry, "expo_push_notifications_total", outcome="ok", error="") == 199
    assert value(registry, "expo_push_notifications_total", outcome="error", error="DeviceNotRegistered") == 1
    assert value(registry, "expo_push_dead_tokens_total") == 1
    assert value(registry, "expo_push_requests_total", endpoint="send", status="200") == 2
    assert value(registry, "expo_push_requests_total", endpoint="send", status="429") == 1
    assert value(registry, "expo_push_requests_total", endpoint="send", status="503") == 1
    assert value(registry, "expo_push_rate_limited_total") == 1
    assert value(registry, "expo_push_retries_total", reason="429") == 1
    assert value(registry, "expo_push_retries_total", reason="5xx") == 1
    assert value(registry, "expo_push_request_seconds_count", endpoint="send") == 4
    assert value(registry, "expo_push_pacer_wait_seconds_count") == 4  # each attempt booked its slot


def test_the_sync_client_reports_attempts_retries_waits_and_tickets(expo_emulator: Emulator) -> None:
    _script(expo_emulator)
    registry = CollectorRegistry()
    with PushClient(
        base_url=expo_emulator.url, http2=False, max_concurrency=1, retry_policy=FAST,
        metrics=PrometheusMetrics(registry),
    ) as client:  # fmt: skip
        client.send(_messages(200))
    _check(registry)


async def test_the_async_client_reports_attempts_retries_waits_and_tickets(expo_emulator: Emulator) -> None:
    _script(expo_emulator)
    registry = CollectorRegistry()
    async with AsyncPushClient(
        base_url=expo_emulator.url, http2=False, max_concurrency=1, retry_policy=FAST,
        metrics=PrometheusMetrics(registry),
    ) as client:  # fmt: skip
        await client.send(_messages(200))
    _check(registry)


def test_a_request_that_fails_for_good_counts_its_notifications_failed(expo_emulator: Emulator) -> None:
    expo_emulator.rate_limit = None
    expo_emulator.add_fault("server_error", count=None, status=503)
    registry = CollectorRegistry()
    with PushClient(
        base_url=expo_emulator.url, http2=False, retry_policy=FAST, metrics=PrometheusMetrics(registry)
    ) as client, pytest.raises(PushServerError) as raised:
        client.send(_messages(100))
    assert raised.value.code == "SERVICE_UNAVAILABLE"
    assert value(registry, "expo_push_notifications_total", outcome="failed", error="SERVICE_UNAVAILABLE") == 100
    assert value(registry, "expo_push_requests_total", endpoint="send", status="503") == 3
    assert value(registry, "expo_push_retries_total", reason="5xx") == 2


def test_receipts_requests_are_counted_apart(expo_emulator: Emulator) -> None:
    registry = CollectorRegistry()
    with PushClient(base_url=expo_emulator.url, http2=False, metrics=PrometheusMetrics(registry)) as client:
        client.get_receipts(["no-such-ticket"])
    assert value(registry, "expo_push_requests_total", endpoint="receipts", status="200") == 1
    assert value(registry, "expo_push_pacer_wait_seconds_count") == 0  # a receipts request books no slot


def test_with_options_keeps_the_observer(expo_emulator: Emulator) -> None:
    registry = CollectorRegistry()
    with PushClient(base_url=expo_emulator.url, http2=False, metrics=PrometheusMetrics(registry)) as client:
        client.with_options(max_retries=0).send({"to": "ExponentPushToken[client-metrics-copy]", "body": "hi"})
    assert value(registry, "expo_push_notifications_total", outcome="ok", error="") == 1
