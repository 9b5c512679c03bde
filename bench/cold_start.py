"""Cold start: a fresh process that imports the library and sends one notification, as cron jobs, serverless
functions and the command line do; expo-push (library and ``expo-push send``) beside the peers, in one run.

Each run is a new process, started and waited for here; its wall time (start to exit) and CPU (user + system,
from ``os.wait4``) are taken whole: interpreter start-up, imports, client creation, one request to the
emulator on loopback, and exit; bytecode is cached as pip leaves it for an installed package. The clients
take turns within each repetition, so that the machine's drift falls on all alike; the figures are the median
and the fastest of the repetitions.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.clients import CACHE, DRIVERS, NODE_SDK, Client
from bench.emulator import EmulatorProcess

__all__ = ["ColdStart", "cold_start_markdown", "run_cold_start"]

COLD = DRIVERS / "cold"
COLD_SHARE = 0.8
"""Issue 20's target: a cold start costs at most this share of exponent-server-sdk's CPU."""


@dataclass
class ColdStart:
    """The runs of one client: wall and CPU seconds of each, and how many sent their notification."""

    label: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    ok: int = 0


def _commands(clients: list[Client]) -> list[tuple[str, list[str], dict[str, str]]]:
    """(label, command, extra environment) of each cold-start client among those chosen."""
    keys = {client.key for client in clients}
    python = sys.executable
    out: list[tuple[str, list[str], dict[str, str]]] = []
    if "expo-push sync" in keys:
        out.append(("expo-push (library)", [python, str(COLD / "expo_push_one.py")], {}))
        script = Path(python).with_name("expo-push")
        cli = [str(script)] if script.exists() else [python, "-m", "expo_push"]
        out.append(("expo-push send (command line)", [*cli, "send", "--title", "Cold start", "-q", "--to"], {}))
    if "exponent-server-sdk" in keys:
        peer = CACHE / "exponent-server-sdk" / "bin" / "python"
        out.append(("exponent-server-sdk 2.2.0", [str(peer), str(COLD / "exponent_one.py")], {}))
    if "expo-server-sdk (Node)" in keys:
        sdk = CACHE / "node" / "node_modules" / "expo-server-sdk" / "build" / "ExpoClient.js"
        label = f"expo-server-sdk {NODE_SDK.split('@')[1]} (Node)"
        out.append((label, ["node", str(COLD / "node_one.mjs")], {"BENCH_NODE_SDK": str(sdk)}))
    return out


def run_cold_start(
    emulator: EmulatorProcess, clients: list[Client], repeats: int, progress: Callable[[str], None]
) -> list[ColdStart]:
    """Run every client ``repeats`` times, taking turns; return their figures."""
    commands = _commands(clients)
    results = {label: ColdStart(label) for label, _, _ in commands}
    emulator.reset()
    # Bytecode is written (and then used) as for any installed package: a PYTHONDONTWRITEBYTECODE inherited
    # here would make an editable checkout compile its modules on every run, and the peers, installed by pip
    # with their bytecode, would not.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EXPO_", "BENCH_", "PYTHONDONTWRITEBYTECODE"))}
    for repeat in range(repeats + 1):  # the first round writes bytecode and warms the disk cache: not counted
        if repeat % 10 == 0:
            progress(f"cold start: round {repeat} of {repeats}")
        for number, (label, command, extra) in enumerate(commands):
            token = f"ExponentPushToken[cold-{repeat}-{number}]"
            env = {**base, **extra, "EXPO_BASE_URL": emulator.url, "BENCH_TOKEN": token}
            argv = [*command, token] if command[-1] == "--to" else command
            started = time.perf_counter()
            process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
            if repeat == 0:
                continue
            result = results[label]
            result.wall.append(wall)
            result.cpu.append(usage.ru_utime + usage.ru_stime)
            result.ok += process.returncode == 0
    return list(results.values())


def cold_start_markdown(runs: list[ColdStart], repeats: int) -> str:
    """The cold-start table."""
    lines = [
        "## Cold start: import and send one notification",
        "",
        f"A new process per run: interpreter start, imports, client, one notification to the emulator, exit. "
        f"{repeats} runs per client, the clients taking turns; wall and CPU (user + system) of the whole process.",
        "",
        "| client | wall, median | wall, fastest | CPU, median | sent |",
        "|---|---:|---:|---:|---:|",
    ]
    for run in runs:
        if not run.wall:
            continue
        lines.append(
            f"| {run.label} | {statistics.median(run.wall) * 1000:.0f} ms | {min(run.wall) * 1000:.0f} ms "
            f"| {statistics.median(run.cpu) * 1000:.0f} ms | {run.ok}/{len(run.wall)} |"
        )
    by_label = {run.label: run for run in runs if run.wall}
    peer = by_label.get("exponent-server-sdk 2.2.0")
    if peer is not None:
        lines.append("")
        for label in ("expo-push (library)", "expo-push send (command line)"):
            if label in by_label:
                ours, theirs = statistics.median(by_label[label].cpu), statistics.median(peer.cpu)
                share = ours / theirs
                verdict = "met" if share <= COLD_SHARE else f"not met ({share / COLD_SHARE - 1:.0%} over)"
                lines.append(
                    f"- Target, {label} at most {COLD_SHARE}x exponent-server-sdk's median CPU: "
                    f"{ours * 1000:.0f} ms against {theirs * 1000:.0f} ms, {share:.2f}x: {verdict}."
                )
    return "\n".join(lines) + "\n"
