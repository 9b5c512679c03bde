"""``expo-push demo``: the whole toolkit offline, against the built-in emulator, in well under a minute.

It sends 10,000 notifications to synthetic tokens, of which some are dead (at
send time, or only in their receipt) and some belong to a second Expo project,
records them in a SQLite ledger, checks receipts "15 minutes later" on the
ledger's clock, and prints what happened and the Python that did it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import IO

from .._client import PushClient
from .._errors import PushServerError
from .._models import PushTicket
from .._service import DEVICE_NOT_REGISTERED
from ._progress import Progress
from ._send import deliver

__all__ = ["run_demo"]

PYTHON = """\
    ledger = Ledger.open("push.db")
    with PushClient(access_token=...) as client:
        tickets = ledger.send(client, messages)   # chunked, paced, retried, recorded
        ledger.check_receipts(client)             # 15 minutes later: receipts, dead tokens
"""


def _token(i: int) -> str:
    return f"ExponentPushToken[demo-{i:07d}]"


class _Clock:
    """The ledger's clock: real time, plus however far the demo has jumped ahead."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def run_demo(*, count: int, rate_limit: float | None, out: IO[str], err: IO[str], quiet: bool = False) -> int:
    """Run the demo; return 0 when every number adds up, 1 otherwise."""
    from ..emulator import Emulator
    from ..ledger import Ledger

    tokens = [_token(i) for i in range(count)]
    dead_at_send = tokens[7::100]
    dead_at_receipt = tokens[57::100]
    second_project = tokens[3::10]
    clock = _Clock()
    with Emulator(rate_limit=rate_limit) as emulator, tempfile.TemporaryDirectory() as folder:
        for token in dead_at_send:
            emulator.script_token(token, ticket_error=DEVICE_NOT_REGISTERED)
        for token in dead_at_receipt:
            emulator.script_token(token, receipt_error=DEVICE_NOT_REGISTERED)
        emulator.set_project(second_project, "@demo/second-app")
        out.write(
            f"expo-push demo: {count:,} notifications to the built-in emulator at {emulator.url}\n"
            f"  {len(dead_at_send)} tokens dead at send time, {len(dead_at_receipt)} found dead only by their "
            f"receipt, {len(second_project):,} in a second Expo project; service limit "
            f"{'none' if rate_limit is None else f'{rate_limit:,.0f}/s'}\n"
        )
        messages = [
            {"to": token, "title": "Your order shipped", "body": f"Order #{i} is on its way", "data": {"order": i}}
            for i, token in enumerate(tokens)
        ]
        ledger = Ledger.open(Path(folder) / "push.db", clock=clock)
        started = time.monotonic()
        failure: PushServerError | None = None
        accepted = errors = 0
        with PushClient(base_url=emulator.url, rate_limit=rate_limit) as client:
            progress = Progress(count, err, shown=not quiet)

            def on_ticket(ticket: PushTicket) -> None:
                nonlocal accepted, errors
                accepted += ticket.ok
                errors += not ticket.ok
                progress.advance()

            try:
                delivery = deliver(client, messages, ledger=ledger, on_ticket=on_ticket)
            finally:
                progress.close()
            failure = delivery.failure
            if delivery.interrupted:
                raise KeyboardInterrupt
            send_seconds = time.monotonic() - started
            clock.offset += 15 * 60
            check = ledger.check_receipts(client)
        stats = emulator.stats
        dead = ledger.dead_tokens()
        ledger.close()
    found = {d.token for d in dead}
    expected = set(dead_at_send) | set(dead_at_receipt)
    rows = [
        ("notifications sent", f"{count:,}"),
        ("accepted by the service", f"{accepted:,}"),
        ("refused at send (DeviceNotRegistered)", f"{errors:,}"),
        ("receipts checked 15 min later", f"{check.checked:,}"),
        ("receipts ok", f"{check.ok:,}"),
        ("receipt errors", ", ".join(f"{code} {n}" for code, n in check.errors.items()) or "0"),
        ("dead tokens found", f"{len(found):,} of {len(expected):,}"),
        ("requests made (sends + receipts)", f"{stats.requests:,}"),
        ("429s drawn", f"{stats.rate_limited:,}"),
        ("duplicates", f"{stats.duplicates:,}"),
        ("wall time of the send", f"{send_seconds:.1f} s"),
        ("notifications per second", f"{count / send_seconds:,.0f}"),
    ]
    width = max(len(label) for label, _ in rows)
    value_width = max(len(value) for _, value in rows)
    out.write("\n")
    for label, value in rows:
        out.write(f"  {label:<{width}}  {value:>{value_width}}\n")
    out.write(f"\nThe Python that did the same:\n\n{PYTHON}\n")
    all_add_up = (
        failure is None
        and found == expected
        and accepted == count - len(dead_at_send)
        and check.ok == accepted - len(dead_at_receipt)
        and stats.duplicates == 0
    )
    if failure is not None:
        err.write(f"expo-push demo: the send failed: {failure}\n")
    elif not all_add_up:
        err.write("expo-push demo: the numbers do not add up (see above)\n")
    return 0 if all_add_up else 1
