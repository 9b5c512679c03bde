"""One measured run: reset the emulator, start a driver, wait for it, and gather every figure of the run."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from bench.clients import Client
from bench.emulator import EmulatorProcess
from bench.workloads import Workload

__all__ = ["Measurement", "run_once"]

DRIVER_TIMEOUT = 900.0
"""Seconds after which a driver is killed and its run recorded as failed."""


@dataclass
class Measurement:
    """The figures of one run of one client on one workload."""

    client: str
    wall: float
    """Seconds the driver spent sending (from the first request to the last ticket)."""
    process_wall: float
    """Seconds from starting the driver process to its exit."""
    cpu: float
    """User and system CPU seconds of the driver spent sending (its setup subtracted)."""
    rss_mb: float
    """Peak resident memory of the driver process, MiB."""
    requests: int
    bytes: int
    rate_limited: int
    faulted: int
    """Requests the emulator's faults applied to."""
    dropped: int
    """Connections the emulator closed without an answer (by a fault)."""
    delivered: int
    """Distinct notifications the emulator accepted."""
    lost: int
    """Notifications never accepted that the client did not report as unsent."""
    duplicated: int
    unsent_reported: int
    unsent_known: bool
    tickets: int
    errors: int
    first_error: str
    emulator_cpu: float
    exit_code: int


def run_once(emulator: EmulatorProcess, client: Client, workload: Workload) -> Measurement:
    """Run ``client`` on ``workload`` against a freshly reset emulator and measure it."""
    emulator.reset(latency_ms=workload.latency_ms, rate_limit=workload.rate_limit)
    if workload.faults:
        emulator.add_faults(list(workload.faults))
    with tempfile.TemporaryDirectory(prefix="expo-push-bench-") as folder:
        unsent_path = os.path.join(folder, "unsent.txt")
        env = {**os.environ, **client.env(), "EXPO_BASE_URL": emulator.url, "BENCH_UNSENT_FILE": unsent_path}
        with open(os.path.join(folder, "out"), "w+b") as out, open(os.path.join(folder, "err"), "w+b") as err:
            emulator_cpu = emulator.cpu_seconds()
            started = time.perf_counter()
            process = subprocess.Popen(client.command(workload), stdout=out, stderr=err, env=env)
            exit_code, usage = _wait(process)
            process_wall = time.perf_counter() - started
            emulator_cpu = emulator.cpu_seconds() - emulator_cpu
            out.seek(0)
            err.seek(0)
            result = _result(out.read().decode(errors="replace"), err.read().decode(errors="replace"), exit_code)
        unsent = _read_lines(unsent_path)
    stats = emulator.stats()
    delivered = stats["notifications"] - stats["duplicates"]
    not_delivered = workload.notifications - delivered
    reported_and_missing = len(unsent) - _count_delivered(emulator, unsent) if not_delivered and unsent else 0
    return Measurement(
        client=client.key,
        wall=float(result.get("seconds", process_wall)),
        process_wall=process_wall,
        cpu=max(0.0, usage.ru_utime + usage.ru_stime - float(result.get("setup_cpu", 0.0))),
        rss_mb=usage.ru_maxrss / 1024,
        requests=stats["send_requests"],
        bytes=stats["bytes_received"],
        rate_limited=stats["rate_limited"],
        faulted=stats["faults"],
        dropped=stats["dropped"],
        delivered=delivered,
        lost=not_delivered - reported_and_missing,
        duplicated=stats["duplicates"],
        unsent_reported=len(unsent),
        unsent_known=bool(result.get("unsent_known", False)),
        tickets=int(result.get("tickets", 0)),
        errors=int(result.get("errors", 0)),
        first_error=(result.get("first_errors") or [""])[0],
        emulator_cpu=emulator_cpu,
        exit_code=exit_code,
    )


def as_dict(measurement: Measurement) -> dict[str, Any]:
    """The measurement as a JSON-ready dict."""
    return asdict(measurement)


def _wait(process: subprocess.Popen[bytes]) -> tuple[int, Any]:
    """Wait for the driver, killing it after ``DRIVER_TIMEOUT``; return its exit code and resource usage."""
    timer = threading.Timer(DRIVER_TIMEOUT, process.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except BaseException:  # interrupted: leave no driver behind
        process.kill()
        os.wait4(process.pid, 0)
        raise
    finally:
        timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage


def _result(stdout: str, stderr: str, exit_code: int) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    tail = stderr.strip().splitlines()[-1:] or [f"exit code {exit_code}"]
    return {"errors": 1, "first_errors": [f"the driver printed no result: {tail[0][:300]}"], "unsent_known": False}


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as file:
            return [line.strip() for line in file if line.strip()]
    except FileNotFoundError:
        return []


def _count_delivered(emulator: EmulatorProcess, tokens: list[str]) -> int:
    """How many of ``tokens`` reached the emulator's inboxes, asked over a few kept-alive connections."""
    address = urllib.parse.urlsplit(emulator.url)
    local = threading.local()

    def delivered(token: str) -> bool:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(address.netloc, timeout=60)
        connection.request("GET", "/--/emulator/inbox/" + urllib.parse.quote(token, safe=""))
        return bool(json.loads(connection.getresponse().read())["data"])

    with ThreadPoolExecutor(4) as pool:
        return sum(pool.map(delivered, tokens, chunksize=256))
