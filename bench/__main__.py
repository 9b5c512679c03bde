"""``python -m bench``: run the benchmark, print the markdown tables, and write them to bench/RESULTS.md.

    python -m bench              # the full run: expo-push and the peer SDKs (installed into bench/.cache/)
    python -m bench --quick      # smaller workloads, same clients
    python -m bench --smoke      # tiny workloads, expo-push only, no installs; writes no RESULTS.md
    python -m bench --only throughput,limit --clients "expo-push async,expo-server-sdk (Node)"
    python -m bench --only outbox  # four outbox workers on one throwaway PostgreSQL (needs its binaries)
    python -m bench --only coldstart   # import and send one notification, a new process per run, with the peers

Run from the repository root with the project installed (``pip install -e .[emulator]``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from bench.clients import BENCH, all_clients
from bench.cold_start import ColdStart, cold_start_markdown, run_cold_start
from bench.emulator import EmulatorProcess
from bench.outbox_scale import OutboxRun, as_dicts, outbox_markdown, run_outbox_scale
from bench.report import Result, machine, markdown, summarize
from bench.runner import Measurement, as_dict, run_once
from bench.workloads import workloads

GROUPS = ("throughput", "limit", "faults", "scale", "outbox", "coldstart")
COLD_RUNS = {"smoke": 3, "quick": 15, "full": 40}
"""Runs of each client in the cold-start workload."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else None)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller workloads (a few minutes)")
    size.add_argument("--smoke", action="store_true", help="tiny workloads, expo-push only (under a minute)")
    parser.add_argument("--only", default="", help=f"comma-separated workload groups among {', '.join(GROUPS)}")
    parser.add_argument("--clients", default="", help="comma-separated client keys (default: all)")
    parser.add_argument(
        "--match", action="append", default=[], help="only the workloads whose title holds this text (repeatable)"
    )
    parser.add_argument("--no-peers", action="store_true", help="expo-push only: install and run no other SDK")
    parser.add_argument("--no-node", action="store_true", help="leave out the Node SDK")
    parser.add_argument("--repeat", type=int, default=None, help="runs of each throughput and scale timing")
    parser.add_argument("--output", type=Path, default=None, help="markdown file (default: bench/RESULTS.md)")
    parser.add_argument("--json", type=Path, default=None, help="also write every run's figures to this file")
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # stop the emulator and the driver running, as on Ctrl-C
    size = "smoke" if args.smoke else "quick" if args.quick else "full"
    groups = [group.strip() for group in args.only.split(",") if group.strip()] or [
        group
        for group in GROUPS
        if not (args.smoke and group == "outbox")  # the smoke starts no PostgreSQL
    ]
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise SystemExit(f"--only: unknown workload groups {sorted(unknown)}; choose among {', '.join(GROUPS)}")
    clients = all_clients(peers=not (args.smoke or args.no_peers)) if set(groups) - {"outbox"} else []
    if args.no_node:
        clients = [client for client in clients if client.key != "expo-server-sdk (Node)"]
    if args.clients:
        wanted = [key.strip() for key in args.clients.split(",") if key.strip()]
        missing = set(wanted) - {client.key for client in clients}
        if missing:
            raise SystemExit(f"--clients: unknown {sorted(missing)}; known: {[c.key for c in clients]}")
        clients = [client for client in clients if client.key in wanted]
    for client in list(clients):
        try:
            client.install()
        except RuntimeError as exc:  # a tool missing on this machine (node, npm): run the others
            print(f"leaving out {client.label}: {exc}", file=sys.stderr, flush=True)
            clients.remove(client)
    plan = [
        workload
        for workload in workloads(size)
        if workload.group in groups and (not args.match or any(text in workload.title for text in args.match))
    ]

    results: list[Result] = []
    started = time.monotonic()
    with EmulatorProcess() as emulator:
        for number, workload in enumerate(plan):
            repeats = args.repeat if args.repeat is not None and workload.group in ("throughput", "scale") else None
            runs: dict[str, list[Measurement]] = {client.key: [] for client in clients}
            for repeat in range(repeats or workload.repeats):
                for client in clients:
                    if client.skip_reason(workload):
                        continue
                    tag = f"w{number}r{repeat}c{clients.index(client)}"
                    print(f"[{time.monotonic() - started:6.0f} s] {workload.title} | {client.label} | run {repeat + 1}",
                          file=sys.stderr, flush=True)  # fmt: skip
                    runs[client.key].append(run_once(emulator, client, workload.tagged(tag)))
            for client in clients:
                results.append(summarize(workload, client.key, client.label, runs[client.key],
                                         client.skip_reason(workload)))  # fmt: skip
        outbox_runs: list[OutboxRun] = []
        if "outbox" in groups:

            def progress(text: str) -> None:
                print(f"[{time.monotonic() - started:6.0f} s] {text}", file=sys.stderr, flush=True)

            outbox_runs = run_outbox_scale(emulator, size, progress=progress)
        cold_runs: list[ColdStart] = []
        if "coldstart" in groups:
            cold_runs = run_cold_start(
                emulator,
                clients,
                COLD_RUNS[size],
                lambda text: print(f"[{time.monotonic() - started:6.0f} s] {text}", file=sys.stderr, flush=True),
            )

    command = "python -m bench" + "".join(
        f" {shlex.quote(arg)}" for arg in (argv if argv is not None else sys.argv[1:])
    )
    repeats_text = (
        "Throughput figures are medians of "
        f"{args.repeat or max((w.repeats for w in plan if w.group == 'throughput'), default=1)} runs, the clients "
        "taking turns within each repetition, and so are those of the scale workload; the rate-limit and faults "
        "workloads (whose figures are counts) run once per client."
    )
    text = markdown(results, command=command, machine_text=machine(), repeats=repeats_text)
    if outbox_runs:
        text += "\n" + outbox_markdown(outbox_runs)
    if cold_runs:
        text += "\n" + cold_start_markdown(cold_runs, COLD_RUNS[size])
    print(text)
    print(f"(took {time.monotonic() - started:.0f} s)", file=sys.stderr)
    output = args.output or (None if args.smoke else BENCH / "RESULTS.md")
    if output is not None:
        output.write_text(text)
    if args.json is not None:
        raw = [
            {"workload": result.workload.title, "group": result.workload.group, "client": result.client,
             "skipped": result.skipped, "runs": [as_dict(run) for run in result.runs]}
            for result in results
        ]  # fmt: skip
        raw += [{"workload": "outbox scale-out", "group": "outbox", **run} for run in as_dicts(outbox_runs)]
        raw += [{"workload": "cold start", "group": "coldstart", "client": run.label, **vars(run)} for run in cold_runs]
        args.json.write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
