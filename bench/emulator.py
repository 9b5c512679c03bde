"""The emulator as a child process (``python -m expo_push.emulator``), driven over its control routes.

It runs in a process of its own so that it never shares the client's GIL or
CPU accounting; its own CPU seconds are read from ``/proc`` so a run can tell
whether the emulator, not the client, was the bottleneck.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from typing import Any

__all__ = ["EmulatorProcess"]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class EmulatorProcess:
    """A running emulator: ``url``, ``reset``, ``add_faults``, ``stats``, ``cpu_seconds``, ``memory_bytes``."""

    def __init__(self, *options: str) -> None:
        command = [sys.executable, "-m", "expo_push.emulator", "--port", "0", "--rate-limit", "none", *options]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("Expo Push emulator listening on http://"):
            self.stop()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.url = line.rsplit(" ", 1)[-1].strip()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the emulator (SIGTERM) and wait for it."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()

    def _call(self, method: str, route: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/--/emulator/{route}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def reset(self, *, latency_ms: float = 0.0, rate_limit: float | None = None) -> None:
        """Forget everything, then set the latency added to each request and the rate limit (``None``: off)."""
        self._call("POST", "reset", {})
        self._call("POST", "config", {"latency": latency_ms / 1000.0, "rate_limit": rate_limit})

    def add_faults(self, faults: list[dict[str, Any]]) -> None:
        """Queue faults (``expo_push.emulator.Fault`` fields as JSON)."""
        self._call("POST", "faults", faults)

    def set_project(self, tokens: list[str], project: str) -> None:
        """Say that ``tokens`` belong to ``project`` (the others are in the emulator's default project)."""
        self._call("POST", "project", {"tokens": tokens, "project": project})

    def stats(self) -> dict[str, int]:
        """The emulator's counters since the last reset."""
        stats: dict[str, int] = self._call("GET", "stats")
        return stats

    def cpu_seconds(self) -> float:
        """User and system CPU seconds the emulator process has used so far."""
        with open(f"/proc/{self._process.pid}/stat", encoding="ascii") as file:
            fields = file.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def memory_bytes(self) -> int:
        """The emulator process's resident memory now (VmRSS)."""
        with open(f"/proc/{self._process.pid}/status", encoding="ascii") as file:
            for line in file:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in /proc: not Linux?")
