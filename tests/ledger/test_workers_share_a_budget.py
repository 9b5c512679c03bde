"""Several outbox workers on one ledger, each with its own client, under the emulator's real rate limit."""

from __future__ import annotations

import threading
from typing import Any

from expo_push import PushClient
from expo_push.emulator import Emulator
from expo_push.ledger import Ledger

from .conftest import token

RATE = 400.0
NOTIFICATIONS = 1200  # 3 s at the shared rate


def _run_workers(ledger_url: str, emulator: Emulator, pacer_of: Any, workers: int = 3, rate: float = RATE) -> Ledger:
    """Enqueue, then send with ``workers`` workers (threads, each its own client and ledger connection), each
    paced to ``rate``, the emulator's limit."""
    emulator.rate_limit = rate
    ledger = Ledger.open(ledger_url)
    ledger.enqueue([{"to": token(f"share-{i}"), "body": "x"} for i in range(NOTIFICATIONS)])
    stop = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with (
                Ledger.open(ledger_url) as own,
                PushClient(base_url=emulator.url, rate_limit=RATE, http2=False, **pacer_of(own)) as client,
            ):
                own.run_worker(client, stop, batch_size=100, poll_interval=0.02)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    try:
        while ledger.outbox_backlog().pending or ledger.outbox_backlog().sending:
            if errors or stop.wait(0.05):
                break
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert errors == [], errors
    return ledger


def test_three_workers_sharing_the_ledgers_budget_draw_no_429_and_lose_nothing(
    ledger_url: str, expo_emulator: Emulator
) -> None:
    ledger = _run_workers(ledger_url, expo_emulator, lambda own: {"pacer": own.shared_pacer(RATE)})
    try:
        stats = expo_emulator.stats
        seen = (stats, ledger.stats().outbox)  # shown whole if an assertion fails
        assert stats.rate_limited == 0, seen
        assert stats.notifications == NOTIFICATIONS, seen
        assert stats.duplicates == 0, seen
        assert ledger.stats().outbox == {"sent": NOTIFICATIONS, "resent": 0, "in_doubt": 0}, seen
    finally:
        ledger.close()


def test_three_workers_each_paced_alone_overdraw_the_budget(tmp_path: Any, expo_emulator: Emulator) -> None:
    # The row to compare with: the same workers without the shared budget offer 3x the rate and draw 429s
    # (and, retrying, still lose nothing). At 200/s the 1,200 would need 5 s to pass: 2.5x slower than the
    # workers go, however loaded the machine.
    ledger = _run_workers(str(tmp_path / "push.db"), expo_emulator, lambda own: {}, rate=200.0)
    try:
        stats = expo_emulator.stats
        assert stats.rate_limited > 0
        assert stats.notifications - stats.duplicates == NOTIFICATIONS
    finally:
        ledger.close()
