"""The commands around a ledger's outbox and findings: ``enqueue``, ``worker`` and ``tokens``."""

from __future__ import annotations

import argparse
import threading
from typing import IO

import msgspec

from .._errors import ValidationError
from ._input import InputError
from ._options import EXIT_OK, UsageError, checked_base_url, make_client, open_ledger, shown_location
from ._receipts import iso_time
from ._send import input_messages
from ._worker import run_worker_command, stop_on_signals, worker_usage_problem

__all__ = ["cmd_enqueue", "cmd_tokens", "cmd_worker"]


def cmd_enqueue(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    """``expo-push enqueue``: store messages in the ledger's outbox, for ``expo-push worker`` to send."""
    entries = input_messages(args, stdin, err, key_field="key", key=args.key)
    keyed = [e.key for e in entries]
    ledger = open_ledger(args.ledger, must_exist=False)
    try:
        try:
            new = ledger.enqueue([e.message for e in entries], keys=keyed if any(keyed) else None)
        except ValidationError as exc:  # checked already; a key that is not a string, say
            raise InputError(str(exc)) from None
    finally:
        ledger.close()
    total = len(entries)
    known = f" ({total - new:,} already there, by key)" if new < total else ""
    out.write(f"enqueued {new:,} of {total:,} messages in {shown_location(args.ledger)}{known}\n")
    return EXIT_OK


def cmd_worker(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    """``expo-push worker``: send what the ledger's outbox holds until SIGINT or SIGTERM."""
    stop = threading.Event()
    problem = worker_usage_problem(args)
    if problem is not None:
        raise UsageError(problem)
    checked_base_url(args.base_url)
    with stop_on_signals(stop):
        ledger = open_ledger(args.ledger, must_exist=False)
        try:
            err.write(f"expo-push worker: sending the outbox of {shown_location(args.ledger)}; stop with Ctrl-C\n")
            err.flush()
            run_worker_command(args, ledger, make_client, stop, err)
        finally:
            ledger.close()
    err.write("expo-push worker: stopped\n")
    return EXIT_OK


def cmd_tokens(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    """``expo-push tokens``: list the dead tokens a ledger knows, to delete them from your database."""
    ledger = open_ledger(args.ledger, must_exist=True)
    try:
        dead = list(ledger.dead_tokens())
    finally:
        ledger.close()
    for entry in dead:
        if args.json:
            value = msgspec.to_builtins(entry)
            value["died_at"] = iso_time(entry.died_at)
            out.write(msgspec.json.encode(value).decode() + "\n")
        else:
            out.write(f"{entry.token}\n")
    return EXIT_OK
