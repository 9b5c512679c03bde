"""An outbox worker in a process of its own, for the crash test: ``python worker_process.py URL EMULATOR_URL MODE``.

``run`` works until killed, printing ``sent <n>`` after every batch; ``drain``
sends what is left, prints ``done <sent> <reclaimed>`` and exits.
"""

from __future__ import annotations

import sys
import threading

from expo_push import PushClient
from expo_push.ledger import Ledger, WorkerRun

BATCH_SIZE = 500


def main() -> None:
    url, emulator_url, mode = sys.argv[1:4]
    with Ledger.open(url) as ledger, PushClient(base_url=emulator_url, rate_limit=None, http2=False) as client:
        if mode == "drain":
            run = ledger.drain(client, batch_size=BATCH_SIZE)
            print(f"done {run.sent} {run.reclaimed}", flush=True)
            return

        def progress(run: WorkerRun) -> None:
            print(f"sent {run.sent}", flush=True)

        ledger.run_worker(client, threading.Event(), batch_size=BATCH_SIZE, poll_interval=0.05, on_batch=progress)


if __name__ == "__main__":
    main()
