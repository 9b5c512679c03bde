"""The ``expo-push`` command: argument parsing and the send, receipts, emulator, worker, tokens and demo commands.

Exit status: 0 when everything was accepted, 1 when some notifications failed,
2 on usage or validation errors (nothing is sent then).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from types import FrameType
from typing import IO, Any

import msgspec

from .._arguments import rate_argument
from .._client import PushClient
from .._errors import PushServerError
from .._message import prepare_message
from .._models import PushReceipt, PushTicket
from .._version import __version__
from ._input import InputError, Source, checked, parse_json_object, read_messages
from ._progress import Progress
from ._worker import add_worker_arguments, run_worker_command, worker_usage_problem

__all__ = ["build_parser", "main", "run", "send_tickets"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Wrong arguments: reported on standard error with exit status 2."""


# --- options shared by the commands that talk to the service --------------------------------------


def _add_service_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("service")
    group.add_argument("--base-url", help="the service (default: $EXPO_BASE_URL, else https://exp.host)")
    group.add_argument(
        "--access-token",
        help="Expo access token for push security (default: $EXPO_ACCESS_TOKEN, else $EXPO_TOKEN); never printed",
    )
    group.add_argument(
        "--rate-limit", type=rate_argument, default=600.0, metavar="N|none", help="notifications per second"
    )
    group.add_argument("--max-concurrency", type=int, default=6, metavar="N", help="requests in flight (default 6)")
    group.add_argument("--max-retries", type=int, default=5, metavar="N", help="retries per request (default 5)")
    group.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds per request (default 30)")


def _client(args: argparse.Namespace, **options: Any) -> PushClient:
    token = args.access_token or os.environ.get("EXPO_ACCESS_TOKEN") or os.environ.get("EXPO_TOKEN") or None
    if args.max_concurrency < 1:
        raise UsageError("--max-concurrency must be at least 1")
    if args.max_retries < 0:
        raise UsageError("--max-retries must not be negative")
    return PushClient(
        token,
        base_url=args.base_url,
        rate_limit=args.rate_limit,
        max_concurrency=args.max_concurrency,
        max_retries=args.max_retries,
        timeout=args.timeout,
        **options,
    )


def _open_ledger(location: str) -> Any:
    from ..ledger import Ledger

    return Ledger.open(location)


# --- send -----------------------------------------------------------------------------------------

_TEMPLATE_FLAGS = {
    "title": "title",
    "body": "body",
    "subtitle": "subtitle",
    "sound": "sound",
    "badge": "badge",
    "ttl": "ttl",
    "channel_id": "channelId",
    "category_id": "categoryId",
    "priority": "priority",
    "interruption_level": "interruptionLevel",
}


def _template(args: argparse.Namespace) -> dict[str, Any]:
    template: dict[str, Any] = {}
    for attr, wire in _TEMPLATE_FLAGS.items():
        value = getattr(args, attr)
        if value is not None:
            template[wire] = value
    if args.data is not None:
        template["data"] = parse_json_object(args.data, "--data")
    return template


LEDGER_BATCH = 1000
"""Messages per ``Ledger.send`` call when the CLI records a send, so that progress moves."""


def send_tickets(client: PushClient, messages: list[dict[str, Any]], ledger: Any = None) -> Iterator[PushTicket]:
    """Send ``messages``, recorded in ``ledger`` if given; yield the tickets in input order.

    A ``PushServerError`` that ends the send lists in ``.unsent`` every
    recipient not accepted, including those of batches not yet started.
    """
    if ledger is None:
        yield from client.iter_send(messages)
        return
    for start in range(0, len(messages), LEDGER_BATCH):
        try:
            yield from ledger.send(client, messages[start : start + LEDGER_BATCH])
        except PushServerError as exc:
            rest = messages[start + LEDGER_BATCH :]
            exc.unsent.extend(prepare_message(message, index).message for index, message in enumerate(rest))
            raise


def _ticket_json(ticket: PushTicket) -> bytes:
    return msgspec.json.encode(ticket)


def cmd_send(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    """``expo-push send``: one notification from flags, or many from a file or standard input."""
    if bool(args.to) == bool(args.file):
        raise UsageError("give recipients with --to, or messages with --file (a path, or - for standard input)")
    template = _template(args)
    if args.file:
        messages = read_messages(Source(args.file, args.format), template, stdin)
    else:
        messages = [checked({**template, "to": args.to[0] if len(args.to) == 1 else args.to}, "the flags")]
    total = sum(1 if isinstance(m["to"], str) else len(m["to"]) for m in messages)
    progress = Progress(total, err)
    tickets: list[PushTicket] = []
    failure: PushServerError | None = None
    with _client(args) as client:
        ledger = _open_ledger(args.ledger) if args.ledger else None
        try:
            for ticket in send_tickets(client, messages, ledger):
                tickets.append(ticket)
                progress.advance()
                if args.json:
                    out.write(_ticket_json(ticket).decode() + "\n")
        except PushServerError as exc:
            failure = exc
            tickets.extend(exc.tickets)
            progress.advance(len(exc.tickets))
            if args.json:
                for ticket in exc.tickets:
                    out.write(_ticket_json(ticket).decode() + "\n")
        finally:
            progress.close()
            if ledger is not None:
                ledger.close()
    unsent = [t for m in failure.unsent for t in m.recipients] if failure else []
    if args.json:
        for token in unsent:
            out.write(json.dumps({"to": token, "status": "unsent", "code": failure.code if failure else None}) + "\n")
    else:
        _print_send_summary(out, total, tickets, unsent, failure)
    if failure is not None:
        err.write(f"expo-push: {failure}\n")
    return EXIT_OK if not unsent and all(t.ok for t in tickets) else EXIT_FAILED


def _print_send_summary(
    out: IO[str], total: int, tickets: Sequence[PushTicket], unsent: Sequence[str], failure: PushServerError | None
) -> None:
    accepted = sum(t.ok for t in tickets)
    codes = Counter(t.error_code or "error" for t in tickets if not t.ok)
    dead = [t.to for t in tickets if t.error_code == "DeviceNotRegistered"]
    rows = [("sent", total), ("accepted", accepted), ("failed", len(tickets) - accepted)]
    rows += [(f"  {code}", count) for code, count in codes.most_common()]
    rows += [("unsent", len(unsent)), ("dead tokens", len(dead))]
    for label, value in rows:
        out.write(f"{label:<24}{value:>10,}\n")
    shown = [t for t in tickets if not t.ok][:10]
    for ticket in shown:
        out.write(f"failed: {ticket.error_code or 'error'} {ticket.to}: {ticket.message or ''}\n")
    if len(shown) < len(tickets) - accepted:
        out.write(f"... and {len(tickets) - accepted - len(shown)} more (use --json for all)\n")
    if failure is not None and unsent:
        out.write(f"unsent because the service failed for good: {failure.code or failure.message}\n")


# --- receipts -------------------------------------------------------------------------------------


def _ids_from(lines: Iterable[str]) -> list[str]:
    """Ticket ids, one per line; lines that are tickets as JSON (``send --json``) give their id."""
    ids = []
    for line in lines:
        text = line.strip()
        if not text:
            continue
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise InputError(f"not a ticket id nor a JSON ticket: {text[:60]!r}") from None
            if isinstance(value, dict) and isinstance(value.get("id"), str):
                ids.append(value["id"])
            continue
        ids.append(text)
    return ids


def cmd_receipts(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    """``expo-push receipts``: fetch receipts for ticket ids, or check what a ledger says is due."""
    with _client(args) as client:
        if args.ledger:
            ledger = _open_ledger(args.ledger)
            try:
                summary = ledger.check_receipts(client)
            finally:
                ledger.close()
            rows = [("checked", summary.checked), ("ok", summary.ok)]
            rows += [(f"  {code}", n) for code, n in summary.errors.items()]
            rows += [("waiting", summary.waiting), ("no receipt in time", summary.missing)]
            rows += [("dead tokens found", len(summary.dead_tokens)), ("rescheduled", summary.resends)]
            for label, value in rows:
                out.write(f"{label:<24}{value:>10,}\n")
            return EXIT_OK if not summary.errors else EXIT_FAILED
        ids = _ids_from(stdin) if not args.ids or args.ids == ["-"] else list(args.ids)
        if not ids:
            raise UsageError("give ticket ids as arguments, on standard input, or --ledger")
        receipts = client.get_receipts(ids)
    _print_receipts(out, ids, receipts, args.json)
    return EXIT_OK if all(r.ok for r in receipts.values()) else EXIT_FAILED


def _print_receipts(out: IO[str], ids: Sequence[str], receipts: dict[str, PushReceipt], as_json: bool) -> None:
    for receipt_id in ids:
        receipt = receipts.get(receipt_id)
        if as_json:
            out.write(
                (
                    msgspec.json.encode(receipt).decode()
                    if receipt
                    else json.dumps({"id": receipt_id, "status": "pending"})
                )
                + "\n"
            )
        elif receipt is None:
            out.write(f"{receipt_id}  pending   (no receipt yet, or expired)\n")
        else:
            detail = "" if receipt.ok else f" {receipt.error_code or ''} {receipt.message or ''}".rstrip()
            out.write(f"{receipt_id}  {receipt.status:<8}{detail}\n")


# --- worker and tokens ----------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    """``expo-push worker``: send what the ledger's outbox holds until SIGINT or SIGTERM."""
    problem = worker_usage_problem(args)
    if problem is not None:
        raise UsageError(problem)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        ledger = _open_ledger(args.ledger)
        try:
            err.write("expo-push worker: sending the outbox; stop with Ctrl-C\n")
            err.flush()
            run_worker_command(args, ledger, _client, stop, err)
        finally:
            ledger.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    err.write("expo-push worker: stopped\n")
    return EXIT_OK


def cmd_tokens(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    """``expo-push tokens``: list the dead tokens a ledger knows, to delete them from your database."""
    ledger = _open_ledger(args.ledger)
    try:
        dead = list(ledger.dead_tokens())
    finally:
        ledger.close()
    for entry in dead:
        if args.json:
            out.write(msgspec.json.encode(entry).decode() + "\n")
        else:
            out.write(f"{entry.token}\n")
    return EXIT_OK


# --- parser ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``expo-push`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="expo-push", description="Send Expo push notifications, check receipts, run the local emulator."
    )
    parser.add_argument("--version", action="version", version=f"expo-push {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    send = commands.add_parser("send", help="send notifications from flags, a file or standard input")
    send.add_argument("--to", action="append", metavar="TOKEN", help="recipient token (repeat for several)")
    send.add_argument("--file", metavar="PATH|-", help="messages, one per line: JSON Lines, CSV or a token list")
    send.add_argument("--format", choices=["jsonl", "csv", "tokens"], help="format of --file (default: by name)")
    send.add_argument("--title")
    send.add_argument("--body")
    send.add_argument("--subtitle")
    send.add_argument("--data", metavar="JSON", help="a JSON object delivered to the app")
    send.add_argument("--sound", help="'default' or a sound file name")
    send.add_argument("--badge", type=int)
    send.add_argument("--ttl", type=int, metavar="SECONDS")
    send.add_argument("--channel-id")
    send.add_argument("--category-id")
    send.add_argument("--priority", choices=["default", "normal", "high"])
    send.add_argument("--interruption-level", choices=["active", "critical", "passive", "time-sensitive"])
    send.add_argument("--json", action="store_true", help="print one JSON ticket per line instead of a summary")
    send.add_argument("--ledger", metavar="PATH|URL", help="record the tickets in this ledger")
    _add_service_options(send)
    send.set_defaults(handler=cmd_send)

    receipts = commands.add_parser("receipts", help="fetch receipts for ticket ids (arguments or standard input)")
    receipts.add_argument("ids", nargs="*", metavar="ID", help="ticket ids; none or - reads standard input")
    receipts.add_argument("--json", action="store_true", help="print one JSON receipt per line")
    receipts.add_argument("--ledger", metavar="PATH|URL", help="check the receipts this ledger says are due")
    _add_service_options(receipts)
    receipts.set_defaults(handler=cmd_receipts)

    commands.add_parser(
        "emulator", help="run the local emulator of the service (see: expo-push emulator -h)", add_help=False
    )

    worker = commands.add_parser("worker", help="send a ledger's outbox until stopped")
    worker.add_argument("--ledger", required=True, metavar="PATH|URL", help="SQLite file or PostgreSQL URL")
    worker.add_argument("--batch-size", type=int, default=1000, metavar="N")
    worker.add_argument("--poll-interval", type=float, default=1.0, metavar="S")
    add_worker_arguments(worker)
    _add_service_options(worker)
    worker.set_defaults(handler=cmd_worker)

    tokens = commands.add_parser("tokens", help="list the dead tokens a ledger knows")
    tokens.add_argument("--ledger", required=True, metavar="PATH|URL")
    tokens.add_argument("--json", action="store_true", help="one JSON object per line, with when and why")
    tokens.set_defaults(handler=cmd_tokens)

    demo = commands.add_parser("demo", help="offline demo: 10,000 notifications through the built-in emulator")
    demo.add_argument("--count", type=int, default=10_000, metavar="N", help="notifications to send (default 10000)")
    demo.add_argument(
        "--rate-limit",
        type=rate_argument,
        default=600.0,
        metavar="N|none",
        help="the emulated service's limit, and the client's pacing (default 600)",
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
        try:
            from ..emulator import main as emulator_main
        except ImportError:
            err.write("expo-push: the emulator needs its extra: pip install 'expo-push[emulator]'\n")
            return EXIT_USAGE
        return emulator_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from ._demo import run_demo

            return run_demo(count=args.count, rate_limit=args.rate_limit, out=out, err=err)
        status: int = args.handler(args, out, err, stdin)
        return status
    except (UsageError, InputError) as exc:
        err.write(f"expo-push {args.command}: {exc}\n")
        return EXIT_USAGE
    except PushServerError as exc:
        err.write(f"expo-push {args.command}: {exc}\n")
        return EXIT_FAILED
    except ImportError as exc:
        err.write(f"expo-push {args.command}: {exc}; install the extra it needs, e.g. pip install 'expo-push[all]'\n")
        return EXIT_USAGE


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
