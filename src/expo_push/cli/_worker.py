"""``expo-push worker``: the outbox worker process, with its shared pacing, metrics endpoint and receipts checks."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import IO, Any

from .._client import PushClient
from .._errors import PushServerError

__all__ = ["add_worker_arguments", "run_worker_command", "stop_on_signals", "worker_usage_problem"]

logger = logging.getLogger("expo_push")


def add_worker_arguments(worker: argparse.ArgumentParser) -> None:
    """The options of ``expo-push worker`` beyond the ledger and the service's."""
    worker.add_argument(
        "--pacing",
        choices=("shared", "local"),
        default="shared",
        help="shared (default): every worker of this ledger shares one budget per project, kept in its database;"
        " local: this worker paces itself alone",
    )
    worker.add_argument("--project", metavar="@OWNER/SLUG", help="the Expo project of notifications enqueued unnamed")
    worker.add_argument(
        "--metrics-port", type=int, default=None, metavar="N", help="serve Prometheus metrics on this port (0: any)"
    )
    worker.add_argument("--metrics-addr", default="0.0.0.0", metavar="ADDR", help="address of the metrics endpoint")
    worker.add_argument(
        "--receipts-every",
        type=float,
        default=0.0,
        metavar="S",
        help="also check the receipts that are due every S seconds (default: no; run it in one place)",
    )


def worker_usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the worker's own options, or None."""
    if args.metrics_port is not None and not 0 <= args.metrics_port <= 65535:
        return f"--metrics-port must be a port number, not {args.metrics_port}"
    if args.receipts_every < 0:
        return f"--receipts-every must not be negative, not {args.receipts_every}"
    if args.project is not None and not args.project.strip():
        return "--project must be a name such as @owner/slug"
    return None


@contextmanager
def _metrics(args: argparse.Namespace, ledger: Any, err: IO[str]) -> Iterator[Any]:
    """A PrometheusMetrics serving on ``--metrics-port`` while the worker runs, or None without one."""
    if args.metrics_port is None:
        yield None
        return
    from ..metrics import PrometheusMetrics

    metrics = PrometheusMetrics()
    metrics.watch_ledger(ledger)
    server = metrics.serve(args.metrics_port, addr=args.metrics_addr)
    err.write(f"expo-push worker: metrics at http://{args.metrics_addr}:{server.server_address[1]}/metrics\n")
    err.flush()
    try:
        yield metrics
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT or SIGTERM while inside (the main thread's handlers, put back after)."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Not stop.set() here: the handler runs in the main thread, which may hold the event's lock just then
        # (inside stop.wait()), and the lock is not reentrant. Another thread sets it once the lock is free.
        threading.Thread(target=stop.set, name="expo-push-signal").start()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_receipts(ledger: Any, client: PushClient, stop: threading.Event, every: float, metrics: Any) -> None:
    while not stop.is_set():
        try:
            summary = ledger.check_receipts(client)
            if metrics is not None:
                metrics.receipts(summary)
        except PushServerError as exc:
            logger.warning("expo-push: receipts check failed, trying again in %.0f s: %s", every, exc)
        stop.wait(every)


def run_worker_command(
    args: argparse.Namespace,
    ledger: Any,
    make_client: Callable[..., PushClient],
    stop: threading.Event,
    err: IO[str],
) -> None:
    """Run the outbox worker of ``ledger`` until ``stop`` is set, as the options say (checked by the caller)."""
    with _metrics(args, ledger, err) as metrics:
        options: dict[str, Any] = {}
        if args.pacing == "shared":
            options["pacer"] = ledger.shared_pacer(args.rate_limit)
        if metrics is not None:
            options["metrics"] = metrics
        if args.project:
            options["project"] = args.project
        with make_client(args, **options) as client:
            checker = None
            if args.receipts_every > 0:
                checker = threading.Thread(
                    target=_check_receipts,
                    args=(ledger, client, stop, args.receipts_every, metrics),
                    name="expo-push-receipts",
                    daemon=True,
                )
                checker.start()

            def on_batch(run: Any) -> None:
                err.write(f"expo-push worker: {run.sent:,} sent, {run.skipped:,} skipped (dead tokens)\n")
                err.flush()

            try:
                ledger.run_worker(
                    client, stop, batch_size=args.batch_size, poll_interval=args.poll_interval, on_batch=on_batch
                )
            finally:
                stop.set()
                if checker is not None:
                    checker.join()
