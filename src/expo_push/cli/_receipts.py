"""``expo-push receipts``: fetch the receipts of ticket ids, or check those a ledger says are due.

Exit status: 0 when no receipt is an error, 1 when some are, 2 for wrong input (no ids, a ledger that is
not there).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING, Any

import msgspec

from .._errors import shown_text
from .._service import TICKET_ID_FORM
from ._input import InputError
from ._options import EXIT_FAILED, EXIT_OK, UsageError, make_client, open_ledger, shown_location

if TYPE_CHECKING:
    from .._models import PushReceipt
    from ..ledger import ReceiptCheck

__all__ = ["cmd_receipts", "iso_time", "receipts_summary", "seconds_until_all_due", "tickets_from"]


def iso_time(epoch: float) -> str:
    """``epoch`` as ISO 8601 in UTC, to the second: ``2026-11-28T22:14:09Z``."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def tickets_from(lines: Iterable[str]) -> tuple[list[str], dict[str, str], int]:
    """Ticket ids, one per line (or the tickets ``send --json`` prints), their tokens where given, and lines read."""
    ids: list[str] = []
    tokens: dict[str, str] = {}
    read = 0
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        read += 1
        if not text.startswith("{"):
            ids.append(text)
            continue
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise InputError(
                f"standard input line {number}: not a ticket id nor a JSON ticket: {text[:60]!r}"
            ) from None
        if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
            ids.append(value["id"])
            if isinstance(value.get("to"), str):
                tokens[value["id"]] = value["to"]
    return ids, tokens, read


def cmd_receipts(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    """``expo-push receipts``."""
    if args.ledger:
        if args.ids:
            raise UsageError("give ticket ids or --ledger, not both")
        return _check_ledger(args, out)
    if args.now:
        raise UsageError("--now goes with --ledger")
    tokens: dict[str, str] = {}
    if not args.ids or args.ids == ["-"]:
        ids, tokens, read = tickets_from(stdin)
        if not ids:
            if read:
                raise UsageError(
                    f"no ticket ids in standard input ({read:,} lines read): tickets refused at send have no id"
                )
            raise UsageError("give ticket ids as arguments, on standard input (send --json | receipts), or --ledger")
    else:
        ids = list(args.ids)
    wrong = [i for i in ids if not re.fullmatch(TICKET_ID_FORM, i)]
    if wrong:
        what = "cannot be blank" if not wrong[0].strip() else "is a UUID (XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX)"
        raise UsageError(f"a ticket id {what}, as send --json prints it; not {shown_text(wrong[0])!r}")
    with make_client(args) as client:
        receipts = client.get_receipts(ids)
    _print_receipts(out, ids, receipts, tokens, args.json)
    return EXIT_OK if all(r.ok for r in receipts.values()) else EXIT_FAILED


def _print_receipts(
    out: IO[str], ids: Sequence[str], receipts: dict[str, PushReceipt], tokens: dict[str, str], as_json: bool
) -> None:
    width = max(len(i) for i in ids)
    for receipt_id in ids:
        receipt = receipts.get(receipt_id)
        token = tokens.get(receipt_id)
        if as_json:
            value: dict[str, Any] = msgspec.to_builtins(receipt) if receipt else {"id": receipt_id, "status": "pending"}
            if token is not None:
                value["to"] = token
            out.write(msgspec.json.encode(value).decode() + "\n")
            continue
        if receipt is None:
            status, detail = "pending", "(no receipt yet, or expired)"
        else:
            status = shown_text(receipt.status)
            detail = "" if receipt.ok else shown_text(f"{receipt.error_code or ''} {receipt.message or ''}".strip())
        line = f"{receipt_id:<{width}}  {status:<8}{'  ' + token if token else ''}  {detail}"
        out.write(line.rstrip() + "\n")


def _check_ledger(args: argparse.Namespace, out: IO[str]) -> int:
    ledger = open_ledger(args.ledger, must_exist=True)
    try:
        if args.now:
            offset = seconds_until_all_due(ledger)
            ledger.close()
            ledger = open_ledger(args.ledger, must_exist=True, clock=lambda: time.time() + offset)
        with make_client(args) as client:
            summary = ledger.check_receipts(client)
        pending = ledger.pending_receipts()
    finally:
        ledger.close()
    out.write(receipts_summary(summary, len(pending)))
    if pending:
        due = min(p.due_at for p in pending)
        wait = due - time.time()
        when = "now" if wait <= 0 else f"in {_duration(wait)}"
        out.write(
            f"next due {when} ({iso_time(due)}); to check them all now: "
            f"expo-push receipts --ledger {shown_location(args.ledger)} --now\n"
        )
    return EXIT_OK if not summary.errors else EXIT_FAILED


def seconds_until_all_due(ledger: Any) -> float:
    """How far ahead a ledger's clock must be for every receipt it waits for to be due (checking "now" is
    checking as if the latest receipt were due)."""
    late = max((p.due_at for p in ledger.pending_receipts()), default=0.0) - time.time()
    return max(late, 0.0)


def receipts_summary(summary: ReceiptCheck, waiting: int) -> str:
    """The lines saying what a receipts check did, ``waiting`` receipts left."""
    rows: list[tuple[str, str]] = [("checked", f"{summary.checked:,}"), ("ok", f"{summary.ok:,}")]
    rows += [(f"  {shown_text(code)}", f"{n:,}") for code, n in summary.errors.items()]
    rows += [("waiting", f"{waiting:,}"), ("no receipt in time", f"{summary.missing:,}")]
    rows += [("dead tokens found", f"{len(summary.dead_tokens):,}"), ("rescheduled", f"{summary.resends:,}")]
    return "".join(f"{label:<24}{value:>10}\n" for label, value in rows)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
