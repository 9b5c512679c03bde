"""The emulator's command line: parse options, serve, print the URL, stop on SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence

from .._arguments import (
    CommandParser,
    HelpFormatter,
    command_epilog,
    count_argument,
    port_argument,
    project_argument,
    rate_argument,
    seconds_argument,
)
from .._signals import StopSignals
from ._history import DEFAULT_HISTORY
from ._service import PROJECT_FORM

__all__ = ["build_parser", "main"]

_EXAMPLES = [
    "{prog} --port 8080                           # http://127.0.0.1:8080, the inbox at its /",
    "{prog} --port 8080 --rate-limit none --latency-ms 20",
    "{prog} --tls --access-token secret           # https, push security on",
    "EXPO_BASE_URL=http://127.0.0.1:8080 expo-push send --to 'ExponentPushToken[xxx]' --title Hi",
]
_STATUSES = [
    (0, "stopped by Ctrl-C (SIGINT), SIGTERM or SIGHUP: stopping is how it ends"),
    (2, "wrong options, or it cannot listen where asked (one line says why)"),
]


def build_parser(prog: str = "python -m expo_push.emulator") -> argparse.ArgumentParser:
    """The argument parser of the emulator command (reused by ``expo-push emulator``)."""
    parser = CommandParser(
        prog=prog,
        description="Run a local emulator of the Expo Push service until SIGINT (Ctrl-C), SIGTERM or SIGHUP. "
        "The first line printed is its URL.",
        epilog=command_epilog([example.format(prog=prog) for example in _EXAMPLES], _STATUSES),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=port_argument, default=0, metavar="N", help="port to listen on; 0 picks a free one (default: 0)"
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
        "--default-project",
        type=project_argument(PROJECT_FORM),
        default="@test/app",
        metavar="@OWNER/SLUG",
        help="project of unassigned tokens (default: @test/app)",
    )
    parser.add_argument(
        "--registered-only",
        action="store_true",
        help="answer every token not registered (POST /--/emulator/register) with DeviceNotRegistered",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=count_argument(1),
        default=4 * 1024 * 1024,
        metavar="N",
        help="largest request body taken, as sent and decompressed; larger: 413 (default: 4 MiB)",
    )
    parser.add_argument(
        "--history",
        type=count_argument(1),
        default=DEFAULT_HISTORY,
        metavar="N",
        help=f"latest notifications kept for the inbox; older ones are forgotten (default: {DEFAULT_HISTORY:,})",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve https (HTTP/2 and HTTP/1.1) with a certificate made at start; prints the CA file to trust",
    )
    parser.add_argument(
        "--control-token",
        default=os.environ.get("EXPO_EMULATOR_CONTROL_TOKEN") or None,
        metavar="TOKEN",
        help="require this token on the control routes and the inbox (X-Emulator-Token header or ?token=); "
        "give one when --host is reachable beyond this machine (default: $EXPO_EMULATOR_CONTROL_TOKEN)",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m expo_push.emulator") -> int:
    """Run the emulator from command-line arguments until SIGINT, SIGTERM or SIGHUP; return the exit status.

    The first line printed (and flushed) is ``Expo Push emulator listening on <url>``; with
    ``--tls`` the next says which CA file clients must trust. The inbox page is at the URL.
    ``prog`` is the command name shown in help and usage errors.
    """
    args = build_parser(prog).parse_args(argv)
    try:
        from . import Emulator
        from ._control import is_loopback
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
        registered_only=args.registered_only,
        max_body_bytes=args.max_body_bytes,
        history=args.history,
        tls=args.tls,
        control_token=args.control_token,
    )
    stop = threading.Event()
    with StopSignals() as signals, signals.setting(stop):
        try:
            try:
                emulator.start()
            except OSError as exc:  # port in use, an address not of this machine, a host name that does not resolve
                reason = exc.strerror or exc
                print(f"{prog}: cannot listen on {args.host} port {args.port}: {reason}", file=sys.stderr)
                return 2
            print(f"Expo Push emulator listening on {emulator.url}", flush=True)
            if emulator.ca_file is not None:
                print(f"TLS: trust the CA in {emulator.ca_file} (e.g. SSL_CERT_FILE, NODE_EXTRA_CA_CERTS)", flush=True)
            print(f"Inbox: open {emulator.url}/ in a browser", flush=True)
            if not is_loopback(args.host) and args.control_token is None:
                print(
                    f"warning: {args.host} is reachable beyond this machine and the control routes (faults, reset, "
                    "the inbox) are open to anyone who reaches it: pass --control-token",
                    file=sys.stderr,
                    flush=True,
                )
            stop.wait()
        finally:
            emulator.stop()
    return 0
