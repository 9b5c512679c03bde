"""Measure the delivery ledger against the emulator: outbox throughput, and what recording costs a send.

The emulator runs in a child process (``python -m expo_push.emulator``, rate
limit lifted) so its CPU is not counted here. For each backend (SQLite in a
temp file, and PostgreSQL) it reports:

- outbox, end to end: ``enqueue(N)`` then ``drain(client)`` until every
  notification is sent and its ticket recorded, in notifications per second;
- recording overhead: CPU time of this process for ``ledger.send(client, N)``
  against a plain ``client.send(N)``, as a percentage (median of repeats).

    python bench/ledger_throughput.py                      # SQLite, and a throwaway PostgreSQL if installed
    python bench/ledger_throughput.py --count 50000 --postgres-url postgresql://user@host/db
    python bench/ledger_throughput.py --no-postgres
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from expo_push import PushClient
from expo_push.ledger import Ledger

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def emulator_process() -> Iterator[str]:
    """Run ``python -m expo_push.emulator`` with no rate limit; yield its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "expo_push.emulator", "--port", "0", "--rate-limit", "none"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on " not in line:
            raise RuntimeError(f"the emulator did not start: {line!r}")
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(30)


def accepted(url: str) -> int:
    """Notifications the emulator has accepted so far."""
    with urllib.request.urlopen(f"{url}/--/emulator/stats") as response:
        return int(json.load(response)["notifications"])


def messages(count: int, run: str) -> list[dict[str, Any]]:
    """``count`` notifications of a typical size, to distinct tokens."""
    return [
        {
            "to": f"ExponentPushToken[bench-{run}-{i}]",
            "title": "Your order shipped",
            "body": f"Order {i} is on its way",
            "data": {"order": i, "run": run},
        }
        for i in range(count)
    ]


def outbox_rate(target: str, url: str, count: int, batch_size: int) -> dict[str, float]:
    """Enqueue ``count`` notifications and drain them; return the rates."""
    batch = messages(count, uuid.uuid4().hex[:8])
    keys = [f"bench-{i}" for i in range(count)]
    before = accepted(url)
    with Ledger.open(target) as ledger, PushClient(base_url=url, rate_limit=None) as client:
        started = time.perf_counter()
        ledger.enqueue(batch, keys=keys)
        enqueued = time.perf_counter()
        run = ledger.drain(client, batch_size=batch_size)
        finished = time.perf_counter()
        if run.sent != count or accepted(url) - before != count:
            raise RuntimeError(f"sent {run.sent}, emulator accepted {accepted(url) - before}, expected {count}")
        if ledger.stats().outbox.get("sent") != count:
            raise RuntimeError("the outbox does not show every notification sent")
    return {
        "enqueue_per_s": count / (enqueued - started),
        "drain_per_s": count / (finished - enqueued),
        "end_to_end_per_s": count / (finished - started),
    }


def recording_overhead(target_for: Any, url: str, count: int, repeats: int) -> dict[str, float]:
    """CPU seconds of a plain send and of a recorded send of ``count`` notifications (medians), and the overhead.

    Plain and recorded sends alternate (which goes first alternates too), each
    after a garbage collection, so drift of the machine hits both alike.
    """
    plain: list[float] = []
    recorded: list[float] = []
    with PushClient(base_url=url, rate_limit=None) as client:
        client.send(messages(100, "warm-up"))
        for repeat in range(repeats):
            ledger = Ledger.open(target_for(repeat))
            ledger.send(client, messages(10, f"warm-up-{repeat}"))  # connection and statements ready
            for name in ("plain", "recorded") if repeat % 2 == 0 else ("recorded", "plain"):
                batch = messages(count, f"{name}-{repeat}")
                gc.collect()
                cpu = time.process_time()
                if name == "plain":
                    client.send(batch)
                else:
                    ledger.send(client, batch)
                (plain if name == "plain" else recorded).append(time.process_time() - cpu)
            ledger.close()
    return {
        "plain_cpu_s": statistics.median(plain),
        "recorded_cpu_s": statistics.median(recorded),
        # Each pair ran back to back: the median of their ratios shrugs off the machine's drift.
        "overhead_pct": 100.0 * (statistics.median(r / p for p, r in zip(plain, recorded, strict=True)) - 1.0),
    }


@contextlib.contextmanager
def postgres(url: str | None) -> Iterator[str]:
    """The given PostgreSQL URL, or a throwaway server's."""
    if url is not None:
        yield url
        return
    sys.path.insert(0, str(ROOT))
    from bench.postgres_server import throwaway_postgres

    with throwaway_postgres() as server:
        yield server.url()


def fresh_schema(base: str, name: str) -> str:
    """A URL of ``base`` whose tables live in a new, empty schema ``name``."""
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.execute(f"CREATE SCHEMA {name}")
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{name}"


def report(name: str, outbox: dict[str, float], overhead: dict[str, float], count: int) -> None:
    print(
        f"{name:<10} outbox {count} notifications: enqueue {outbox['enqueue_per_s']:,.0f}/s, "
        f"drain {outbox['drain_per_s']:,.0f}/s, end to end {outbox['end_to_end_per_s']:,.0f}/s"
    )
    print(
        f"{'':<10} recording: send CPU {overhead['plain_cpu_s']:.3f} s plain, "
        f"{overhead['recorded_cpu_s']:.3f} s recorded (medians; overhead, median of pairs: "
        f"{overhead['overhead_pct']:+.1f}%)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20000, help="notifications per outbox run (default: 20000)")
    parser.add_argument("--send-count", type=int, default=10000, help="notifications per recorded send (10000)")
    parser.add_argument("--repeats", type=int, default=21, help="repeats of the recording measurement (default: 21)")
    parser.add_argument("--batch-size", type=int, default=1000, help="worker batch size (default: 1000)")
    parser.add_argument("--postgres-url", default=None, help="a PostgreSQL database to use (default: a throwaway)")
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    args = parser.parse_args()

    with emulator_process() as url, tempfile.TemporaryDirectory() as tmp:
        outbox = outbox_rate(str(Path(tmp) / "outbox.db"), url, args.count, args.batch_size)
        overhead = recording_overhead(lambda i: str(Path(tmp) / f"send-{i}.db"), url, args.send_count, args.repeats)
        report("SQLite", outbox, overhead, args.count)
        if not args.no_postgres:
            with postgres(args.postgres_url) as base:
                outbox = outbox_rate(fresh_schema(base, "bench_outbox"), url, args.count, args.batch_size)
                overhead = recording_overhead(
                    lambda i: fresh_schema(base, f"bench_send_{i}"), url, args.send_count, args.repeats
                )
                report("PostgreSQL", outbox, overhead, args.count)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
