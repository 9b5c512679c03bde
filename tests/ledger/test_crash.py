"""At-least-once delivery: a worker killed with SIGKILL mid-send loses nothing, on both backends."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from expo_push.emulator import Emulator
from expo_push.ledger import Ledger

from .conftest import token
from .worker_process import BATCH_SIZE

WORKER = Path(__file__).with_name("worker_process.py")
TOTAL = 4000


def _worker(url: str, emulator: Emulator, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, emulator.url, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_worker_killed_mid_send_loses_nothing_and_resends_at_most_what_was_in_flight(
    ledger_url: str, emulator: Emulator
) -> None:
    emulator.latency = 0.02
    keys = [f"n{i}" for i in range(TOTAL)]
    with Ledger.open(ledger_url) as ledger:
        # One token per notification: every duplicate the emulator counts is a notification sent twice.
        assert ledger.enqueue([{"to": token(i), "data": {"n": i}} for i in range(TOTAL)], keys=keys) == TOTAL

    first = _worker(ledger_url, emulator, "run")
    assert first.stdout is not None
    assert first.stdout.readline().startswith("sent ")  # one batch sent and recorded
    emulator.add_fault("stall")  # hold the next request: the worker is mid-send...
    assert emulator.wait_for_stalls(1, timeout=30)
    first.send_signal(signal.SIGKILL)  # ...when it dies
    assert first.wait(30) == -signal.SIGKILL
    first.stdout.close()
    assert first.stderr is not None
    first.stderr.close()
    emulator.release_stalls()  # the held request goes through after all: its notifications will go twice
    assert emulator.wait_idle(timeout=30)
    at_kill = emulator.stats.notifications
    assert BATCH_SIZE <= at_kill < TOTAL

    second = _worker(ledger_url, emulator, "drain")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    _, sent, reclaimed = out.split()

    with Ledger.open(ledger_url) as ledger:
        assert {state for _, state in ledger.outbox()} == {"sent"}
        waiting = ledger.pending_receipts()
        assert {p.key for p in waiting} == set(keys)  # every notification has a ticket
        resent = ledger.stats().outbox["resent"]
    stats = emulator.stats
    assert 0 < int(reclaimed) == resent <= BATCH_SIZE  # what was in flight: no more than one batch
    assert stats.duplicates <= resent  # sent twice only if in flight at the kill, and counted
    assert stats.notifications == TOTAL + stats.duplicates
    assert len(waiting) == TOTAL  # one ticket each: a row is recorded and marked sent in one transaction
    assert int(sent) >= TOTAL - at_kill  # the restarted worker finished the job
