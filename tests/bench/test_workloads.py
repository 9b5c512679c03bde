"""The benchmark's workload definitions: fault shares, and sizes of the smoke run."""

from __future__ import annotations

import math

import pytest
from bench.workloads import FAULT_SHARE, faults_plan, workloads


def test_faults_plan_faults_the_stated_share_of_requests_in_equal_parts() -> None:
    plan = faults_plan()
    left = 1.0
    shares = []
    for fault in plan:  # the emulator tries faults in order: each draws from what the earlier ones left
        shares.append(left * fault["probability"])
        left -= shares[-1]
    assert 1 - left == pytest.approx(FAULT_SHARE)
    assert shares == pytest.approx([FAULT_SHARE / len(plan)] * len(plan))
    assert {fault["kind"] for fault in plan} == {"server_error", "rate_limit", "drop"}
    assert [fault.get("accept", False) for fault in plan if fault["kind"] == "drop"] == [False, True]


def test_smoke_workloads_stay_small_and_full_ones_are_the_issue_sizes() -> None:
    smoke = workloads("smoke")
    assert max(w.notifications for w in smoke) <= 20_000
    assert math.fsum(w.notifications / w.rate_limit for w in smoke if w.rate_limit) <= 5
    full = {(w.group, w.notifications, w.per_message, w.latency_ms) for w in workloads("full")}
    for count in (10_000, 100_000):
        for per_message in (1, 100):
            for latency in (0.0, 20.0):
                assert ("throughput", count, per_message, latency) in full
    assert ("limit", 30_000, 1, 0.0) in full
    assert ("faults", 20_000, 1, 0.0) in full
    assert ("scale", 1_000_000, 1, 0.0) in full
