"""The commands around a ledger's outbox and findings: ``enqueue``, ``worker`` and ``tokens``."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import IO

import msgspec

from .._errors import ValidationError
from .._signals import StopSignals, exit_status, signal_words, stop_notice
from ._input import InputError
from ._options import EXIT_OK, checked_base_url, is_url, make_client, open_ledger, shown_location
from ._receipts import iso_time
from ._send import input_messages
from ._worker import run_worker_command

__all__ = ["cmd_enqueue", "cmd_tokens", "cmd_worker"]


def cmd_enqueue(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    """``expo-push enqueue``: store messages in the ledger's outbox, for ``expo-push worker`` to send.

    A stop signal while the input is read stores nothing; once storing has begun, it finishes (one
    transaction), says so, and the exit status is then 128 + the signal's number.
    """
    entries = input_messages(args, stdin, err, key_field="key", key=args.key)
    keyed = [e.key for e in entries]
    signals: StopSignals = args.signals
    signals.shield()
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
    if signals.first is not None:
        err.write(f"expo-push enqueue: {signal_words(signals.first)} (after storing every message)\n")
        return exit_status(signals.first)
    return EXIT_OK


def cmd_worker(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    """``expo-push worker``: send what the ledger's outbox holds until SIGINT, SIGTERM or SIGHUP.

    Stopped by a signal, it finishes the batch it is sending and exits with 128 + the signal's number.
    """
    checked_base_url(args.base_url)
    created = not is_url(args.ledger) and not Path(args.ledger).exists()
    stop = threading.Event()
    signals: StopSignals = args.signals
    notice = stop_notice(err, "expo-push worker", "finishing the batch being sent")
    with signals.setting(stop, second_raises=True), signals.notifying(notice):
        ledger = open_ledger(args.ledger, must_exist=False)
        try:
            run_worker_command(args, ledger, make_client, stop, err, created=created)
        finally:
            ledger.close()
    signum = signals.first
    if signum is None:
        err.write("expo-push worker: stopped\n")
        return EXIT_OK
    err.write(f"expo-push worker: stopped: {signal_words(signum)}\n")
    return exit_status(signum)


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
