"""``manage.py expo_push_receipts``: the receipts check; a dead token's device becomes inactive."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...._signals import StopSignals
from ....cli._receipts import receipts_summary, seconds_until_all_due
from ..._devices import deactivate_dead
from ..._ledger import ledger_for
from ..._settings import push_settings

__all__ = ["Command"]


class Command(BaseCommand):
    """Fetch the receipts that are due (from cron, every few minutes, or ``--every``)."""

    help = (
        "Fetch the push receipts that are due (15 minutes after sending), 1,000 a request; a device whose token"
        " came back DeviceNotRegistered becomes inactive."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """``--now`` and ``--every``."""
        parser.add_argument(
            "--now", action="store_true", help="ask for every receipt waited for, due or not (tests, demos)"
        )
        parser.add_argument(
            "--every", type=float, default=None, metavar="S", help="check every S seconds until SIGTERM or SIGINT"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Check once (or every ``--every`` seconds) and say what came back."""
        current = push_settings()
        db = current.database
        offset = 0.0
        if options["now"]:
            offset = seconds_until_all_due(ledger_for(db))
        ledger = ledger_for(db, on_dead_token=deactivate_dead(db), clock=lambda: time.time() + offset)
        with ledger, current.client() as client:
            every = options["every"]
            if every is None:
                summary = ledger.check_receipts(client)
                self.stdout.write(receipts_summary(summary, len(ledger.pending_receipts())), ending="")
                return
            stop = threading.Event()
            with StopSignals() as signals, signals.setting(stop):
                ledger.watch_receipts(client, stop, interval=every)
