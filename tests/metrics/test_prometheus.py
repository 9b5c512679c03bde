"""Prometheus metrics: what the observer counts, the outbox gauges, and that the core never needs prometheus_client."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

from prometheus_client import CollectorRegistry

from expo_push import PushTicket
from expo_push.ledger import DeadToken, Ledger, ReceiptCheck
from expo_push.metrics import NO_METRICS, PrometheusMetrics, retry_reason


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_importing_expo_push_does_not_import_prometheus_client() -> None:
    code = "import sys, expo_push, expo_push.ledger, expo_push.metrics; print('prometheus_client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_default_observer_accepts_every_report_and_does_nothing() -> None:
    NO_METRICS.request("send", 200, 0.1)
    NO_METRICS.retry("429")
    NO_METRICS.pacer_wait(0.5)
    NO_METRICS.tickets([PushTicket(status="ok", id="x")])
    NO_METRICS.failed(3, "PushServerError")
    assert repr(NO_METRICS).startswith("<expo_push.metrics.NoMetrics")


def test_requests_retries_and_429s_are_counted_by_endpoint_and_status() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    metrics.request("send", 200, 0.05)
    metrics.request("send", 429, 0.01)
    metrics.request("send", None, 30.0)
    metrics.request("receipts", 200, 0.2)
    metrics.retry(retry_reason(429))
    metrics.retry(retry_reason(None))
    metrics.retry(retry_reason(503))
    metrics.pacer_wait(0.16)
    assert value(registry, "expo_push_requests_total", endpoint="send", status="200") == 1
    assert value(registry, "expo_push_requests_total", endpoint="send", status="429") == 1
    assert value(registry, "expo_push_requests_total", endpoint="send", status="none") == 1
    assert value(registry, "expo_push_requests_total", endpoint="receipts", status="200") == 1
    assert value(registry, "expo_push_rate_limited_total") == 1
    assert value(registry, "expo_push_retries_total", reason="429") == 1
    assert value(registry, "expo_push_retries_total", reason="connection") == 1
    assert value(registry, "expo_push_retries_total", reason="5xx") == 1
    assert value(registry, "expo_push_request_seconds_count", endpoint="send") == 3
    assert value(registry, "expo_push_request_seconds_bucket", endpoint="send", le="0.05") == 2
    assert value(registry, "expo_push_pacer_wait_seconds_sum") == 0.16


def test_notifications_are_counted_by_outcome_and_error_code_and_dead_tokens_found() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    dead = PushTicket(status="error", message="gone", details={"error": "DeviceNotRegistered"})
    too_big = PushTicket(status="error", message="big", details={"error": "MessageTooBig"})
    metrics.tickets([PushTicket(status="ok", id="a"), PushTicket(status="ok", id="b"), dead, too_big, dead])
    metrics.failed(100, "PushServerError")
    assert value(registry, "expo_push_notifications_total", outcome="ok", error="") == 2
    assert value(registry, "expo_push_notifications_total", outcome="error", error="DeviceNotRegistered") == 2
    assert value(registry, "expo_push_notifications_total", outcome="error", error="MessageTooBig") == 1
    assert value(registry, "expo_push_notifications_total", outcome="failed", error="PushServerError") == 100
    assert value(registry, "expo_push_dead_tokens_total") == 2


def test_receipts_are_counted_by_outcome_with_the_dead_tokens_they_found() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    check = ReceiptCheck(
        checked=10,
        ok=6,
        errors={"DeviceNotRegistered": 1, "MessageRateExceeded": 1},
        waiting=1,
        missing=1,
        dead_tokens=[DeadToken("ExponentPushToken[x]", 1.0, "DeviceNotRegistered")],
    )
    assert metrics.receipts(check) is check
    assert value(registry, "expo_push_receipts_total", outcome="ok", error="") == 6
    assert value(registry, "expo_push_receipts_total", outcome="error", error="DeviceNotRegistered") == 1
    assert value(registry, "expo_push_receipts_total", outcome="error", error="MessageRateExceeded") == 1
    assert value(registry, "expo_push_receipts_total", outcome="waiting", error="") == 1
    assert value(registry, "expo_push_receipts_total", outcome="missing", error="") == 1
    assert value(registry, "expo_push_dead_tokens_total") == 1


def test_the_outbox_backlog_is_read_from_the_ledger_at_each_scrape(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    with Ledger.open(tmp_path / "push.db", clock=lambda: now[0], lease_clock=lambda: now[0]) as ledger:
        registry = CollectorRegistry()
        metrics = PrometheusMetrics(registry)
        metrics.watch_ledger(ledger)
        assert value(registry, "expo_push_outbox_backlog") == 0
        assert value(registry, "expo_push_outbox_oldest_pending_seconds") == 0
        ledger.enqueue({"to": ["ExponentPushToken[a]", "ExponentPushToken[b]"], "body": "hi"})
        now[0] += 90
        ledger.enqueue({"to": "ExponentPushToken[c]", "body": "hi"})
        now[0] += 10
        assert value(registry, "expo_push_outbox_backlog") == 3
        assert value(registry, "expo_push_outbox_oldest_pending_seconds") == 100
        assert value(registry, "expo_push_outbox_sending") == 0


def test_serve_exposes_the_registry_over_http() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry, namespace="shop")
    metrics.request("send", 200, 0.1)
    server = metrics.serve(0, addr="127.0.0.1")
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
    assert 'shop_requests_total{endpoint="send",status="200"} 1.0' in text


def test_an_answers_own_text_never_becomes_a_label_value() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    hostile = [
        PushTicket(status="error", message="x", details={"error": f"ExponentPushToken[victim-{i}] is bad"})
        for i in range(300)
    ]
    metrics.tickets(hostile)
    metrics.failed(5, "Tomorrow, maybe")
    metrics.receipts(ReceiptCheck(errors={"ExponentPushToken[victim-1]": 1, "MessageRateExceeded": 2}))
    notifications = {
        tuple(sorted(sample.labels.items()))
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "expo_push_notifications_total"
    }
    assert notifications == {(("error", "other"), ("outcome", "error")), (("error", "other"), ("outcome", "failed"))}
    assert value(registry, "expo_push_notifications_total", outcome="error", error="other") == 300
    assert value(registry, "expo_push_receipts_total", outcome="error", error="other") == 1
    assert value(registry, "expo_push_receipts_total", outcome="error", error="MessageRateExceeded") == 2
