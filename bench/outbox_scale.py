"""The scale-out workload: four outbox worker processes on one throwaway PostgreSQL, the emulator at 600/s per project.

Four runs, each on a fresh schema: the workers sharing one rate budget
through the ledger (``Ledger.shared_pacer``); the same with each worker paced
alone (the row to compare with); two projects of half the notifications each;
and the shared budget with one worker killed (SIGKILL) halfway. Every
notification goes to a token of its own, so the emulator's counters tell what
arrived, what arrived twice and how many 429s it served.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.emulator import EmulatorProcess
from bench.postgres_server import throwaway_postgres
from expo_push.ledger import Ledger

__all__ = ["OutboxRun", "Scenario", "outbox_markdown", "run_outbox_scale", "scenarios"]

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 4
RATE = 600.0
SECOND_PROJECT = "@bench/second"
FIRST_PROJECT = "@bench/first"
RUN_TIMEOUT = 600.0
"""Seconds after which a run is stopped and recorded as it stands."""


@dataclass(frozen=True)
class Scenario:
    """One run of the workload."""

    title: str
    pacing: str
    """``shared`` (the ledger's shared pacer) or ``local`` (each worker's own in-process pacer)."""
    projects: int = 1
    kill: bool = False
    """Kill one worker with SIGKILL once half the notifications are sent."""


def scenarios() -> list[Scenario]:
    """The four runs, in order."""
    return [
        Scenario("shared pacer", "shared"),
        Scenario("each worker paced alone (no shared pacer)", "local"),
        Scenario("shared pacer, two projects of half each", "shared", projects=2),
        Scenario("shared pacer, one worker killed (SIGKILL) halfway", "shared", kill=True),
    ]


def notifications_for(size: str) -> int:
    """Notifications per run for a ``full``, ``quick`` or ``smoke`` benchmark."""
    return {"full": 30_000, "quick": 6_000, "smoke": 1_200}[size]


@dataclass
class OutboxRun:
    """The figures of one run."""

    scenario: str
    pacing: str
    projects: int
    workers: int
    notifications: int
    wall: float
    """Seconds from the workers' start signal to the outbox being empty."""
    delivered: int
    """Distinct notifications the emulator accepted."""
    duplicated: int
    rate_limited: int
    """429 answers the emulator served."""
    lost: int
    resent: int
    """Recipients the ledger counts as sent again after a worker was lost."""
    killed_in_flight: int = 0
    """Recipients the killed worker had claimed and not recorded when it died."""
    per_project: dict[str, float] = field(default_factory=dict)
    """Notifications per second of each project, from the start to its last recorded ticket."""
    note: str = ""

    @property
    def rate(self) -> float:
        """Distinct notifications per second over the run."""
        return self.delivered / self.wall if self.wall > 0 else 0.0

    @property
    def share(self) -> float:
        """``rate`` as a share of the service's limit for the projects sent to."""
        return self.rate / (RATE * self.projects)


@contextmanager
def _schema(server_url: str) -> Iterator[str]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield schema
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _token(run: str, project: int, index: int) -> str:
    return f"ExponentPushToken[scale-{run}-p{project}-{index}]"


def _enqueue(ledger: Ledger, emulator: EmulatorProcess, scenario: Scenario, run: str, count: int) -> None:
    """Enqueue ``count`` notifications, all of the first project before the second (the workers must spread
    over both, not send the first project's backlog first); tell the emulator the second project's tokens."""
    names = [FIRST_PROJECT, SECOND_PROJECT][: scenario.projects]
    tokens = [[_token(run, p, i) for i in range(count) if i % scenario.projects == p] for p in range(len(names))]
    if scenario.projects > 1:
        emulator.set_project(tokens[1], SECOND_PROJECT)
    for number, name in enumerate(names):
        messages = [{"to": token, "body": f"scale {run}"} for token in tokens[number]]
        for start in range(0, len(messages), 5000):
            project = name if scenario.projects > 1 else None
            ledger.enqueue(messages[start : start + 5000], **({"project": project} if project else {}))


def _sent_by(conn: Any, pid: int) -> int:
    """Recipients of rows worker process ``pid`` has claimed and not recorded."""
    row = conn.execute(
        "SELECT COALESCE(SUM(recipients), 0) FROM expo_push_outbox WHERE state = 'sending' AND claimed_by LIKE %s",
        (f"%:{pid}:%",),
    ).fetchone()
    return int(row[0])


def _per_project(conn: Any, started_at: float, projects: int) -> dict[str, float]:
    """Each project's notifications per second, from the start to its last recorded ticket."""
    counts: dict[str, int] = {}
    last: dict[str, float] = {}
    for sent_at, entries in conn.execute("SELECT sent_at, entries FROM expo_push_receipt_queue"):
        for token in json.loads(entries)["to"]:
            name = SECOND_PROJECT if "-p1-" in token else FIRST_PROJECT
            counts[name] = counts.get(name, 0) + 1
            last[name] = max(last.get(name, 0.0), sent_at)
    if projects == 1:
        return {}
    return {name: counts[name] / (last[name] - started_at) for name in sorted(counts) if last[name] > started_at}


def _run(server_url: str, emulator: EmulatorProcess, scenario: Scenario, count: int) -> OutboxRun:
    import psycopg

    run = uuid.uuid4().hex[:8]
    emulator.reset(rate_limit=RATE)
    with _schema(server_url) as schema:
        url = f"{server_url}?options=-csearch_path%3D{schema}"
        with Ledger.open(url) as ledger, psycopg.connect(url, autocommit=True) as conn:
            _enqueue(ledger, emulator, scenario, run, count)
            command = [sys.executable, "-m", "bench.outbox_worker", url, emulator.url, scenario.pacing, str(RATE)]
            workers = [
                subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for _ in range(WORKERS)
            ]
            note = ""
            killed_in_flight = 0
            try:
                for worker in workers:
                    assert worker.stdout is not None
                    line = worker.stdout.readline()
                    if line.strip() != "ready":
                        raise RuntimeError(f"an outbox worker did not start: {line!r}")
                # Drain each worker's progress lines in the background, so no pipe fills up.
                for worker in workers:
                    threading.Thread(target=worker.stdout.read, daemon=True).start()  # type: ignore[union-attr]
                started, started_at = time.monotonic(), time.time()
                for worker in workers:
                    assert worker.stdin is not None
                    worker.stdin.write("go\n")
                    worker.stdin.flush()
                killed = not scenario.kill
                while True:
                    backlog = ledger.outbox_backlog()
                    if backlog.pending == 0 and backlog.sending == 0:
                        break
                    if not killed and backlog.pending + backlog.sending <= count // 2:
                        victim = workers[0]
                        victim.send_signal(signal.SIGKILL)
                        victim.wait()
                        killed_in_flight = _sent_by(conn, victim.pid)
                        killed = True
                    if time.monotonic() - started > RUN_TIMEOUT:
                        note = f"stopped after {RUN_TIMEOUT:.0f} s with {backlog.pending + backlog.sending} left"
                        break
                    time.sleep(0.05)
                wall = time.monotonic() - started
            finally:
                for worker in workers:
                    if worker.poll() is None:
                        worker.send_signal(signal.SIGTERM)
                for worker in workers:
                    try:
                        worker.wait(30)
                    except subprocess.TimeoutExpired:
                        worker.kill()
                        worker.wait()
            stats = emulator.stats()
            per_project = _per_project(conn, started_at, scenario.projects)
            resent = ledger.stats().outbox.get("resent", 0)
    delivered = stats["notifications"] - stats["duplicates"]
    return OutboxRun(
        scenario=scenario.title,
        pacing=scenario.pacing,
        projects=scenario.projects,
        workers=WORKERS,
        notifications=count,
        wall=wall,
        delivered=delivered,
        duplicated=stats["duplicates"],
        rate_limited=stats["rate_limited"],
        lost=count - delivered,
        resent=resent,
        killed_in_flight=killed_in_flight,
        per_project=per_project,
        note=note,
    )


def run_outbox_scale(emulator: EmulatorProcess, size: str, *, progress: Any = None) -> list[OutboxRun]:
    """Run every scenario on a throwaway PostgreSQL server; ``progress(text)`` is told as each starts."""
    count = notifications_for(size)
    runs = []
    with throwaway_postgres(fsync=False) as server:
        for scenario in scenarios():
            if progress is not None:
                progress(f"outbox scale-out | {scenario.title}")
            runs.append(_run(server.url(), emulator, scenario, count))
    return runs


def _check(ok: bool) -> str:
    return "met" if ok else "**missed**"


def outbox_markdown(runs: list[OutboxRun]) -> str:
    """The scale-out section of the report: the runs' table and their targets."""
    if not runs:
        return ""
    lines = [
        f"## Scale-out: {runs[0].notifications:,} notifications through the outbox, {runs[0].workers} worker "
        f"processes, one PostgreSQL, emulator limit {RATE:g}/s per project",
        "",
        "Each worker is a process of its own (`bench/outbox_worker.py`: `Ledger.run_worker` with a `PushClient` "
        f"paced to {RATE:g}/s), standing in for a machine; PostgreSQL is a throwaway server on loopback "
        "(fsync off). Wall runs from the workers' start signal to the outbox being empty. Delivered, duplicated "
        "and 429s are the emulator's counts; resent is what the ledger counts as sent again after a worker was lost.",
        "",
        "| run | wall s | notifications/s | % of limit | 429s | delivered | lost | duplicated | resent | per project /s"
        " | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        projects = ", ".join(f"{name} {rate:,.0f}" for name, rate in run.per_project.items()) or "-"
        note = run.note or (f"killed worker had {run.killed_in_flight:,} in flight" if run.killed_in_flight else "")
        lines.append(
            f"| {run.scenario} | {run.wall:.1f} | {run.rate:,.0f} | {run.share:.1%} | {run.rate_limited:,} "
            f"| {run.delivered:,} | {run.lost:,} | {run.duplicated:,} | {run.resent:,} | {projects} | {note} |"
        )
    rows: list[str] = []
    for run in runs:
        if run.pacing != "shared":
            continue
        rows.append(f"| {run.scenario} | no 429s | {run.rate_limited:,} | {_check(run.rate_limited == 0)} |")
        rows.append(f"| {run.scenario} | nothing lost | {run.lost:,} | {_check(run.lost == 0)} |")
        if run.killed_in_flight or "killed" in run.scenario:
            bound = run.duplicated <= max(run.killed_in_flight, run.resent)
            rows.append(
                f"| {run.scenario} | duplicates ≤ what the killed worker had in flight, counted "
                f"| {run.duplicated:,} of {run.killed_in_flight:,} in flight, {run.resent:,} counted resent "
                f"| {_check(bound)} |"
            )
        else:
            rows.append(f"| {run.scenario} | nothing duplicated | {run.duplicated:,} | {_check(run.duplicated == 0)} |")
            rows.append(f"| {run.scenario} | ≥ 95% of the limit | {run.share:.1%} | {_check(run.share >= 0.95)} |")
        if run.projects > 1:
            # Measured from the start to the last ticket, a project's rate exceeds the limit by about one
            # request's slot (the last request starts before the end of its slot): 5% allowed for that.
            under = all(rate <= RATE * 1.05 for rate in run.per_project.values())
            rows.append(
                f"| {run.scenario} | each project under its own limit | "
                + ", ".join(f"{rate:,.0f}/s" for rate in run.per_project.values())
                + f" | {_check(under and run.rate_limited == 0)} |"
            )
    lines += ["", "| run | target | measured | |", "|---|---|---|---|", *rows, ""]
    return "\n".join(lines)


def as_dicts(runs: list[OutboxRun]) -> list[dict[str, Any]]:
    """The runs as JSON-ready dicts."""
    return [{**asdict(run), "rate": run.rate, "share": run.share} for run in runs]


if __name__ == "__main__":  # python -m bench.outbox_scale [full|quick|smoke]: this workload alone
    with EmulatorProcess() as emulator:
        print(
            outbox_markdown(run_outbox_scale(emulator, sys.argv[1] if len(sys.argv) > 1 else "quick", progress=print))
        )
