"""Markdown for the results: one table per workload, ratios against expo-push, and the targets met or missed."""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

from bench.runner import Measurement
from bench.workloads import Workload

__all__ = ["Result", "machine", "markdown", "summarize"]

REFERENCE = "expo-push async"
"""The client the ratio columns divide by."""
FACES = ("expo-push sync", "expo-push async")
"""The expo-push clients the targets are checked for."""
CPU_SHARE = {"expo-push sync": 0.45, "expo-push async": 0.55}
"""Issue 20's targets: CPU per notification at most this share of exponent-server-sdk's."""
_WORST = {"lost", "duplicated", "rate_limited", "errors", "unsent_reported", "exit_code", "faulted", "dropped"}


@dataclass
class Result:
    """The runs of one client on one workload, summarized: medians, and the worst of the counts of failures."""

    workload: Workload
    client: str
    label: str
    runs: list[Measurement]
    skipped: str | None = None

    @property
    def ran(self) -> bool:
        return bool(self.runs)

    def median(self, name: str) -> float:
        """The median of a figure over the runs (the worst, for counts of failures)."""
        values = [getattr(run, name) for run in self.runs]
        return float(max(values) if name in _WORST else statistics.median(values))

    @property
    def first_error(self) -> str:
        return next((run.first_error for run in self.runs if run.first_error), "")

    @property
    def unsent_known(self) -> bool:
        return all(run.unsent_known for run in self.runs)

    @property
    def complete(self) -> bool:
        """Whether every notification was accepted in every run."""
        return self.ran and all(run.delivered >= self.workload.notifications for run in self.runs)


def summarize(workload: Workload, client: str, label: str, runs: list[Measurement], skipped: str | None) -> Result:
    """Gather the runs of a client on a workload."""
    return Result(workload, client, label, runs, skipped)


def machine() -> str:
    """A description of this machine and the tools measured."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as file:
            cpu = next((line.split(":", 1)[1].strip() for line in file if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    node = "none"
    if shutil.which("node"):
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, {memory:.0f} GiB; "
        f"Python {platform.python_version()}, Node {node}; expo-push at commit {commit or 'unknown'}"
    )


def _fmt(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"


def _ratio(result: Result, reference: Result | None, name: str) -> str:
    if reference is None or not reference.ran or not result.complete or not reference.complete:
        return "-"
    base = reference.median(name)
    return f"{result.median(name) / base:.2f}x" if base > 0 else "-"


def _note(result: Result) -> str:
    if result.skipped:
        return f"skipped: {result.skipped}"
    if result.first_error:
        return result.first_error.replace("|", "\\|").replace("\n", " ")[:160]
    return ""


def _table(header: Sequence[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _by_client(results: list[Result]) -> dict[str, Result]:
    return {result.client: result for result in results}


def _throughput(results: list[Result]) -> list[str]:
    reference = _by_client(results).get(REFERENCE)
    header = ["client", "wall s", "wall x", "CPU s", "CPU µs/notif.", "CPU x", "peak RSS MiB", "requests",
              "KiB sent", "delivered", "emulator CPU s", "note"]  # fmt: skip
    rows = []
    for result in results:
        if not result.ran:
            rows.append([result.label, *["-"] * 10, _note(result)])
            continue
        count = result.workload.notifications
        rows.append(
            [
                result.label,
                _fmt(result.median("wall")),
                _ratio(result, reference, "wall"),
                _fmt(result.median("cpu")),
                _fmt(result.median("cpu") / count * 1e6, 1),
                _ratio(result, reference, "cpu"),
                _fmt(result.median("rss_mb"), 0),
                f"{result.median('requests'):,.0f}",
                f"{result.median('bytes') / 1024:,.0f}",
                f"{result.median('delivered'):,.0f}",
                _fmt(result.median("emulator_cpu")),
                _note(result),
            ]
        )
    return _table(header, rows)


def _limit(results: list[Result]) -> list[str]:
    header = ["client", "wall s", "ideal s", "achieved /s", "% of limit", "429s", "delivered", "lost", "duplicated",
              "reported unsent", "note"]  # fmt: skip
    rows = []
    for result in results:
        workload = result.workload
        assert workload.rate_limit is not None
        ideal = workload.notifications / workload.rate_limit
        if not result.ran:
            rows.append([result.label, *["-"] * 9, _note(result)])
            continue
        wall = result.median("wall")
        delivered = result.median("delivered")
        rate = delivered / wall if wall > 0 else 0.0
        rows.append(
            [
                result.label,
                _fmt(wall, 1),
                _fmt(ideal, 1),
                _fmt(rate, 0),
                f"{rate / workload.rate_limit:.0%}",
                f"{result.median('rate_limited'):,.0f}",
                f"{delivered:,.0f}",
                f"{result.median('lost'):,.0f}",
                f"{result.median('duplicated'):,.0f}",
                f"{result.median('unsent_reported'):,.0f}",
                _note(result),
            ]
        )
    return _table(header, rows)


def _faults(results: list[Result]) -> list[str]:
    header = ["client", "wall s", "requests", "faulted", "delivered", "lost", "duplicated", "reported unsent",
              "caller can tell what was not sent", "note"]  # fmt: skip
    rows = []
    for result in results:
        if not result.ran:
            rows.append([result.label, *["-"] * 8, _note(result)])
            continue
        tells = "yes" if result.unsent_known else "no"
        rows.append(
            [
                result.label,
                _fmt(result.median("wall"), 1),
                f"{result.median('requests'):,.0f}",
                f"{result.median('faulted'):,.0f}",
                f"{result.median('delivered'):,.0f}",
                f"{result.median('lost'):,.0f}",
                f"{result.median('duplicated'):,.0f}",
                f"{result.median('unsent_reported'):,.0f}",
                tells,
                _note(result),
            ]
        )
    return _table(header, rows)


def _scale(results: list[Result]) -> list[str]:
    header = ["client", "wall s", "notifications/s", "peak RSS MiB", "CPU s", "delivered", "note"]
    rows = []
    for result in results:
        if not result.ran:
            rows.append([result.label, *["-"] * 5, _note(result)])
            continue
        wall = result.median("wall")
        rows.append(
            [
                result.label,
                _fmt(wall, 1),
                _fmt(result.median("delivered") / wall if wall > 0 else 0.0, 0),
                _fmt(result.median("rss_mb"), 0),
                _fmt(result.median("cpu"), 1),
                f"{result.median('delivered'):,.0f}",
                _note(result),
            ]
        )
    return _table(header, rows)


_TABLES: dict[str, Callable[[list[Result]], list[str]]] = {
    "throughput": _throughput,
    "limit": _limit,
    "faults": _faults,
    "scale": _scale,
}
_HEADINGS = {
    "throughput": "Throughput",
    "limit": "Under the service's rate limit",
    "faults": "Under faults (503, 429 with Retry-After, dropped connections)",
    "scale": "Scale, streaming from a generator",
}


def _check(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _targets(groups: dict[str, list[Result]]) -> list[str]:
    rows: list[list[str]] = []
    for results in groups.values():
        workload = results[0].workload
        by = _by_client(results)
        for face in FACES:
            ours = by.get(face)
            if ours is None or not ours.complete:
                continue
            name = by[face].label
            if workload.group == "throughput":
                for peer, limit, what in (
                    ("exponent-server-sdk", CPU_SHARE[face], f"≤ {CPU_SHARE[face]:.2f}x"),
                    ("expo-server-sdk (Node)", 1.0, "≤"),
                ):
                    other = by.get(peer)
                    if other is None or not other.complete:
                        continue
                    ratio = ours.median("cpu") / other.median("cpu")
                    rows.append([workload.title, name, f"CPU {what} {other.label}'s", f"{ratio:.2f}x",
                                 _check(ratio <= limit)])  # fmt: skip
                    if workload.latency_ms == 20 and peer == "expo-server-sdk (Node)":
                        ratio = ours.median("wall") / other.median("wall")
                        rows.append([workload.title, name, f"wall ≤ {other.label}'s", f"{ratio:.2f}x",
                                     _check(ratio <= 1.0)])  # fmt: skip
            elif workload.group == "limit":
                assert workload.rate_limit is not None
                rate = ours.median("delivered") / ours.median("wall")
                share = rate / workload.rate_limit
                rows.append([workload.title, name, "no 429s", f"{ours.median('rate_limited'):,.0f}",
                             _check(ours.median("rate_limited") == 0)])  # fmt: skip
                rows.append([workload.title, name, "≥ 95% of the limit", f"{share:.1%}", _check(share >= 0.95)])
                rows.append([workload.title, name, "nothing lost or duplicated",
                             f"{ours.median('lost'):,.0f} lost, {ours.median('duplicated'):,.0f} duplicated",
                             _check(ours.median("lost") == 0 and ours.median("duplicated") == 0)])  # fmt: skip
            elif workload.group == "faults":
                rows.append([workload.title, name, "nothing lost", f"{ours.median('lost'):,.0f}",
                             _check(ours.median("lost") == 0)])  # fmt: skip
                dropped_bound = all(run.duplicated <= 100 * run.dropped for run in ours.runs)
                rows.append([workload.title, name, "duplicates only from dropped answers, counted",
                             f"{ours.median('duplicated'):,.0f}", _check(dropped_bound)])  # fmt: skip
            elif workload.group == "scale":
                rss = ours.median("rss_mb")
                rows.append([workload.title, name, "peak RSS < 100 MB", f"{rss * 1.048576:,.0f} MB",
                             _check(rss * 1.048576 < 100)])  # fmt: skip
    return _table(["workload", "client", "target", "measured", ""], rows)


def markdown(results: list[Result], *, command: str, machine_text: str, repeats: str) -> str:
    """The whole report: how it was made, each workload's table, then the targets."""
    groups: dict[str, list[Result]] = {}
    for result in results:
        groups.setdefault(result.workload.title, []).append(result)
    lines = [
        "# expo-push benchmark results",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine_text}",
        "",
        f"Each client runs as its own process against the emulator (its own process too) on loopback. {repeats} "
        "Wall is the time the client spent sending; CPU is the client process's user+system seconds while sending "
        "(interpreter start, imports and building the messages left out); peak RSS is the whole process's. "
        "Ratios (x) divide by expo-push (async): above 1 is slower or costlier than expo-push. "
        "Counts of lost and duplicated notifications are the worst over the runs.",
        "",
    ]
    for title, group in groups.items():
        kind = group[0].workload.group
        lines += [f"## {_HEADINGS[kind]}: {title}", "", *_TABLES[kind](group), ""]
    lines += ["## Targets", "", *_targets(groups), ""]
    return "\n".join(lines)


def measurement_fields() -> list[str]:
    """The names of a measurement's figures."""
    return [f.name for f in fields(Measurement)]
