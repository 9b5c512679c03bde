"""The ledger's connections have a bounded lifetime: scrapes and short-lived threads hold none once done."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

from expo_push.ledger import Ledger
from expo_push.metrics import PrometheusMetrics

from .conftest import token


def _open_connections(url: str) -> int:
    """Connections to the ledger's database now: server backends (PostgreSQL) or open files (SQLite)."""
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ).fetchone()
            assert row is not None
            return int(row[0])
    files = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            files += os.readlink(f"/proc/self/fd/{fd}").startswith(str(Path(url).resolve()))
        except OSError:
            continue
    return files


def test_a_thousand_metrics_scrapes_keep_the_connection_count_constant(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as ledger:
        ledger.enqueue([{"to": token(i)} for i in range(3)])
        metrics = PrometheusMetrics(CollectorRegistry())
        metrics.watch_ledger(ledger)
        server = metrics.serve(0, addr="127.0.0.1")
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        try:
            with httpx.Client() as http:
                assert "outbox_backlog 3.0" in http.get(url).text
                before = _open_connections(ledger_url)
                for _ in range(1000):  # each scrape is served by a thread of its own
                    assert http.get(url).status_code == 200
                after = _open_connections(ledger_url)
        finally:
            server.shutdown()
            server.server_close()
    assert before >= 1
    assert after == before


def test_a_hundred_short_lived_threads_enqueuing_leave_no_connection_behind(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as ledger:
        ledger.enqueue({"to": token("first")})
        before = _open_connections(ledger_url)
        for i in range(100):
            thread = threading.Thread(target=ledger.enqueue, args=({"to": token(i)},))
            thread.start()
            thread.join()
        assert _open_connections(ledger_url) == before
        assert len(ledger.outbox()) == 101
    if not ledger_url.startswith("postgresql://"):  # (a server's backend ends a moment after its client left)
        assert _open_connections(ledger_url) == 0


def test_threads_at_once_share_the_pool_and_it_keeps_only_a_few_idle(ledger_url: str) -> None:
    threads = 8
    with Ledger.open(ledger_url) as ledger:
        start = threading.Barrier(threads)

        def enqueue(i: int) -> None:
            start.wait()
            for j in range(20):
                ledger.enqueue({"to": token(f"{i}-{j}")})

        workers = [threading.Thread(target=enqueue, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert len(ledger.outbox()) == threads * 20
        assert ledger._store.pool.open_connections <= 4
