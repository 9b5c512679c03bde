"""The emulator's command line: parse options, serve, print the URL, stop on SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .._arguments import rate_argument, seconds_argument

__all__ = ["build_parser", "main"]


def build_parser(prog: str = "python -m expo_push.emulator") -> argparse.ArgumentParser:
    """The argument parser of the emulator command (reused by ``expo-push emulator``)."""
    parser = argparse.ArgumentParser(prog=prog, description="Run a local emulator of the Expo Push service.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=0, metavar="N", help="port to listen on; 0 picks a free one (default: 0)"
    )
    parser.add_argument(
        "--rate-limit",
        type=rate_argument,
        default=600.0,
        metavar="N|none",
        help="notifications per second per project before 429 (default: 600; 'none' turns it off)",
    )
    parser.add_argument(
        "--latency-ms", type=seconds_argument, default=0.0, metavar="MS", help="milliseconds added to every request"
    )
    parser.add_argument(
        "--receipt-delay", type=seconds_argument, default=0.0, metavar="S", help="seconds before receipts are available"
    )
    parser.add_argument(
        "--receipt-retention",
        type=seconds_argument,
        default=86400.0,
        metavar="S",
        help="seconds receipts are kept (default: 86400)",
    )
    parser.add_argument(
        "--access-token",
        action="append",
        default=None,
        metavar="TOKEN",
        help="require 'Authorization: Bearer TOKEN' (repeat to allow several)",
    )
    parser.add_argument(
        "--default-project", default="@test/app", metavar="@OWNER/SLUG", help="project of unassigned tokens"
    )
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m expo_push.emulator") -> int:
    """Run the emulator from command-line arguments until SIGINT or SIGTERM; return the exit status.

    The first line printed (and flushed) is ``Expo Push emulator listening on <url>``.
    ``prog`` is the command name shown in help and usage errors.
    """
    args = build_parser(prog).parse_args(argv)
    try:
        from . import Emulator
    except ModuleNotFoundError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    emulator = Emulator(
        args.host,
        args.port,
        rate_limit=args.rate_limit,
        latency=args.latency_ms / 1000.0,
        receipt_delay=args.receipt_delay,
        receipt_retention=args.receipt_retention,
        access_tokens=args.access_token,
        default_project=args.default_project,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            emulator.start()
        except OSError as exc:  # port in use, an address not of this machine, a host name that does not resolve
            print(f"{prog}: cannot listen on {args.host} port {args.port}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"Expo Push emulator listening on {emulator.url}", flush=True)
        stop.wait()
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
