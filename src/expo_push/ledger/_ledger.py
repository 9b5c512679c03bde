"""``Ledger``: records tickets, fetches receipts when due, tracks dead tokens, and runs the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import msgspec

from .._client import AsyncPushClient, PushClient
from .._errors import PushServerError, ValidationError
from .._message import PushMessage, message_from_dict
from .._models import PushReceipt, PushTicket
from .._protocol import iter_prepared
from ._models import DeadToken, LedgerStats, OutboxBacklog, PendingReceipt, ReceiptCheck, WorkerRun
from ._pacer import SharedPacer
from ._store import Cursor, Store, TicketRow

__all__ = ["CONFIG_ERRORS", "Ledger"]

logger = logging.getLogger("expo_push.ledger")

CONFIG_ERRORS = frozenset(("InvalidCredentials", "MismatchSenderId"))
"""Codes that mean the app's push set-up is wrong, not the notification: reported once per code."""

_RECEIPT_PAGE = 1000  # ids per receipts request (the service's limit)
_FLUSH_TICKETS = 200  # the worker records tickets in transactions of about this many
_LOG_ROW_TICKETS = 2000  # accepted tickets per row of the receipt queue
_UNPACK_ROWS = 5  # receipt queue rows turned into ticket rows per transaction
_MAX_SEND_BACKOFF = 300.0

_encode = msgspec.json.Encoder().encode
_decode_message = msgspec.json.Decoder(PushMessage).decode


class _QueuedTickets(msgspec.Struct):
    """The accepted tickets of one receipt queue row, by column (few objects to build on the send path).

    ``message`` holds each ticket's message as stored (decoded as raw JSON),
    ``retries`` the resends after ``MessageRateExceeded`` that came before it.
    """

    key: list[str | None]
    to: list[str]
    id: list[str]
    message: list[msgspec.Raw]
    retries: list[int]


_decode_queue = msgspec.json.Decoder(_QueuedTickets).decode


def _message_json(message: PushMessage | Mapping[str, Any]) -> str:
    return _encode(message).decode()


def _recipients(message: PushMessage | Mapping[str, Any]) -> list[str] | None:
    to = message.to if isinstance(message, PushMessage) else message.get("to")
    if isinstance(to, str):
        return [to]
    if isinstance(to, list) and all(isinstance(t, str) for t in to):
        return to
    return None  # malformed: the client's validation names the problem


def _all_recipients(batch: list[Any]) -> list[str]:
    """Every recipient token of well-formed messages, flat (the hot path of the dead-token check)."""
    out: list[str] = []
    for message in batch:
        to = message.get("to") if type(message) is dict else _recipients(message)
        if type(to) is str:
            out.append(to)
        elif type(to) is list:
            out.extend(t for t in to if type(t) is str)
    return out


def _narrow(message: PushMessage | Mapping[str, Any], kept: list[str]) -> PushMessage | Mapping[str, Any]:
    to = message.to if isinstance(message, PushMessage) else message.get("to")
    new_to: str | list[str] = kept[0] if isinstance(to, str) else kept
    if isinstance(message, PushMessage):
        return msgspec.structs.replace(message, to=new_to)
    return {**message, "to": new_to}


def _resend_payload(message: Any, recipients: int) -> Any:
    """What to keep of a message to resend it to one of its recipients: the message itself, or, when it has
    several recipients, the message without them (``to`` is set again on resend)."""
    if recipients <= 1:
        return message
    if isinstance(message, msgspec.Raw):
        message = _decode_message(bytes(message))
    if isinstance(message, PushMessage):
        return msgspec.Raw(_encode(msgspec.structs.replace(message, to=[])))
    return {**message, "to": []}


_NULL = msgspec.Raw(b"null")


def _payload_text(message: Any) -> str | None:
    if message is None or message == _NULL:
        return None
    return bytes(message).decode() if isinstance(message, msgspec.Raw) else _encode(message).decode()


def _batch_and_keys(messages: Any, keys: Sequence[str | None] | None) -> tuple[list[Any], list[str | None] | None]:
    """The messages of a send as a list, and their keys, checked to be one per message."""
    batch = [messages] if isinstance(messages, (PushMessage, Mapping)) else list(messages)
    if keys is None:
        return batch, None
    keys = list(keys)
    if len(keys) != len(batch):
        raise ValidationError(f"keys has {len(keys)} items for {len(batch)} messages", field="keys")
    return batch, keys


def _per_ticket(
    tickets: Sequence[PushTicket], messages: Sequence[Any], keys: Sequence[str | None]
) -> tuple[Sequence[str | None], Sequence[Any]]:
    """The key and message of each ticket of a complete send (tickets come one per recipient, in order)."""
    if len(tickets) == len(messages):  # one recipient each: nothing to expand
        return keys, messages
    ticket_keys: list[str | None] = []
    ticket_messages: list[Any] = []
    for message, key in zip(messages, keys, strict=True):
        to = message.to if isinstance(message, PushMessage) else message["to"]
        count = 1 if isinstance(to, str) else len(to)
        kept = _resend_payload(message, count)
        ticket_keys.extend([key] * count)
        ticket_messages.extend([kept] * count)
    return ticket_keys, ticket_messages


def _owned_by_token(
    tickets: Sequence[PushTicket], messages: Sequence[Any], keys: Sequence[str | None]
) -> tuple[list[PushTicket], list[str | None], list[Any]]:
    """The accepted tickets of a send that failed part-way, with the key and message of each one's token's
    first message not yet matched (the error keeps the tickets' order but not their positions)."""
    owners: dict[str, list[tuple[str | None, Any]]] = {}
    for message, key in zip(messages, keys, strict=True):
        tokens = _recipients(message) or []
        kept = _resend_payload(message, len(tokens))
        for token in tokens:
            owners.setdefault(token, []).append((key, kept))
    owned: list[PushTicket] = []
    owned_keys: list[str | None] = []
    owned_messages: list[Any] = []
    for ticket in tickets:
        candidates = owners.get(ticket.to or "")
        if candidates:
            key, message = candidates.pop(0)
            owned.append(ticket)
            owned_keys.append(key)
            owned_messages.append(message)
    return owned, owned_keys, owned_messages


def _normalized(messages: list[Any]) -> list[Any]:
    """``messages`` with each dict made the ``PushMessage`` the client sent (fields it does not know kept in
    ``extra``), so what is stored to resend decodes to the same notification."""
    return [message_from_dict(m, i) if isinstance(m, Mapping) else m for i, m in enumerate(messages)]


def _with_skipped(tickets: list[PushTicket], skipped: list[tuple[int, str]]) -> list[PushTicket]:
    """``tickets`` with an error ticket inserted at the position of each recipient skipped as dead."""
    for position, token in skipped:
        tickets.insert(position, _skipped_ticket(token))
    return tickets


def _skipped_ticket(token: str) -> PushTicket:
    return PushTicket(
        status="error",
        message=f"not sent: the ledger knows {token!r} is not registered",
        details={"error": "DeviceNotRegistered", "expoPushToken": token, "skipped": True},
        to=token,
    )


def _read_id(path: str, *, link: bool = False) -> str:
    """The text (or link target) of a ``/proc`` file naming a kernel object, or ``""`` where there is none."""
    try:
        text = os.readlink(path) if link else Path(path).read_text()
    except OSError:
        return ""
    return "".join(c for c in text if c.isalnum() or c == "-")


def _namespace() -> str:
    """Which process-id space this process's pid belongs to: its PID namespace and the machine's boot.

    Two processes with the same hostname may still count pids apart (containers sharing the host's
    network, ``docker --network host``, Kubernetes ``hostNetwork``): only a worker of the same
    namespace and boot can be told dead by its pid.
    """
    return f"{_read_id('/proc/self/ns/pid', link=True)}.{_read_id('/proc/sys/kernel/random/boot_id')}"


def _worker_name() -> str:
    """A new worker's name: ``host:pid:namespace:nonce``."""
    return f"{socket.gethostname()}:{os.getpid()}:{_namespace()}:{uuid.uuid4().hex[:8]}"


def _pid_gone(worker: str | None, own_namespace: str) -> bool:
    """Whether ``worker`` (``host:pid:namespace:nonce``) ran in this process's pid space (``own_namespace``), in
    a process that no longer exists. A worker elsewhere, or of unknown namespace, is not known gone: its lease
    decides."""
    if not worker:
        return False
    parts = worker.rsplit(":", 3)
    if len(parts) != 4:
        return False
    host, pid_text, namespace, _ = parts
    if host != socket.gethostname() or namespace != own_namespace or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class _Events:
    """What a transaction found, reported to the application after it commits."""

    dead: list[DeadToken] = field(default_factory=list)
    config: list[tuple[str, str | None]] = field(default_factory=list)
    resends: int = 0


class Ledger:
    """The delivery ledger: every ticket stored, receipts fetched when due, dead tokens reported.

    Open one with ``Ledger.open("push.db")`` (SQLite) or
    ``Ledger.open("postgresql://...")``; see the package docstring for a tour.

    Args:
        store: The storage backend (``Ledger.open`` picks one from a path or URL).
        receipt_delay: Seconds after sending before a receipt is fetched (Expo: about 15 minutes).
        receipt_retention: Seconds after sending after which a ticket with no receipt is
            given up on (Expo keeps receipts 24 hours).
        recheck_interval: Seconds before asking again for a receipt that was not ready.
        skip_dead_tokens: Refuse to send to tokens known dead (``send`` and the outbox).
        on_dead_token: Called with a ``DeadToken`` each time a token is newly found dead.
        on_config_error: Called with ``(code, message)`` the first time this ledger sees an
            ``InvalidCredentials`` or ``MismatchSenderId`` error; it is also logged at ERROR.
        max_rate_retries: Resends of a notification refused with ``MessageRateExceeded``.
        rate_retry_delay: Seconds before the first such resend; each further one waits twice as long.
        lease: Seconds after which an outbox row claimed by a worker that went silent is sent again
            (rows of a worker process that died on this machine, in the same PID namespace, are taken
            back at once). A live worker renews its claim as tickets come back (every ``lease / 4``
            seconds and at each recording), so the lease must only exceed the longest a worker's
            client can go without an answer: one request with all its retries (about 4 minutes with
            the client's defaults: 30 s timeout, 5 retries, backoff up to 8 s).
        clock: Seconds since the epoch; inject one to test "15 minutes later" without waiting.
    """

    def __init__(
        self,
        store: Store,
        *,
        receipt_delay: float = 900.0,
        receipt_retention: float = 86400.0,
        recheck_interval: float = 300.0,
        skip_dead_tokens: bool = True,
        on_dead_token: Callable[[DeadToken], None] | None = None,
        on_config_error: Callable[[str, str | None], None] | None = None,
        max_rate_retries: int = 3,
        rate_retry_delay: float = 60.0,
        lease: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for name, value in (
            ("receipt_delay", receipt_delay),
            ("receipt_retention", receipt_retention),
            ("rate_retry_delay", rate_retry_delay),
            ("lease", lease),
        ):
            if not value >= 0:
                raise ValueError(f"{name} must be a non-negative number of seconds, not {value!r}")
        if not recheck_interval > 0:
            raise ValueError(f"recheck_interval must be a positive number of seconds, not {recheck_interval!r}")
        if max_rate_retries < 0:
            raise ValueError(f"max_rate_retries must be 0 or more, not {max_rate_retries!r}")
        self._store = store
        self.receipt_delay = receipt_delay
        self.receipt_retention = receipt_retention
        self.recheck_interval = recheck_interval
        self.skip_dead_tokens = skip_dead_tokens
        self.on_dead_token = on_dead_token
        self.on_config_error = on_config_error
        self.max_rate_retries = max_rate_retries
        self.rate_retry_delay = rate_retry_delay
        self.lease = lease
        self._clock = clock
        self._reported_config: set[str] = set()
        self._report_lock = threading.Lock()
        store.create_schema()

    @classmethod
    def open(cls, target: str | Path, **options: Any) -> Ledger:
        """Open (creating if needed) the ledger at ``target``.

        A ``postgresql://`` or ``postgres://`` URL picks PostgreSQL (needs the
        ``postgres`` extra); anything else is the path of a SQLite file.
        ``options`` are those of ``Ledger``.
        """
        text = str(target)
        store: Store
        if text.startswith(("postgresql://", "postgres://")):
            from ._postgres import PostgresStore

            store = PostgresStore(text)
        else:
            from ._sqlite import SQLiteStore

            store = SQLiteStore(text)
        return cls(store, **options)

    def __repr__(self) -> str:
        return f"<Ledger {self._store.description}>"

    def close(self) -> None:
        """Close the database connections."""
        self._store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def shared_pacer(self, rate: float | None = 600.0) -> SharedPacer:
        """A pacer whose budget (``rate`` notifications a second per project) every worker of this ledger's
        database shares: give it to each client, ``PushClient(pacer=ledger.shared_pacer())``."""
        return SharedPacer(self._store, rate)

    # -- recording -------------------------------------------------------------------------------

    def send(
        self,
        client: PushClient,
        messages: PushMessage | Mapping[str, Any] | Iterable[PushMessage | Mapping[str, Any]],
        keys: Sequence[str | None] | None = None,
    ) -> list[PushTicket]:
        """Send through ``client`` and record every ticket; return one ticket per recipient, in input order.

        ``keys`` (one per message) are your references to the notifications,
        stored with their tickets. Recipients whose token is dead are not sent
        to (unless ``skip_dead_tokens`` is off): their ticket is an error
        ``DeviceNotRegistered`` with ``details["skipped"] = True``, not recorded.
        If the send fails part-way, what was accepted is recorded before the
        ``PushServerError`` propagates.
        """
        outgoing, out_keys, skipped = self._skip_dead(*_batch_and_keys(messages, keys))
        outgoing = _normalized(outgoing)  # once, here: the client then takes them as they are
        try:
            tickets = client.send(outgoing)
        except PushServerError as exc:
            self._record(*_owned_by_token(exc.tickets, outgoing, out_keys))
            raise
        self._record(tickets, *_per_ticket(tickets, outgoing, out_keys))
        return _with_skipped(tickets, skipped)

    async def send_async(
        self,
        client: AsyncPushClient,
        messages: PushMessage | Mapping[str, Any] | Iterable[PushMessage | Mapping[str, Any]],
        keys: Sequence[str | None] | None = None,
    ) -> list[PushTicket]:
        """``send`` with an ``AsyncPushClient``; database work runs off the event loop (and so do callbacks)."""
        outgoing, out_keys, skipped = await asyncio.to_thread(self._skip_dead, *_batch_and_keys(messages, keys))
        outgoing = _normalized(outgoing)  # once, here: the client then takes them as they are
        try:
            tickets = await client.send(outgoing)
        except PushServerError as exc:
            await asyncio.to_thread(self._record, *_owned_by_token(exc.tickets, outgoing, out_keys))
            raise
        await asyncio.to_thread(self._record, tickets, *_per_ticket(tickets, outgoing, out_keys))
        return _with_skipped(tickets, skipped)

    def record(
        self,
        tickets: PushTicket | Iterable[PushTicket],
        *,
        key: str | None = None,
        keys: Sequence[str | None] | None = None,
        sent_at: float | None = None,
    ) -> int:
        """Record tickets of a send made elsewhere (each needs its ``.to``); return how many.

        ``key`` is one reference for all of them, ``keys`` one per ticket.
        ``sent_at`` defaults to now. Error tickets are acted on as in ``send``
        (a ``DeviceNotRegistered`` ticket marks its token dead).
        """
        items = [tickets] if isinstance(tickets, PushTicket) else list(tickets)
        if keys is not None and len(keys) != len(items):
            raise ValidationError(f"keys has {len(keys)} items for {len(items)} tickets", field="keys")
        for index, ticket in enumerate(items):
            if not isinstance(ticket, PushTicket):
                raise ValidationError(f"ticket {index} must be a PushTicket, not {type(ticket).__name__}")
            if not ticket.to:
                raise ValidationError(f"ticket {index} has no recipient token", field="to")
        self._record(items, keys if keys is not None else [key] * len(items), [None] * len(items), sent_at=sent_at)
        return len(items)

    def _ticket_row(
        self, ticket: PushTicket, key: str | None, now: float, message: str | None, retries: int
    ) -> TicketRow:
        ok = ticket.status == "ok"
        return (
            key,
            ticket.to or "",
            ticket.id,
            ticket.status,
            None if ok else ticket.error_code,
            None if ok else ticket.message,
            now,
            now + self.receipt_delay if ok and ticket.id else None,
            message,
            retries,
        )

    def _record(
        self,
        tickets: Sequence[PushTicket],
        keys: Sequence[str | None],
        messages: Sequence[Any],
        retries: Sequence[int] | None = None,
        *,
        sent_at: float | None = None,
        finish: tuple[str, Sequence[int]] | None = None,
        narrow: Sequence[tuple[int, str, int]] = (),
    ) -> None:
        """Store tickets with their keys, messages and resends so far, acting on error tickets, in one transaction.

        Accepted tickets go to the receipt queue as a few compact rows (cheap on
        the send path: a handful of objects, whatever the number of tickets);
        each becomes a row of its own when its receipt is due. Error tickets
        (rare) get their row at once. ``finish`` (worker, outbox row ids) marks
        those rows sent; ``narrow`` (row id, message JSON, recipients) gives
        rows of that worker sent in part the message to their recipients still
        owed, and the worker's other rows have their lease renewed, all in the
        same transaction.
        """
        now = self._clock()
        sent = now if sent_at is None else sent_at
        counts = list(retries) if retries is not None else [0] * len(tickets)
        refused = [i for i, t in enumerate(tickets) if t.status != "ok" or not t.id]
        errors = [self._ticket_row(tickets[i], keys[i], sent, _payload_text(messages[i]), counts[i]) for i in refused]
        if refused:
            accepted = sorted(set(range(len(tickets))) - set(refused))
            tickets = [tickets[i] for i in accepted]
            keys = [keys[i] for i in accepted]
            messages = [messages[i] for i in accepted]
            counts = [counts[i] for i in accepted]
        log = []
        for start in range(0, len(tickets), _LOG_ROW_TICKETS):
            part = slice(start, start + _LOG_ROW_TICKETS)
            chunk = tickets[part]
            queued = _QueuedTickets(
                list(keys[part]),
                [t.to or "" for t in chunk],
                [t.id or "" for t in chunk],
                list(messages[part]),
                counts[part],
            )
            log.append((sent, sent + self.receipt_delay, len(chunk), _encode(queued).decode()))
        events = _Events()
        with self._store.transaction() as cur:
            self._store.insert_log(cur, log)
            self._store.insert_tickets(cur, errors)
            if finish is not None:
                self._store.finish_sent(cur, now, finish[0], finish[1])
                self._store.narrow_outbox(cur, finish[0], narrow)
                self._store.renew(cur, now, finish[0])
            for key, token, _, _, code, text, _, _, payload, resends in errors:
                if code is not None:
                    self._act_on_error(
                        cur, events, code, text, token, None, sent, now, key, payload, resends,
                        f"expo-push:resend:{uuid.uuid4().hex}",
                    )  # fmt: skip
        self._report(events)

    def _act_on_error(
        self,
        cur: Cursor,
        events: _Events,
        code: str,
        message: str | None,
        token: str,
        ticket_id: str | None,
        sent_at: float,
        now: float,
        key: str | None,
        payload: str | None,
        retries: int,
        resend_key: str,
    ) -> None:
        if code == "DeviceNotRegistered":
            if self._store.mark_dead(cur, token, now, code, message, ticket_id, sent_at):
                events.dead.append(DeadToken(token, now, code, message, ticket_id))
        elif code == "MessageRateExceeded":
            if payload is None:
                logger.warning(
                    "expo-push: MessageRateExceeded for a notification the ledger cannot resend "
                    "(recorded without its message)"
                )
            elif retries >= self.max_rate_retries:
                logger.warning(
                    "expo-push: giving up on a notification after %d resends refused with MessageRateExceeded", retries
                )
            else:
                narrowed = msgspec.structs.replace(_decode_message(payload), to=token)
                delay = self.rate_retry_delay * (2**retries)
                events.resends += self._store.insert_outbox(
                    cur, [(resend_key, key, _message_json(narrowed), 1, now, now + delay, retries + 1)]
                )
        elif code in CONFIG_ERRORS:
            events.config.append((code, message))

    def _report(self, events: _Events) -> None:
        for code, message in events.config:
            with self._report_lock:
                if code in self._reported_config:
                    continue
                self._reported_config.add(code)
            logger.error(
                "expo-push: %s: the app's push credentials need fixing (%s); further %s errors "
                "are not reported again by this ledger",
                code,
                message or "no message",
                code,
            )
            if self.on_config_error is not None:
                self.on_config_error(code, message)
        if self.on_dead_token is not None:
            for dead in events.dead:
                self.on_dead_token(dead)

    def _skip_dead(
        self, batch: list[Any], keys: Sequence[str | None] | None
    ) -> tuple[list[Any], Sequence[str | None], list[tuple[int, str]]]:
        """The messages to send (dead recipients removed), their keys, and (ticket position, token) of those skipped."""
        out_keys: Sequence[str | None] = keys if keys is not None else [None] * len(batch)
        if not self.skip_dead_tokens:
            return batch, out_keys, []
        dead = self._store.dead_among(_all_recipients(batch))
        if not dead:
            return batch, out_keys, []
        recipients = [_recipients(m) for m in batch]
        outgoing: list[Any] = []
        kept_keys: list[str | None] = []
        skipped: list[tuple[int, str]] = []
        position = 0
        for message, key, tokens in zip(batch, out_keys, recipients, strict=True):
            if tokens is None or dead.isdisjoint(tokens):
                outgoing.append(message)
                kept_keys.append(key)
                position += len(tokens or ())
                continue
            for token in tokens:
                if token in dead:
                    skipped.append((position, token))
                position += 1
            kept = [t for t in tokens if t not in dead]
            if kept:
                outgoing.append(_narrow(message, kept))
                kept_keys.append(key)
        return outgoing, kept_keys, skipped

    # -- receipts ----------------------------------------------------------------------------------

    def check_receipts(self, client: PushClient) -> ReceiptCheck:
        """Fetch the receipts that are due, record them, and act on them; return what was found.

        Run it every few minutes (cron, or ``watch_receipts``). Ids are asked
        in requests of 1000; an id with no receipt yet is asked again after
        ``recheck_interval``, until ``receipt_retention`` has passed since the
        send. ``DeviceNotRegistered`` marks the token dead;
        ``MessageRateExceeded`` schedules a resend in the outbox. Checks may
        run side by side: each claims the receipts it asks for (until
        ``recheck_interval`` from now, when a check that stopped midway leaves
        them due again), so none is asked or counted twice.
        """
        now = self._clock()
        summary = ReceiptCheck()
        while self._store.unpack_due(now, _UNPACK_ROWS, self._unpack):
            pass
        while True:
            held = now + self.recheck_interval
            due = self._store.due_receipts(now, held, _RECEIPT_PAGE)
            if not due:
                return summary
            try:
                receipts = client.get_receipts([d[0] for d in due])
            except PushServerError as exc:
                self._report(self._apply_receipts(due, held, exc.receipts, now, summary, partial=True))
                raise
            self._report(self._apply_receipts(due, held, receipts, now, summary))
            if len(due) < _RECEIPT_PAGE:
                return summary

    async def check_receipts_async(self, client: AsyncPushClient) -> ReceiptCheck:
        """``check_receipts`` with an ``AsyncPushClient``; database work runs off the event loop."""
        now = self._clock()
        summary = ReceiptCheck()
        while await asyncio.to_thread(self._store.unpack_due, now, _UNPACK_ROWS, self._unpack):
            pass
        while True:
            held = now + self.recheck_interval
            due = await asyncio.to_thread(self._store.due_receipts, now, held, _RECEIPT_PAGE)
            if not due:
                return summary
            try:
                receipts = await client.get_receipts([d[0] for d in due])
            except PushServerError as exc:
                events = await asyncio.to_thread(
                    self._apply_receipts, due, held, exc.receipts, now, summary, partial=True
                )
                self._report(events)
                raise
            self._report(await asyncio.to_thread(self._apply_receipts, due, held, receipts, now, summary))
            if len(due) < _RECEIPT_PAGE:
                return summary

    async def watch_receipts_async(self, client: AsyncPushClient, stop: asyncio.Event, interval: float = 60.0) -> None:
        """``watch_receipts`` for asyncio: check every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.check_receipts_async(client)
            except PushServerError as exc:
                logger.warning("expo-push: receipts check failed, trying again in %.0f s: %s", interval, exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    def _unpack(self, sent_at: float, due_at: float, entries: str) -> list[TicketRow]:
        queued = _decode_queue(entries)
        return [
            (key, token, ticket_id, "ok", None, None, sent_at, due_at, _payload_text(message), retries)
            for key, token, ticket_id, message, retries in zip(
                queued.key, queued.to, queued.id, queued.message, queued.retries, strict=True
            )
        ]

    def watch_receipts(self, client: PushClient, stop: threading.Event, interval: float = 60.0) -> None:
        """Check receipts every ``interval`` seconds until ``stop`` is set (a failed check is logged and retried)."""
        while not stop.is_set():
            try:
                self.check_receipts(client)
            except PushServerError as exc:
                logger.warning("expo-push: receipts check failed, trying again in %.0f s: %s", interval, exc)
            stop.wait(interval)

    def _apply_receipts(
        self,
        due: Sequence[tuple[str, int, str, float]],
        held: float,
        receipts: Mapping[str, PushReceipt],
        now: float,
        summary: ReceiptCheck,
        partial: bool = False,
    ) -> _Events:
        events = _Events()
        settled: list[tuple[str, str | None, str | None, float, int]] = []
        repoll: list[tuple[float, int]] = []
        errors: list[tuple[int, str, str | None, str, str, float]] = []
        for ticket_id, row_id, token, sent_at in due:
            receipt = receipts.get(ticket_id)
            if receipt is None:
                if partial:
                    repoll.append((now, row_id))  # not asked successfully: due again
                    continue
                summary.checked += 1
                expires = sent_at + self.receipt_retention
                if now >= expires:
                    settled.append(("missing", None, None, now, row_id))
                    summary.missing += 1
                else:
                    repoll.append((min(now + self.recheck_interval, expires), row_id))
                    summary.waiting += 1
                continue
            summary.checked += 1
            if receipt.ok:
                settled.append(("ok", None, None, now, row_id))
                summary.ok += 1
                continue
            code = receipt.error_code or "unknown"
            settled.append(("error", code, receipt.message, now, row_id))
            summary.errors[code] = summary.errors.get(code, 0) + 1
            errors.append((row_id, code, receipt.message, token, ticket_id, sent_at))
        with self._store.transaction() as cur:
            self._store.settle_receipts(cur, settled, repoll, held)
            needs_row = [e[0] for e in errors if e[1] == "MessageRateExceeded"]
            rows = {r[0]: r for r in self._store.ticket_rows(cur, needs_row)} if needs_row else {}
            for row_id, code, message, token, ticket_id, sent_at in errors:
                _, key, payload, retries = rows.get(row_id, (row_id, None, None, 0))
                self._act_on_error(
                    cur,
                    events,
                    code,
                    message,
                    token,
                    ticket_id,
                    sent_at,
                    now,
                    key,
                    payload,
                    retries,
                    f"expo-push:resend:ticket:{row_id}",
                )
        summary.dead_tokens.extend(events.dead)
        summary.resends += events.resends
        return events

    def pending_receipts(self, limit: int | None = None) -> list[PendingReceipt]:
        """Tickets still waiting for a receipt, oldest first (at most ``limit``)."""
        rows, queue = self._store.pending_receipts(limit)
        pending = [PendingReceipt(*row) for row in rows]
        for sent_at, due_at, entries in queue:
            if limit is not None and len(pending) >= limit:
                break
            queued = _decode_queue(entries)
            pending.extend(
                PendingReceipt(ticket_id, token, key, sent_at, due_at)
                for key, token, ticket_id in zip(queued.key, queued.to, queued.id, strict=True)
            )
        pending.sort(key=lambda p: p.sent_at)
        return pending if limit is None else pending[:limit]

    # -- dead tokens -------------------------------------------------------------------------------

    def dead_tokens(self, since: float | None = None) -> list[DeadToken]:
        """Tokens found dead (at or after ``since``, by the ledger's clock), oldest first.

        Delete them from your database, then call ``forget_dead`` if the app
        registers the same token again.
        """
        return [DeadToken(*row) for row in self._store.dead_tokens(since)]

    def forget_dead(self, token: str) -> bool:
        """The app registered ``token`` again: send to it again. Return whether it was dead.

        Evidence older than this call (a late receipt of an earlier send) does
        not kill it again.
        """
        return self._store.revive(token, self._clock())

    # -- outbox ------------------------------------------------------------------------------------

    def enqueue(
        self,
        messages: PushMessage | Mapping[str, Any] | Iterable[PushMessage | Mapping[str, Any]],
        keys: Sequence[str | None] | None = None,
        *,
        connection: Any = None,
    ) -> int:
        """Store notifications durably for a worker to send; return how many were new.

        Every message is validated first (``ValidationError`` names the message
        and field; nothing is stored then). ``keys`` (one per message) are
        idempotency keys: a key already enqueued is not enqueued again, so it
        is sent once. They are also the reference stored with the tickets.

        ``connection``: your application's open connection to the ledger's
        database (a ``sqlite3.Connection`` to the same file, or a psycopg 3
        ``Connection``), to write the notifications inside your own transaction
        (the transactional outbox): they are sent once if it commits, never if
        it rolls back. Nothing is committed here; your code commits.
        """
        prepared = list(iter_prepared(messages))
        if keys is not None:
            keys = list(keys)
            if len(keys) != len(prepared):
                raise ValidationError(f"keys has {len(keys)} items for {len(prepared)} messages", field="keys")
            for index, key in enumerate(keys):
                if key is not None and not isinstance(key, str):
                    raise ValidationError(
                        f"key {index} must be a string or None, not {type(key).__name__}", field="keys"
                    )
        now = self._clock()
        rows = [
            (
                keys[i] if keys is not None else None,
                keys[i] if keys is not None else None,
                _message_json(p.message),
                len(p.recipients),
                now,
                now,
                0,
            )
            for i, p in enumerate(prepared)
        ]
        if connection is not None:
            return self._store.enqueue_with(connection, rows)
        return self._store.enqueue(rows)

    def drain(self, client: PushClient, *, batch_size: int = 500) -> WorkerRun:
        """Send everything in the outbox that is ready now, then return (a one-shot worker)."""
        worker = _Worker(self, client, batch_size)
        worker.reclaim()
        while worker.send_batch():
            pass
        return worker.run

    def run_worker(
        self,
        client: PushClient,
        stop: threading.Event,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        on_batch: Callable[[WorkerRun], None] | None = None,
    ) -> WorkerRun:
        """Send from the outbox until ``stop`` is set; return what was done.

        Claims up to ``batch_size`` notifications at a time, sends them through
        ``client`` (its pacing and retries apply) and records the tickets as
        they come back. When the outbox is empty it looks again every
        ``poll_interval`` seconds. ``on_batch`` is called after each batch.
        Several workers may run at once, in threads, processes or machines
        (PostgreSQL for the latter): none sends a notification another claimed.
        """
        worker = _Worker(self, client, batch_size)
        worker.reclaim()
        while not stop.is_set():
            if worker.send_batch():
                if on_batch is not None:
                    on_batch(worker.run)
                continue
            worker.reclaim()
            stop.wait(poll_interval)
        return worker.run

    # -- numbers -------------------------------------------------------------------------------------

    def stats(self, since: float | None = None, until: float | None = None) -> LedgerStats:
        """Counts of tickets sent in ``[since, until)`` by status, receipt and error code; the outbox; dead tokens."""
        outcomes = {(s, r, c): int(n) for s, r, c, n in self._store.outcome_counts(since, until)}
        return LedgerStats(outcomes, self._store.outbox_counts(), self._store.count_dead())

    def purge(self, older_than: float = 30 * 86400.0) -> tuple[int, int]:
        """Delete what is done with and older than ``older_than`` seconds; return (tickets, outbox rows) deleted.

        Tickets go once their receipt is settled (ok, error, or none within the
        retention limit); outbox rows once sent or skipped, and with them their
        idempotency keys (a key enqueued again after that is sent again).
        Dead tokens are kept until ``forget_dead``. Run it now and then, e.g.
        after the receipts check.
        """
        return self._store.purge(self._clock() - older_than)

    def outbox_backlog(self) -> OutboxBacklog:
        """How many notifications wait in the outbox and are being sent, and how long the oldest has waited."""
        pending, sending, oldest = self._store.outbox_backlog()
        return OutboxBacklog(pending, sending, None if oldest is None else max(self._clock() - oldest, 0.0))

    def outbox(self) -> list[tuple[str | None, str]]:
        """``(key, state)`` of every outbox row, oldest first: ``pending``, ``sending``, ``sent`` or ``skipped``."""
        return list(self._store.iter_outbox_keys())


class _Worker:
    """One outbox worker: claims batches, sends them, records their tickets as chunks come back."""

    def __init__(self, ledger: Ledger, client: PushClient, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
        self.ledger = ledger
        self.store = ledger._store
        self.client = client
        self.batch_size = batch_size
        self.name = _worker_name()
        self.run = WorkerRun()

    def reclaim(self) -> None:
        """Take back rows of workers that are gone: dead processes on this machine, and expired leases."""
        now = self.ledger._clock()
        namespace = _namespace()
        lost = [
            (row_id, owner, claimed_at)
            for row_id, owner, claimed_at in self.store.sending()
            if owner != self.name and (claimed_at + self.ledger.lease <= now or _pid_gone(owner, namespace))
        ]
        if lost:
            count = self.store.reclaim(lost)
            self.run.reclaimed += count
            logger.warning("expo-push: %d outbox notifications of a lost worker will be sent again", count)

    def send_batch(self) -> bool:
        """Claim and send one batch; return whether there was anything to claim."""
        ledger, store = self.ledger, self.store
        claimed = store.claim(ledger._clock(), self.name, self.batch_size)
        if not claimed:
            return False
        self.run.batches += 1
        messages = [_decode_message(row[2]) for row in claimed]
        dead: set[str] = set()
        if ledger.skip_dead_tokens:
            dead = store.dead_among([t for m in messages for t in m.recipients])
        outgoing: list[PushMessage] = []
        kept_of: dict[int, list[str]] = {}  # claimed index -> its recipients sent to
        owner_of: list[int] = []  # claimed index of each outgoing recipient, in order
        tokens_out: list[str] = []  # token of each outgoing recipient, in order
        remaining: list[int] = [0] * len(claimed)
        skipped_rows: list[int] = []
        for index, message in enumerate(messages):
            tokens = message.recipients
            kept = tokens if not dead else [t for t in tokens if t not in dead]
            self.run.skipped += len(tokens) - len(kept)
            if not kept:
                skipped_rows.append(claimed[index][0])
                continue
            if len(kept) < len(tokens):
                message = msgspec.structs.replace(message, to=kept if isinstance(message.to, list) else kept[0])
            outgoing.append(message)
            kept_of[index] = kept
            owner_of.extend([index] * len(kept))
            tokens_out.extend(kept)
            remaining[index] = len(kept)
        collected: dict[int, list[PushTicket]] = {}
        done: list[int] = []
        rows: tuple[list[PushTicket], list[str | None], list[Any], list[int]] = ([], [], [], [])
        narrowed: list[tuple[int, str, int]] = []  # rows sent in part: (row id, message still owed, recipients)
        settled: set[int] = set()
        if skipped_rows:
            with store.transaction() as cur:
                store.finish_sent(cur, ledger._clock(), self.name, skipped_rows, state="skipped")
            settled.update(skipped_rows)

        def take(index: int) -> None:
            _, ref, payload, recipients, retries = claimed[index]
            message = _resend_payload(msgspec.Raw(payload.encode()), recipients)
            tickets = collected.pop(index)
            rows[0].extend(tickets)
            rows[1].extend([ref] * len(tickets))
            rows[2].extend([message] * len(tickets))
            rows[3].extend([retries] * len(tickets))

        def complete(index: int) -> None:
            take(index)
            done.append(claimed[index][0])

        renew_every = ledger.lease / 4 if ledger.lease > 0 else float("inf")
        renewed_at = ledger._clock()

        def flush() -> None:
            nonlocal renewed_at
            renewed_at = ledger._clock()
            ledger._record(*rows, finish=(self.name, done), narrow=narrowed)
            self.run.sent += len(rows[0])
            settled.update(done)
            for column in rows:
                column.clear()
            done.clear()
            narrowed.clear()

        position = 0
        failure = "the worker stopped before recording the tickets"
        try:
            try:
                for ticket in self.client.iter_send(outgoing):
                    if ledger._clock() - renewed_at >= renew_every:  # still alive: keep the claim
                        renewed_at = ledger._clock()
                        with store.transaction() as cur:
                            store.renew(cur, renewed_at, self.name)
                    index = owner_of[position]
                    position += 1
                    collected.setdefault(index, []).append(ticket)
                    remaining[index] -= 1
                    if remaining[index] == 0:
                        complete(index)
                        if len(rows[0]) >= _FLUSH_TICKETS:
                            flush()
            except PushServerError as exc:
                failure = str(exc)
                self.run.failed_batches += 1
                logger.error(
                    "expo-push: the outbox worker's send failed; those notifications wait and are tried again: %s", exc
                )
                # Accepted tickets that came with the error: keep those whose owner is unambiguous (the same token
                # twice among the recipients not yet yielded is sent again: at-least-once).
                rest = range(position, len(owner_of))
                counts = Counter(tokens_out[p] for p in rest)
                where = {tokens_out[p]: p for p in rest}
                for ticket in exc.tickets:
                    if ticket.to is not None and counts.get(ticket.to) == 1:
                        index = owner_of[where[ticket.to]]
                        collected.setdefault(index, []).append(ticket)
                        remaining[index] -= 1
                        if remaining[index] == 0:
                            complete(index)
                # Rows sent in part: record their accepted tickets, and keep only their recipients still owed
                # (what ``exc.unsent`` holds for them), so a retry resends nothing that was accepted.
                for index in list(collected):
                    owed = Counter(kept_of[index])
                    owed.subtract(t.to or "" for t in collected[index])
                    message = messages[index]
                    still: list[str] = []
                    for recipient in message.recipients:
                        if owed[recipient] > 0:
                            owed[recipient] -= 1
                            still.append(recipient)
                    narrowed.append(
                        (claimed[index][0], _message_json(msgspec.structs.replace(message, to=still)), len(still))
                    )
                    take(index)
            if rows[0] or done or narrowed:
                flush()
        finally:
            unsettled = [row[0] for row in claimed if row[0] not in settled]
            if unsettled:
                retry_at = ledger._clock() + min(2.0**self.run.failed_batches, _MAX_SEND_BACKOFF)
                store.release(unsettled, self.name, retry_at, failure)
        return True
