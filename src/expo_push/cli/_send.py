"""``expo-push send``: one notification from flags, or many from a file or standard input, with a summary.

Exit status: 0 when every recipient was accepted, 1 when some were refused or not sent, 2 when the input
or the options are wrong (nothing is sent then).
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

import msgspec

from .._errors import PushConnectionError, PushServerError
from ._input import InputMessage, Source, checked, parse_json_object, read_messages, unknown_field_warnings
from ._options import EXIT_FAILED, EXIT_OK, UsageError, make_client, open_ledger, quiet
from ._progress import Progress

if TYPE_CHECKING:
    from .._client import PushClient
    from .._models import PushTicket
    from ..ledger import Ledger

__all__ = [
    "add_message_options",
    "cmd_send",
    "failure_line",
    "input_messages",
    "print_send_summary",
    "recipients",
    "send_tickets",
]

# --- messages from flags and files ------------------------------------------------------------------

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


def add_message_options(parser: argparse.ArgumentParser) -> None:
    """Where the messages come from, and the fields the flags give every one of them."""
    source = parser.add_argument_group("recipients and messages")
    source.add_argument("--to", action="append", metavar="TOKEN", help="a recipient's push token (repeat for several)")
    source.add_argument(
        "--file",
        metavar="PATH|-",
        help="messages, one per line: JSON Lines, CSV or a token list; - reads standard input",
    )
    source.add_argument(
        "--format",
        choices=["jsonl", "csv", "tokens"],
        help="format of --file (default: from the name: .csv, .txt = tokens, .jsonl; else from the first line)",
    )
    fields = parser.add_argument_group(
        "message fields", "given to every message; a file's own fields take precedence (default: not sent)"
    )
    fields.add_argument("--title", help="the notification's title")
    fields.add_argument("--body", help="the notification's text")
    fields.add_argument("--subtitle", help="a line under the title (iOS)")
    fields.add_argument("--data", metavar="JSON", help="a JSON object delivered to the app")
    fields.add_argument("--sound", help="'default' or the name of a sound file in the app (iOS)")
    fields.add_argument("--badge", type=int, metavar="N", help="the number on the app's icon (iOS)")
    fields.add_argument("--ttl", type=int, metavar="SECONDS", help="how long the service may hold it for the device")
    fields.add_argument("--channel-id", metavar="ID", help="Android notification channel")
    fields.add_argument("--category-id", metavar="ID", help="notification category, for its actions")
    fields.add_argument("--priority", choices=["default", "normal", "high"], help="delivery priority")
    fields.add_argument(
        "--interruption-level",
        choices=["active", "critical", "passive", "time-sensitive"],
        help="how it may interrupt (iOS 15+)",
    )
    fields.add_argument(
        "--strict",
        action="store_true",
        help="refuse fields the service does not know (default: send them, with a warning; the service ignores them)",
    )


def _template(args: argparse.Namespace) -> dict[str, Any]:
    template: dict[str, Any] = {}
    for attr, wire in _TEMPLATE_FLAGS.items():
        value = getattr(args, attr)
        if value is not None:
            template[wire] = value
    if args.data is not None:
        template["data"] = parse_json_object(args.data, "--data")
    return template


def input_messages(
    args: argparse.Namespace,
    stdin: IO[str],
    err: IO[str],
    *,
    key_field: str | None = None,
    key: str | None = None,
) -> list[InputMessage]:
    """Every message the flags and ``--file`` give, validated (``InputError`` or ``UsageError`` otherwise).

    Fields the service does not know are refused with ``--strict``, else warned of on ``err``.
    """
    if bool(args.to) == bool(args.file):
        raise UsageError("give recipients with --to, or messages with --file (a path, or - for standard input)")
    template = _template(args)
    if args.file:
        if key is not None:
            raise UsageError("--key goes with --to; in a file, give each message a 'key' field")
        source = Source(args.file, args.format)
        entries = read_messages(source, template, stdin, key_field=key_field, strict=args.strict)
    else:
        message = {**template, "to": args.to[0] if len(args.to) == 1 else args.to}
        entries = [InputMessage("the flags", checked(message, "the flags", strict=args.strict), key)]
    for line in unknown_field_warnings(entries):
        err.write(f"expo-push {args.command}: {line}\n")
    return entries


def recipients(message: dict[str, Any]) -> int:
    """How many recipients a message dict has."""
    return 1 if isinstance(message["to"], str) else len(message["to"])


# --- sending -----------------------------------------------------------------------------------------

LEDGER_BATCH = 1000
"""Messages per ``Ledger.send`` call when the CLI records a send, so that progress moves."""


def send_tickets(
    client: PushClient, messages: list[dict[str, Any]], ledger: Ledger | None = None
) -> Iterator[PushTicket]:
    """Send ``messages``, recorded in ``ledger`` if given; yield the tickets in input order.

    A ``PushServerError`` that ends the send lists in ``.unsent`` every
    recipient not accepted, including those of batches not yet started.
    """
    if ledger is None:
        yield from client.iter_send(messages)
        return
    from .._message import prepare_message

    for start in range(0, len(messages), LEDGER_BATCH):
        try:
            yield from ledger.send(client, messages[start : start + LEDGER_BATCH])
        except PushServerError as exc:
            rest = messages[start + LEDGER_BATCH :]
            exc.unsent.extend(prepare_message(message, index).message for index, message in enumerate(rest))
            raise


def _json_line(value: object) -> str:
    return msgspec.json.encode(value).decode() + "\n"


def cmd_send(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    """``expo-push send``."""
    messages = [m.message for m in input_messages(args, stdin, err)]
    total = sum(recipients(m) for m in messages)
    client = make_client(args)
    progress = Progress(total, err, shown=not quiet(args))
    tickets: list[PushTicket] = []
    failure: PushServerError | None = None
    with client:
        ledger = open_ledger(args.ledger, must_exist=False) if args.ledger else None
        try:
            with progress.counting_retries():
                for ticket in send_tickets(client, messages, ledger):
                    tickets.append(ticket)
                    progress.advance()
                    if args.json:
                        out.write(_json_line(ticket))
        except PushServerError as exc:
            failure = exc
            tickets.extend(exc.tickets)
            progress.advance(len(exc.tickets))
            if args.json:
                for ticket in exc.tickets:
                    out.write(_json_line(ticket))
        finally:
            progress.close()
            if ledger is not None:
                ledger.close()
    unsent = [t for m in failure.unsent for t in m.recipients] if failure else []
    if args.json:
        code = failure.code if failure else None
        for token in unsent:
            out.write(_json_line({"to": token, "status": "unsent", "code": code}))
    else:
        print_send_summary(out, total, tickets, unsent)
    if failure is not None:
        err.write(f"expo-push send: {failure_line(failure, client.base_url)}\n")
    return EXIT_OK if not unsent and all(t.ok for t in tickets) else EXIT_FAILED


def failure_line(failure: PushServerError, base_url: str) -> str:
    """What ended a send, in one line; a connection error names the URL it could not reach."""
    if isinstance(failure, PushConnectionError):
        return f"cannot reach the service at {base_url}: {failure}"
    return str(failure)


def print_send_summary(
    out: IO[str],
    total: int,
    tickets: Sequence[PushTicket],
    unsent: Sequence[str],
) -> None:
    """The table printed after a send: what was read, accepted, refused and not sent."""
    accepted = sum(t.ok for t in tickets)
    codes = Counter(t.error_code or "error" for t in tickets if not t.ok)
    dead = [t.to for t in tickets if t.error_code == "DeviceNotRegistered"]
    rows = [("recipients", total), ("accepted", accepted), ("failed", len(tickets) - accepted)]
    rows += [(f"  {code}", count) for code, count in codes.most_common()]
    rows += [("not sent", len(unsent)), ("dead tokens", len(dead))]
    for label, value in rows:
        out.write(f"{label:<24}{value:>10,}\n")
    shown = [t for t in tickets if not t.ok][:10]
    for ticket in shown:
        out.write(f"failed: {ticket.error_code or 'error'} {ticket.to}: {ticket.message or ''}\n")
    if len(shown) < len(tickets) - accepted:
        out.write(f"... and {len(tickets) - accepted - len(shown)} more (use --json for all)\n")
