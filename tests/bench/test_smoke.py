"""The benchmark's smoke run: expo-push only, tiny workloads, through a real emulator process on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[dict[str, object]]]:
    raw = tmp_path_factory.mktemp("bench") / "runs.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json", str(raw)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout, json.loads(raw.read_text())


def _tables(markdown: str) -> dict[str, list[dict[str, str]]]:
    """Every table of the report under its heading, as rows keyed by column name."""
    tables: dict[str, list[dict[str, str]]] = {}
    heading = ""
    header: list[str] = []
    for line in markdown.splitlines():
        if line.startswith("## "):
            heading, header = line[3:], []
        elif line.startswith("|") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if not header:
                header = cells
                tables[heading] = []
            else:
                assert len(cells) == len(header), line
                tables[heading].append(dict(zip(header, cells, strict=True)))
    return tables


def test_smoke_prints_a_table_per_workload_and_the_targets(smoke: tuple[str, list[dict[str, object]]]) -> None:
    tables = _tables(smoke[0])
    groups = [heading.split(":")[0] for heading in tables]
    assert groups == [
        "Throughput",
        "Throughput",
        "Under the service's rate limit",
        "Under faults (503, 429 with Retry-After, dropped connections)",
        "Scale, streaming from a generator",
        "Targets",
        "Cold start",
    ]
    assert all(rows for rows in tables.values())


def test_smoke_runs_expo_push_only_and_delivers_everything(smoke: tuple[str, list[dict[str, object]]]) -> None:
    tables = _tables(smoke[0])
    for heading, rows in tables.items():
        if heading == "Targets":
            continue
        for row in rows:
            assert row["client"].startswith("expo-push"), row
            if row["client"] in ("expo-push (sync)", "expo-push (async)"):
                assert row["delivered"].replace(",", "") == heading.split(": ", 1)[1].split()[0].replace(",", "")


def test_smoke_raw_figures_match_the_emulator_counts(smoke: tuple[str, list[dict[str, object]]]) -> None:
    results = smoke[1]
    clients = {result["client"] for result in results}
    assert {"expo-push sync", "expo-push async"} <= clients
    assert not any(str(client).startswith(("exponent", "async-expo", "expo-server")) for client in clients)
    throughput = [r for r in results if r["group"] == "throughput" and r["client"] == "expo-push async"]
    for result in throughput:
        runs = result["runs"]
        assert isinstance(runs, list)
        assert runs
        for run in runs:
            assert run["delivered"] == run["tickets"] > 0
            assert run["lost"] == run["duplicated"] == 0
            assert run["requests"] == run["delivered"] // 100
            assert min(run["cpu"], run["rss_mb"], run["wall"]) > 0


def test_smoke_measures_the_cold_start_of_the_library_and_the_command(
    smoke: tuple[str, list[dict[str, object]]],
) -> None:
    rows = _tables(smoke[0])["Cold start: import and send one notification"]
    assert [row["client"] for row in rows] == ["expo-push (library)", "expo-push send (command line)"]
    for row in rows:
        sent, runs = row["sent"].split("/")
        assert sent == runs != "0"
        assert int(row["CPU, median"].removesuffix(" ms")) > 0
