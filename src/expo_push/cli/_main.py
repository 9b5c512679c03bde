"""The ``expo-push`` command: its argument parser, and running one command with the right exit status.

Exit status: 0 when everything was accepted, 1 when some notifications failed, 2 on wrong input,
options or configuration (nothing is sent then; one line on standard error says what), 128 + the signal's
number when stopped by one: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP, 141 (SIGPIPE) when what it
prints is read no more (``| head``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import IO

from .._arguments import (
    STOPPED,
    CommandParser,
    HelpFormatter,
    command_epilog,
    count_argument,
    positive_seconds_argument,
    rate_argument,
)
from .._defaults import DEFAULT_BATCH_SIZE
from .._errors import PushServerError, ValidationError
from .._service import RATE_LIMIT
from .._signals import SIGPIPE_STATUS, Stopped, StopSignals, drop_output, exit_status, signal_words
from .._version import __version__
from ._input import InputError
from ._options import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_STOPPED,
    EXIT_USAGE,
    UsageError,
    add_ledger_option,
    add_service_options,
    add_verbosity_options,
    set_up_logging,
)
from ._outbox import cmd_enqueue, cmd_tokens, cmd_worker
from ._receipts import cmd_receipts
from ._send import add_message_options, cmd_send
from ._worker import add_worker_arguments

__all__ = ["build_parser", "main", "run"]

_WRONG = (EXIT_USAGE, "wrong input, options or configuration (one line says which): nothing was sent")

_SEND_EPILOG = command_epilog(
    [
        "expo-push send --to 'ExponentPushToken[xxx]' --title 'Order shipped' --body 'Arrives Tuesday'",
        "expo-push send --file messages.jsonl --ledger push.db",
        "expo-push send --file batch.json                    # a JSON array of messages",
        """expo-push send --file tokens.txt --title 'Sale' --data '{"screen": "offers"}'""",
        "cat tokens.txt | expo-push send --file - --title 'Sale'",
        "expo-push send --file messages.csv --json | expo-push receipts",
    ],
    [
        (EXIT_OK, "every recipient accepted"),
        (EXIT_FAILED, "some refused, or not sent because the service failed for good (the summary says which)"),
        _WRONG,
        STOPPED,
    ],
    """\
input formats (--file):
  jsonl   one message per line as a JSON object with the service's field names:
          {"to": "ExponentPushToken[...]", "title": "Hi", "data": {"id": 7}}
  json    a JSON array of such objects (read a message at a time)
  csv     a header row naming the columns: to (or token), then any message field
          (title, body, subtitle, sound, badge, ttl, channelId, priority, data, ...);
          data, badge, ttl, expiration, mutableContent and richContent cells are JSON
  tokens  one push token per line; the flags give every message its fields
  Input must be UTF-8. Input with no messages is an error (exit 2).

Stopped by a signal, no new request starts, those in flight get 2 s to come back, every ticket is
printed (and recorded), and the last line names the input line to resume from; a second signal
stops the wait (what was in flight is counted in doubt).""",
)

_RECEIPTS_EPILOG = command_epilog(
    [
        "expo-push receipts 'XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX'",
        "expo-push send --to 'ExponentPushToken[xxx]' --title Hi --json | expo-push receipts",
        "expo-push receipts --ledger push.db          # those due (15 minutes after sending)",
        "expo-push receipts --ledger push.db --now    # all those waiting, at once",
    ],
    [(EXIT_OK, "no receipt is an error"), (EXIT_FAILED, "some receipts are errors"), _WRONG, STOPPED],
)

_ENQUEUE_EPILOG = command_epilog(
    [
        "expo-push enqueue --ledger push.db --to 'ExponentPushToken[xxx]' --title Hi --key order-7-shipped",
        'expo-push enqueue --ledger push.db --file messages.jsonl     # a "key" field in a line is its key',
        "expo-push worker --ledger push.db                            # then send them",
    ],
    [
        (EXIT_OK, "every message stored (or already there, by key)"),
        (EXIT_USAGE, "wrong input, options or configuration (one line says which): nothing was stored"),
        STOPPED,
    ],
    "A key is an idempotency key: a message whose key is already in the outbox is not added again.\n"
    "Stopped while reading its input, it stores nothing; once storing has begun, it stores every message.",
)

_WORKER_EPILOG = command_epilog(
    [
        "expo-push worker --ledger push.db",
        "expo-push worker --ledger postgresql://push@db/app --metrics-port 9108 --receipts-every 300",
        "expo-push worker --ledger push.db --pacing local --project @acme/shop",
    ],
    [
        (EXIT_USAGE, "wrong options, or the ledger or the metrics port cannot be opened (one line says which)"),
        STOPPED,
    ],
    "It says on start how many notifications wait, and warns when the ledger did not exist (a new, empty\n"
    "one is made: is the path right?). Stopped by a signal, it finishes and records the batch it is sending;\n"
    "a second signal stops it at once (what was accepted is recorded, the rest waits in the outbox).",
)

_TOKENS_EPILOG = command_epilog(
    ["expo-push tokens --ledger push.db", "expo-push tokens --ledger push.db --json > dead.jsonl"],
    [(EXIT_OK, "listed (perhaps none)"), (EXIT_USAGE, "no ledger there, or it cannot be read"), STOPPED],
)

_DEMO_EPILOG = command_epilog(
    ["expo-push demo", "expo-push demo --count 100000 --rate-limit none"],
    [(EXIT_OK, "the demo ran and everything adds up"), (EXIT_USAGE, "wrong options"), STOPPED],
)


def _command(commands: argparse._SubParsersAction[CommandParser], name: str, **kwargs: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, formatter_class=HelpFormatter, **kwargs)  # type: ignore[arg-type]
    add_verbosity_options(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The ``expo-push`` argument parser."""
    parser = CommandParser(
        prog="expo-push",
        description="Send Expo push notifications, check receipts, keep an outbox, run the local emulator.",
        epilog="Run 'expo-push COMMAND -h' for a command's options, examples and exit status.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"expo-push {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    send = _command(
        commands,
        "send",
        help="send notifications from flags, a file or standard input",
        description="Send notifications now: one from flags, or one per line of a file or standard input. "
        "Every message is checked before the first is sent.",
        epilog=_SEND_EPILOG,
    )
    add_message_options(send)
    output = send.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print one JSON ticket per line instead of a summary")
    add_ledger_option(
        output, "record the tickets in this ledger (a SQLite file, created if needed, or a PostgreSQL URL)"
    )
    add_service_options(send)
    send.set_defaults(handler=cmd_send)

    enqueue = _command(
        commands,
        "enqueue",
        help="put messages in a ledger's outbox, for the worker to send",
        description="Store messages durably in a ledger's outbox; 'expo-push worker' sends them.",
        epilog=_ENQUEUE_EPILOG,
    )
    add_ledger_option(enqueue, "the ledger: a SQLite file (created if needed) or a PostgreSQL URL", required=True)
    enqueue.add_argument("--key", metavar="KEY", help="idempotency key of the message given with --to")
    add_message_options(enqueue)
    enqueue.set_defaults(handler=cmd_enqueue)

    receipts = _command(
        commands,
        "receipts",
        help="fetch receipts for ticket ids, or check those a ledger says are due",
        description="Fetch the receipts of ticket ids (arguments, or standard input: ids or send --json lines), "
        "or check the receipts a ledger says are due and act on them (dead tokens, resends).",
        epilog=_RECEIPTS_EPILOG,
    )
    receipts.add_argument("ids", nargs="*", metavar="ID", help="ticket ids; none or - reads standard input")
    receipts.add_argument("--json", action="store_true", help="print one JSON receipt per line")
    add_ledger_option(receipts, "check the receipts this ledger says are due (it must exist)")
    receipts.add_argument(
        "--now", action="store_true", help="with --ledger: check every waiting receipt now, not only those due"
    )
    add_service_options(receipts)
    receipts.set_defaults(handler=cmd_receipts)

    commands.add_parser(
        "emulator", help="run the local emulator of the service (see: expo-push emulator -h)", add_help=False
    )

    worker = _command(
        commands,
        "worker",
        help="send a ledger's outbox until stopped",
        description="Send what a ledger's outbox holds, and what is added to it, until SIGINT, SIGTERM or SIGHUP.",
        epilog=_WORKER_EPILOG,
    )
    add_ledger_option(worker, "the ledger: a SQLite file or a PostgreSQL URL", required=True)
    worker.add_argument(
        "--batch-size",
        type=count_argument(1),
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"notifications claimed from the outbox at a time (default: {DEFAULT_BATCH_SIZE})",
    )
    worker.add_argument(
        "--poll-interval",
        type=positive_seconds_argument,
        default=1.0,
        metavar="S",
        help="seconds between looks at an empty outbox (default: 1)",
    )
    add_worker_arguments(worker)
    add_service_options(worker)
    worker.set_defaults(handler=cmd_worker)

    tokens = _command(
        commands,
        "tokens",
        help="list the dead tokens a ledger knows",
        description="List the tokens the service reported as no longer registered: delete them from your database.",
        epilog=_TOKENS_EPILOG,
    )
    add_ledger_option(tokens, "the ledger to read (it must exist): a SQLite file or a PostgreSQL URL", required=True)
    tokens.add_argument(
        "--json", action="store_true", help="one JSON object per line: token, died_at (ISO 8601), reason, ..."
    )
    tokens.set_defaults(handler=cmd_tokens)

    demo = _command(
        commands,
        "demo",
        help="offline demo: 10,000 notifications through the built-in emulator",
        description="Send notifications to the built-in emulator, record them in a ledger, check receipts.",
        epilog=_DEMO_EPILOG,
    )
    demo.add_argument(
        "--count", type=count_argument(1), default=10_000, metavar="N", help="notifications to send (default: 10000)"
    )
    demo.add_argument(
        "--rate-limit",
        type=rate_argument,
        default=float(RATE_LIMIT),
        metavar="N|none",
        help=f"the emulated service's limit, and the client's pacing (default: {RATE_LIMIT})",
    )
    demo.set_defaults(handler=None)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: IO[str] | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """Run ``expo-push`` with ``argv``; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    stdin, out, err = stdin or sys.stdin, out or sys.stdout, err or sys.stderr
    if argv and argv[0] == "emulator":
        from ..emulator import main as emulator_main

        return emulator_main(argv[1:], prog="expo-push emulator")
    args = build_parser().parse_args(argv)
    handler = set_up_logging(args, err)
    try:
        with StopSignals() as args.signals:  # each command says what a stop signal does while it runs
            return _run_command(args, out, err, stdin)
    finally:
        logging.getLogger("expo_push").removeHandler(handler)


def _run_command(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    try:
        if args.command == "demo":
            from ._demo import run_demo

            return run_demo(count=args.count, rate_limit=args.rate_limit, out=out, err=err, quiet=args.quiet)
        status: int = args.handler(args, out, err, stdin)
        return status
    except (UsageError, InputError, ValidationError) as exc:
        err.write(f"expo-push {args.command}: {exc}\n")
        return EXIT_USAGE
    except PushServerError as exc:
        err.write(f"expo-push {args.command}: {exc}\n")
        return EXIT_FAILED
    except ImportError as exc:
        err.write(f"expo-push {args.command}: {exc}; install the extra it needs, e.g. pip install 'expo-push[all]'\n")
        return EXIT_USAGE
    except BrokenPipeError:  # what it prints is read no more (`| head`): it ends as SIGPIPE would end it
        drop_output(out)
        err.write(f"expo-push {args.command}: {signal_words(SIGPIPE_STATUS - 128)}\n")
        return SIGPIPE_STATUS
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM or SIGHUP before the command had anything to finish
        signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
        err.write(f"expo-push {args.command}: {signal_words(signum)}\n")
        return exit_status(signum)


def run() -> None:
    """Console-script entry point.

    Stopped by a signal (Ctrl-C, SIGTERM, SIGHUP), the process ends at once once everything known is printed:
    it does not wait for threads still waiting on answers that will not be counted (they are reported in doubt).
    """
    status = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # its reader left after the last write: nothing more to say to it
        drop_output(sys.stdout)
    if status > EXIT_STOPPED:
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
