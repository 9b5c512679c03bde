"""``expo-push worker``: the outbox worker process, with its shared pacing, metrics endpoint and receipts checks."""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from .._arguments import port_argument, project_argument, seconds_argument
from .._client import PushClient
from .._errors import PushServerError
from .._service import PROJECT_FORM
from ._options import UsageError, shown_location

__all__ = ["add_worker_arguments", "run_worker_command"]

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
    worker.add_argument(
        "--project",
        type=project_argument(PROJECT_FORM),
        metavar="@OWNER/SLUG",
        help="the Expo project of notifications enqueued unnamed",
    )
    worker.add_argument(
        "--metrics-port",
        type=port_argument,
        default=None,
        metavar="N",
        help="serve Prometheus metrics on this port (0: any)",
    )
    worker.add_argument("--metrics-addr", default="0.0.0.0", metavar="ADDR", help="address of the metrics endpoint")
    worker.add_argument(
        "--receipts-every",
        type=seconds_argument,
        default=0.0,
        metavar="S",
        help="also check the receipts that are due every S seconds (default: no; run it in one place)",
    )


@contextmanager
def _metrics(args: argparse.Namespace, ledger: Any, err: IO[str]) -> Iterator[Any]:
    """A PrometheusMetrics serving on ``--metrics-port`` while the worker runs, or None without one."""
    if args.metrics_port is None:
        yield None
        return
    from ..metrics import PrometheusMetrics

    metrics = PrometheusMetrics()
    metrics.watch_ledger(ledger)
    try:
        server = metrics.serve(args.metrics_port, addr=args.metrics_addr)
    except OSError as exc:  # the port in use, an address not of this machine
        reason = exc.strerror or exc
        raise UsageError(f"--metrics-port {args.metrics_port}: cannot serve on {args.metrics_addr}: {reason}") from None
    err.write(f"expo-push worker: metrics at http://{args.metrics_addr}:{server.server_address[1]}/metrics\n")
    err.flush()
    try:
        yield metrics
    finally:
        server.shutdown()
        server.server_close()


def _announce(args: argparse.Namespace, ledger: Any, err: IO[str], created: bool) -> None:
    shown = shown_location(args.ledger)
    if created:
        err.write(
            f"expo-push worker: warning: there was no ledger at {shown}: a new, empty one was made "
            "(is the path right?)\n"
        )
    backlog = ledger.outbox_backlog()
    err.write(
        f"expo-push worker: sending the outbox of {shown} ({backlog.pending:,} pending); "
        "stop with Ctrl-C or SIGTERM\n"
    )
    err.flush()


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
    *,
    created: bool = False,
) -> None:
    """Run the outbox worker of ``ledger`` until ``stop`` is set, as the options say (checked by the caller).

    Once the metrics endpoint serves, it says what it sends and how much waits; ``created``: the ledger
    did not exist before (a mistyped path?), which it warns of.
    """
    with _metrics(args, ledger, err) as metrics:
        _announce(args, ledger, err, created)
        options: dict[str, Any] = {}
        if args.pacing == "shared":
            options["pacer"] = ledger.shared_pacer(args.rate_limit)
        if metrics is not None:
            options["metrics"] = metrics
        if args.project:
            options["project"] = args.project
        client = make_client(args, **options)
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

        interrupted = False
        try:
            ledger.run_worker(
                client, stop, batch_size=args.batch_size, poll_interval=args.poll_interval, on_batch=on_batch
            )
        except KeyboardInterrupt:  # a second stop signal: what was accepted is recorded, the rest waits
            interrupted = True
            raise
        finally:
            stop.set()
            if not interrupted:  # else threads may wait on answers that will not count: the process exits
                if checker is not None:
                    checker.join()
                client.close()
