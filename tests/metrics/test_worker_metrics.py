"""``expo-push worker --metrics-port``: Prometheus metrics scraped from a real worker process while it runs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from expo_push.emulator import Emulator
from expo_push.ledger import Ledger

NOTIFICATIONS = 300
OK = ("expo_push_notifications_total", (("error", ""), ("outcome", "ok")))
DEAD = ("expo_push_notifications_total", (("error", "DeviceNotRegistered"), ("outcome", "error")))


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the endpoint, by name and labels."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_worker_serves_its_metrics_while_it_runs(expo_emulator: Emulator, tmp_path: Path) -> None:
    dead = "ExponentPushToken[metrics-dead]"
    expo_emulator.script_token(dead, ticket_error="DeviceNotRegistered")
    ledger_path = str(tmp_path / "outbox.db")
    with Ledger.open(ledger_path) as ledger:
        ledger.enqueue([{"to": f"ExponentPushToken[metrics-{i}]", "body": "hi"} for i in range(NOTIFICATIONS - 1)])
        ledger.enqueue({"to": dead, "body": "hi"})
    command = [sys.executable, "-m", "expo_push", "worker", "--ledger", ledger_path, "--poll-interval", "0.05"]
    command += ["--metrics-port", "0", "--metrics-addr", "127.0.0.1", "--batch-size", "100"]
    worker = subprocess.Popen(
        command, env={**os.environ, "EXPO_BASE_URL": expo_emulator.url}, stderr=subprocess.PIPE, text=True
    )
    assert worker.stderr is not None
    lines: list[str] = []
    endpoint: list[str] = []
    announced = threading.Event()

    def read_stderr() -> None:
        assert worker.stderr is not None
        for line in worker.stderr:
            lines.append(line)
            found = re.search(r"metrics at (http://\S+/metrics)", line)
            if found:
                endpoint.append(found.group(1))
                announced.set()
        announced.set()

    reader = threading.Thread(target=read_stderr)
    reader.start()
    try:
        assert announced.wait(30)
        assert endpoint, "".join(lines)
        deadline = time.monotonic() + 60
        samples = scrape(endpoint[0])
        while samples.get(OK, 0) + samples.get(DEAD, 0) < NOTIFICATIONS and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the endpoint: the worker is another process
            samples = scrape(endpoint[0])
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        reader.join(30)
    assert worker.returncode == 143, "".join(lines)  # 128 + SIGTERM
    assert samples[OK] == NOTIFICATIONS - 1
    assert samples[DEAD] == 1
    assert samples[("expo_push_dead_tokens_total", ())] == 1
    assert samples[("expo_push_requests_total", (("endpoint", "send"), ("status", "200")))] >= 3
    assert samples[("expo_push_request_seconds_count", (("endpoint", "send"),))] >= 3
    assert samples[("expo_push_pacer_wait_seconds_count", ())] >= 3
    assert samples.get(("expo_push_rate_limited_total", ()), 0) == 0
    assert samples[("expo_push_outbox_backlog", ())] == 0
