"""One outbox worker of the scale-out benchmark, a process of its own (standing in for a machine).

    python -m bench.outbox_worker LEDGER_URL EMULATOR_URL shared|local RATE

It opens the ledger, makes its client (paced to RATE per project, through the
ledger's shared pacer or its own in-process one), prints ``ready``, waits for a
line on standard input, then runs ``Ledger.run_worker`` until SIGTERM, printing
``sent N`` after each batch and a JSON summary at the end.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from types import FrameType
from typing import Any

from expo_push import PushClient
from expo_push.ledger import Ledger, WorkerRun

BATCH_SIZE = 500


def main(argv: list[str]) -> int:
    url, emulator_url, pacing, rate_text = argv
    rate = float(rate_text)
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    with Ledger.open(url) as ledger:
        options: dict[str, Any] = {"pacer": ledger.shared_pacer(rate)} if pacing == "shared" else {}
        with PushClient(base_url=emulator_url, rate_limit=rate, http2=False, **options) as client:
            print("ready", flush=True)
            sys.stdin.readline()

            def progress(run: WorkerRun) -> None:
                print(f"sent {run.sent}", flush=True)

            run = ledger.run_worker(client, stop, batch_size=BATCH_SIZE, poll_interval=0.05, on_batch=progress)
    print(json.dumps({"sent": run.sent, "reclaimed": run.reclaimed, "failed_batches": run.failed_batches}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
