"""``manage.py expo_push_worker``: the outbox worker of the project's database, until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import inspect
import sys
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...._client import PushClient
from ...._service import RATE_LIMIT
from ...._signals import StopSignals, exit_status, signal_words, stop_notice
from ....cli._worker import add_worker_arguments, run_worker_command
from ....ledger import Ledger
from ..._devices import deactivate_dead
from ..._ledger import ledger_for, ledger_location
from ..._settings import push_settings

__all__ = ["Command"]

_DEFAULTS = inspect.signature(Ledger.run_worker).parameters


def _first(*values: Any) -> Any:
    """The first value given (not None): the option, else the setting, else the ledger's default."""
    return next(value for value in values if value is not None)


class Command(BaseCommand):
    """Send what ``notify`` enqueued; a dead token's device becomes inactive. Several may run at once."""

    help = (
        "Send the notifications in the outbox until SIGTERM or SIGINT (Ctrl-C), sharing the service's rate"
        " budget with every other worker of this database; devices of dead tokens become inactive."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """The worker's options: those of ``expo-push worker`` but the ledger's and the service's."""
        parser.add_argument("--batch-size", type=int, default=None, metavar="N", help="notifications per claim")
        parser.add_argument(
            "--poll-interval", type=float, default=None, metavar="S", help="seconds between looks at an empty outbox"
        )
        add_worker_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the worker until a signal stops it."""
        current = push_settings()
        batch_size = _first(options["batch_size"], current.batch_size, _DEFAULTS["batch_size"].default)
        poll_interval = _first(options["poll_interval"], current.poll_interval, _DEFAULTS["poll_interval"].default)
        if batch_size < 1 or poll_interval <= 0:
            raise CommandError(f"--batch-size ({batch_size}) and --poll-interval ({poll_interval}) must be positive")
        db = current.database
        namespace = argparse.Namespace(
            **{k: options[k] for k in ("pacing", "project", "metrics_port", "metrics_addr", "receipts_every")},
            ledger=ledger_location(db),  # as printed: without a password
            rate_limit=RATE_LIMIT,
            batch_size=batch_size,
            poll_interval=poll_interval,
        )

        def make_client(_: argparse.Namespace, **client_options: Any) -> PushClient:
            return current.client(**client_options)

        lease = {} if current.lease is None else {"lease": current.lease}
        stop = threading.Event()
        notice = stop_notice(sys.stderr, "expo_push_worker", "finishing the batch being sent")
        ledger = ledger_for(db, on_dead_token=deactivate_dead(db), **lease)
        with StopSignals() as signals, signals.setting(stop, second_raises=True), signals.notifying(notice), ledger:
            run_worker_command(namespace, ledger, make_client, stop, sys.stderr)
        if signals.first is None:
            self.stderr.write("expo_push_worker: stopped")
            return
        self.stderr.write(f"expo_push_worker: stopped: {signal_words(signals.first)}")
        raise SystemExit(exit_status(signals.first))  # 128 + the signal, as expo-push worker
