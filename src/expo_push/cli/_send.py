"""``expo-push send``: one notification from flags, or many from a file or standard input, with a summary.

Exit status: 0 when every recipient was accepted, 1 when some were refused or not sent, 2 when the input
or the options are wrong (nothing is sent then).
"""

from __future__ import annotations

import argparse
import logging
import signal
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import msgspec

from .._errors import PushConnectionError, PushServerError, shown_text
from .._message import recipients_of
from .._service import DEVICE_NOT_REGISTERED
from .._signals import StopSignals, exit_status, signal_words, stop_notice
from ._input import FORMATS, InputMessage, Source, checked, parse_json_object, read_messages, unknown_field_warnings
from ._options import EXIT_FAILED, EXIT_OK, UsageError, make_client, open_ledger, quiet
from ._progress import Progress

if TYPE_CHECKING:
    from .._account import MessagePart, Position, SendAccount
    from .._client import PushClient
    from .._models import PushTicket
    from ..ledger import Ledger

__all__ = [
    "Delivery",
    "add_message_options",
    "cmd_send",
    "deliver",
    "failure_line",
    "input_messages",
    "print_send_summary",
    "recipients",
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
        help="messages: JSON Lines, a JSON array, CSV or a token list; - reads standard input",
    )
    source.add_argument(
        "--format",
        choices=FORMATS,
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
    return len(_tokens(message))


# --- sending -----------------------------------------------------------------------------------------

RECORD_EVERY = 500
"""Tickets recorded in the ledger at a time while a send runs."""


@dataclass
class Delivery:
    """How a send through the CLI ended: its account, the recipients skipped as dead, and what stopped it.

    ``account`` positions count in ``sent`` (the messages sent, after dead
    recipients were taken out); ``origin[i]`` is the input index of ``sent[i]``.
    """

    account: SendAccount
    sent: list[dict[str, Any]]
    origin: list[int]
    skipped: list[PushTicket] = field(default_factory=list)
    failure: PushServerError | None = None
    interrupted: bool = False

    def parts(self, kind: str) -> list[MessagePart]:
        """The account's ``unsent`` or ``in_doubt`` parts."""
        parts: list[MessagePart] = getattr(self.account, kind)
        return parts

    def unread(self) -> list[dict[str, Any]]:
        """Messages an interrupted send never read (it reads ahead of its requests only so far): not sent."""
        covered = {t.position.message for t in self.account.tickets if t.position is not None}
        covered.update(part.index for part in (*self.account.unsent, *self.account.in_doubt))
        last = max(covered, default=-1)
        return self.sent[last + 1 :]

    def first_unsent_input(self) -> int | None:
        """The input index of the first message with a recipient not sent, or ``None``."""
        indices = [self.origin[part.index] for part in self.account.unsent]
        if self.unread():
            indices.append(self.origin[len(self.sent) - len(self.unread())])
        return min(indices) if indices else None


def deliver(
    client: PushClient,
    messages: list[dict[str, Any]],
    *,
    ledger: Ledger | None = None,
    on_ticket: Callable[[PushTicket], None] = lambda ticket: None,
    signals: StopSignals | None = None,
) -> Delivery:
    """Send ``messages`` (recorded in ``ledger`` if given: recipients it knows dead are skipped) and account for all.

    ``on_ticket`` sees every ticket once: as the service answers, then those
    that came back while an interrupted send let its requests in flight finish.
    A ``PushServerError`` or Ctrl-C (``KeyboardInterrupt``; a second one stops
    the wait at once) ends the send without raising: the ``Delivery`` says so,
    and its account holds every ticket, every recipient not sent and every one
    in doubt. Every ticket is recorded in the ledger, however the send ends.
    With the command's ``signals``, a stop signal never lands between printing a
    ticket and marking it printed (nor recording and marking recorded), and once
    no request is out any more, the final bookkeeping finishes whatever is pressed.
    """
    from .._account import SendAccount

    # The ledger's own send-and-record pipeline (Ledger.send's): the recipients it knows dead taken out, and
    # every ticket recorded under its own message by position.
    send = ledger.recorded_send(messages) if ledger is not None else None
    if send is None:
        delivery = Delivery(SendAccount(), messages, list(range(len(messages))))
    else:
        delivery = Delivery(SendAccount(), send.plan.inputs, send.plan.origin, send.skipped_tickets())
    for ticket in delivery.skipped:
        on_ticket(ticket)
    # A Ctrl-C raises KeyboardInterrupt wherever this thread is, in this bookkeeping too: what was printed and
    # what was recorded are kept apart, and made whole from the account once the send has ended.
    printed: set[Position | None] = set()
    recorded: set[Position | None] = set()
    unrecorded: list[PushTicket] = []
    whole: AbstractContextManager[None] = nullcontext() if signals is None else signals.held

    def show(ticket: PushTicket) -> None:
        if ticket.position not in printed:
            with whole:
                on_ticket(ticket)
                printed.add(ticket.position)

    def record(final: bool = False) -> None:
        if send is not None and unrecorded and (final or len(unrecorded) >= RECORD_EVERY):
            with whole:
                batch = list(unrecorded)
                send.record(batch)
                recorded.update(t.position for t in batch)
                unrecorded.clear()

    def requests_done() -> None:
        if signals is not None:
            signals.shield()

    stream = client.iter_send(send.outgoing if send is not None else messages, account=delivery.account)
    try:
        try:
            for ticket in stream:
                show(ticket)
                if send is not None:
                    unrecorded.append(ticket)
                    record()
        finally:
            try:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()  # an interrupted loop: the requests in flight get their grace to come back
            finally:
                requests_done()
    except KeyboardInterrupt:
        delivery.interrupted = True
        requests_done()  # again: a signal may have landed before the first call
    except PushServerError as exc:
        delivery.failure = exc
    for ticket in delivery.account.tickets:
        show(ticket)
    if send is not None:
        unrecorded[:] = [t for t in delivery.account.tickets if t.position not in recorded]
        record(final=True)
        with whole:
            send.finish(delivery.account)  # the projects the service named, and nothing left unrecorded
    return delivery


def _json_line(value: object) -> str:
    return msgspec.json.encode(value).decode() + "\n"


class _StoppedSendWarning(logging.Filter):
    """Drops the client's warning about a send stopped early: the command's own summary gives those numbers."""

    def filter(self, record: logging.LogRecord) -> bool:
        from .._batch import SEND_STOPPED

        return not getattr(record, SEND_STOPPED, False)


@contextmanager
def _own_summary() -> Iterator[None]:
    logger = logging.getLogger("expo_push")
    quiet_filter = _StoppedSendWarning()
    logger.addFilter(quiet_filter)
    try:
        yield
    finally:
        logger.removeFilter(quiet_filter)


def _send_notice(err: IO[str], grace: float) -> Callable[[int], None]:
    doing = f"no new request starts; waiting up to {grace:g} s for those in flight"
    return stop_notice(err, "expo-push send", doing)


def cmd_send(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    """``expo-push send``."""
    entries = input_messages(args, stdin, err)
    messages = [m.message for m in entries]
    total = sum(recipients(m) for m in messages)
    client = make_client(args)
    progress = Progress(total, err, shown=not quiet(args))

    signals: StopSignals = args.signals

    def on_ticket(ticket: PushTicket) -> None:
        progress.advance()
        if args.json:
            try:
                out.write(_json_line(ticket))
            except BrokenPipeError:  # `| head`: stop as SIGPIPE would, every ticket still recorded
                signals.output_closed(out)

    ledger = open_ledger(args.ledger, must_exist=False) if args.ledger else None
    try:
        with progress.counting_retries(), signals.notifying(_send_notice(err, client.interrupt_grace)), _own_summary():
            delivery = deliver(client, messages, ledger=ledger, on_ticket=on_ticket, signals=signals)
    finally:
        progress.close()
        if ledger is not None:
            ledger.close()
    if not delivery.interrupted:
        client.close()  # else threads may still wait on answers that will not come: the process exits without them
    return _report(args, out, err, entries, delivery, total, client.base_url, signals.first)


def _report(
    args: argparse.Namespace,
    out: IO[str],
    err: IO[str],
    entries: list[InputMessage],
    delivery: Delivery,
    total: int,
    base_url: str,
    signum: int | None,
) -> int:
    failure = delivery.failure
    tickets = [*delivery.skipped, *delivery.account.tickets]
    unsent = [t for part in delivery.account.unsent for t in part.message.recipients]
    unsent += [t for message in delivery.unread() for t in _tokens(message)]
    in_doubt = [t for part in delivery.account.in_doubt for t in part.message.recipients]
    if args.json:
        code = failure.code if failure else None
        for token in unsent:
            out.write(_json_line({"to": token, "status": "unsent", "code": code}))
        for token in in_doubt:
            out.write(_json_line({"to": token, "status": "in_doubt"}))
    else:
        print_send_summary(out, total, tickets, unsent, in_doubt)
    if failure is not None:
        err.write(f"expo-push send: {failure_line(failure, base_url)}\n")
    if delivery.interrupted:
        signum = signal.SIGINT if signum is None else signum
        first = delivery.first_unsent_input()
        resume = "" if first is None else f"; to resume, send again from {entries[first].where}"
        doubt = (
            f", {len(in_doubt):,} in doubt (their answer never came: they may have been delivered)" if in_doubt else ""
        )
        err.write(
            f"expo-push send: {signal_words(signum)}: {sum(t.ok for t in tickets):,} accepted, {len(unsent):,} not sent"
            f"{doubt}{resume}\n"
        )
        err.flush()
        return exit_status(signum)
    return EXIT_OK if not unsent and not in_doubt and all(t.ok for t in tickets) else EXIT_FAILED


def _tokens(message: dict[str, Any]) -> list[str]:
    return recipients_of(message) or []


def failure_line(failure: PushServerError, base_url: str) -> str:
    """What ended a send, in one line; a connection error names the URL it could not reach."""
    if isinstance(failure, PushConnectionError):
        return f"cannot reach the service at {base_url}: {failure}"
    return str(failure)


def print_send_summary(
    out: IO[str], total: int, tickets: Sequence[PushTicket], unsent: Sequence[str], in_doubt: Sequence[str] = ()
) -> None:
    """The table printed after a send: what was read, accepted, refused, not sent and in doubt."""
    accepted = sum(t.ok for t in tickets)
    codes = Counter(shown_text(t.error_code or "error") for t in tickets if not t.ok)
    dead = [t.to for t in tickets if t.error_code == DEVICE_NOT_REGISTERED]
    rows = [("recipients", total), ("accepted", accepted), ("failed", len(tickets) - accepted)]
    rows += [(f"  {code}", count) for code, count in codes.most_common()]
    rows += [("not sent", len(unsent))]
    if in_doubt:
        rows += [("in doubt", len(in_doubt))]
    rows += [("dead tokens", len(dead))]
    for label, value in rows:
        out.write(f"{label:<24}{value:>10,}\n")
    shown = [t for t in tickets if not t.ok][:10]
    for ticket in shown:
        code, message = shown_text(ticket.error_code or "error"), shown_text(ticket.message or "")
        out.write(f"failed: {code} {ticket.to}: {message}\n")
    if len(shown) < len(tickets) - accepted:
        out.write(f"... and {len(tickets) - accepted - len(shown)} more (use --json for all)\n")
