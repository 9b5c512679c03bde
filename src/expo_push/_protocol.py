"""The wire protocol without I/O: chunks, request bodies, response decoding, and the request flows.

A *flow* is a generator that says what to do next (``Pace``, ``Post``,
``Sleep``, ``Hold``) and is sent back what happened (an ``HttpResponse``, a
``TransportFailure`` or ``None``). Every decision, including retries, splitting
by project and the mapping of errors, is made here; ``PushClient`` and
``AsyncPushClient`` only carry the actions out, one with blocking calls and
the other with ``await``.
"""

from __future__ import annotations

import functools
import gzip
import random
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ._errors import (
    REQUEST_ERRORS,
    PushConnectionError,
    PushResponseError,
    PushServerError,
    ValidationError,
)
from ._message import PreparedMessage, PushMessage, narrow, prepare_message
from ._models import PushReceipt, PushTicket
from ._retry import RETRYABLE_STATUS, RetryPolicy, parse_retry_after

__all__ = [
    "MAX_NOTIFICATIONS_PER_REQUEST",
    "MAX_RECEIPT_IDS_PER_REQUEST",
    "Chunk",
    "Chunker",
    "Entry",
    "Hold",
    "HttpResponse",
    "Pace",
    "Post",
    "Refund",
    "Sleep",
    "TransportFailure",
    "receipts_flow",
    "send_flow",
]

SEND_PATH = "/--/api/v2/push/send"
RECEIPTS_PATH = "/--/api/v2/push/getReceipts"
MAX_NOTIFICATIONS_PER_REQUEST = 100
MAX_RECEIPT_IDS_PER_REQUEST = 1000
COMPRESS_OVER = 1024
"""Request bodies larger than this many bytes are sent gzip-compressed."""
_GZIP_LEVEL = 1  # JSON of notifications compresses ~14:1 at level 1, at two thirds the CPU of level 6.


# --- chunking -------------------------------------------------------------------------------------


# gc=False: no reference cycles; untracked, so a large send does not feed the garbage collector (see PreparedMessage).
class Entry(msgspec.Struct, frozen=True, gc=False):
    """Part of one message that goes into one request: the message and some of its recipients."""

    prepared: PreparedMessage
    recipients: tuple[str, ...]

    def narrowed(self, recipients: Sequence[str] | None = None) -> PushMessage:
        """The message addressed to ``recipients`` (by default, this entry's)."""
        return narrow(
            self.prepared.message, self.recipients if recipients is None else recipients, self.prepared.to_is_list
        )


@dataclass
class Chunk:
    """The entries of one send request: at most 100 recipients in all."""

    entries: list[Entry]
    count: int
    seq: int = 0
    """Position of the chunk in its batch."""

    @property
    def recipients(self) -> list[str]:
        """Every recipient of the chunk, in request order (the order of its tickets)."""
        return [token for entry in self.entries for token in entry.recipients]


class Chunker:
    """Cuts a stream of prepared messages into chunks of at most ``limit`` recipients.

    A message whose ``to`` lists more recipients than fit is split across
    chunks; several small messages share one. Chunks come out as soon as they
    are full, so a generator of messages is consumed lazily. ``leftover()``
    returns what was read from the input but not yet put in a chunk.
    """

    def __init__(self, messages: Iterable[PreparedMessage], limit: int = MAX_NOTIFICATIONS_PER_REQUEST) -> None:
        self._messages = iter(messages)
        self._limit = limit
        self._entries: list[Entry] = []
        self._count = 0
        self._current: PreparedMessage | None = None
        self._offset = 0
        self._seq = 0

    def __iter__(self) -> Iterator[Chunk]:
        return self

    def __next__(self) -> Chunk:
        while True:
            if self._current is None:
                try:
                    self._current = next(self._messages)
                except StopIteration:
                    if self._entries:
                        return self._emit()
                    raise
                self._offset = 0
            message = self._current
            room = self._limit - self._count
            part = message.recipients[self._offset : self._offset + room]
            self._entries.append(Entry(message, part))
            self._count += len(part)
            self._offset += len(part)
            if self._offset >= len(message.recipients):
                self._current = None
            if self._count >= self._limit:
                return self._emit()

    def _emit(self) -> Chunk:
        chunk = Chunk(self._entries, self._count, self._seq)
        self._seq += 1
        self._entries = []
        self._count = 0
        return chunk

    def flush(self) -> Chunk | None:
        """The partly filled chunk, if any, so that what was read can still go out."""
        return self._emit() if self._entries else None

    def leftover(self, drain: bool = False) -> list[PushMessage]:
        """Messages (narrowed) read from the input but not in a chunk; with ``drain``, also the rest of the input.

        They are dropped from the chunker, which is finished afterwards.
        """
        out = [entry.narrowed() for entry in self._entries]
        if self._current is not None:
            rest = self._current.recipients[self._offset :]
            out.append(narrow(self._current.message, rest, self._current.to_is_list))
        if drain:
            out.extend(narrow(p.message, p.recipients, p.to_is_list) for p in self._messages)
        self._entries, self._count, self._current = [], 0, None
        self._messages = iter(())
        return out


# --- requests -------------------------------------------------------------------------------------

_ENCODER = msgspec.json.Encoder()


def encode_entries(entries: Sequence[Entry]) -> bytes:
    """The JSON array of messages for a send request, assembled from each message's pre-encoded payload."""
    parts = []
    for entry in entries:
        prepared = entry.prepared
        to = _ENCODER.encode(list(entry.recipients) if prepared.to_is_list else entry.recipients[0])
        payload = prepared.payload
        parts.append(b'{"to":' + to + (b"}" if payload == b"{}" else b"," + payload[1:]))
    return b"[" + b",".join(parts) + b"]"


@dataclass(frozen=True)
class Post:
    """Action: POST ``body`` to ``path`` (relative to the base URL) with ``headers`` added."""

    path: str
    body: bytes
    headers: Mapping[str, str]
    notifications: int = 0


@dataclass(frozen=True)
class Pace:
    """Action: wait for the pacer's slot for ``notifications`` notifications (0 asks for no slot)."""

    notifications: int


@dataclass(frozen=True)
class Sleep:
    """Action: wait ``seconds`` before going on (backoff of this request alone)."""

    seconds: float


@dataclass(frozen=True)
class Refund:
    """Action: give back the pacer's slot of ``notifications`` that the service refused whole."""

    notifications: int


@dataclass(frozen=True)
class Hold:
    """Action: stop every request of this client from starting for ``seconds`` (the service said 429)."""

    seconds: float


@dataclass(frozen=True)
class HttpResponse:
    """What came back: status, headers (case-insensitive mapping) and the decoded body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes


@dataclass(frozen=True)
class TransportFailure:
    """No response: the connection failed, timed out or was dropped.

    ``retryable`` is false for failures a retry cannot mend (a body that could
    not be decompressed, for example).
    """

    description: str
    retryable: bool = True


Action = Post | Pace | Sleep | Hold | Refund
Result = HttpResponse | TransportFailure | None


def request_body(payload: bytes) -> tuple[bytes, dict[str, str]]:
    """The body to send for a JSON ``payload``, gzip-compressed when larger than ``COMPRESS_OVER``."""
    if len(payload) > COMPRESS_OVER:
        return gzip.compress(payload, compresslevel=_GZIP_LEVEL, mtime=0), {
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        }
    return payload, {"Content-Type": "application/json"}


# --- responses ------------------------------------------------------------------------------------


class _SendBody(msgspec.Struct):
    data: list[PushTicket] | PushTicket | None = None
    errors: list[dict[str, Any]] | None = None


class _ReceiptsBody(msgspec.Struct):
    data: dict[str, PushReceipt] | None = None
    errors: list[dict[str, Any]] | None = None


_SEND_DECODER = msgspec.json.Decoder(_SendBody)
_RECEIPTS_DECODER = msgspec.json.Decoder(_ReceiptsBody)
_ERRORS_DECODER = msgspec.json.Decoder(dict[str, Any])


@dataclass(frozen=True)
class _Failed:
    error: PushServerError
    retryable: bool
    retry_after: float | None = None


def _request_error(status: int | None, errors: list[dict[str, Any]] | None, fallback: str) -> PushServerError:
    """The ``PushServerError`` (subclass by code) for a response carrying ``errors``."""
    first: dict[str, Any] = errors[0] if errors and isinstance(errors[0], dict) else {}
    code = first.get("code") if isinstance(first.get("code"), str) else None
    message = first.get("message") if isinstance(first.get("message"), str) else fallback
    cls = REQUEST_ERRORS.get(code or "", PushServerError)
    return cls(str(message), code=code, status_code=status, details=first.get("details"), errors=errors or ())


def _failed_status(response: HttpResponse, now_epoch: float) -> _Failed:
    """The failure of a response with a non-2xx status, JSON body or not."""
    errors: list[dict[str, Any]] | None = None
    try:
        body = _ERRORS_DECODER.decode(response.content)
        found = body.get("errors")
        errors = [e for e in found if isinstance(e, dict)] if isinstance(found, list) else None
    except msgspec.DecodeError:
        pass
    status = response.status_code
    fallback = f"the service answered HTTP {status}" + ("" if errors is not None else " without a JSON error body")
    error = _request_error(status, errors, fallback)
    retryable = status in RETRYABLE_STATUS
    retry_after = parse_retry_after(response.headers.get("retry-after"), now_epoch) if retryable else None
    return _Failed(error, retryable, retry_after)


def _protocol_failure(message: str, status: int) -> _Failed:
    return _Failed(PushResponseError(message, status_code=status), retryable=False)


def read_send_response(
    response: HttpResponse, recipients: Sequence[str], now_epoch: float
) -> list[PushTicket] | _Failed:
    """Tickets for ``recipients`` (in order, each with its ``.to``), or why the request failed."""
    if not 200 <= response.status_code < 300:
        return _failed_status(response, now_epoch)
    try:
        body = _SEND_DECODER.decode(response.content)
    except msgspec.DecodeError as exc:
        return _protocol_failure(f"the service answered a send with a malformed body: {exc}", response.status_code)
    if body.errors:
        return _Failed(_request_error(response.status_code, body.errors, "the service refused the request"), False)
    data = body.data
    tickets = [data] if isinstance(data, PushTicket) else (data or [])
    if len(tickets) != len(recipients):
        return _protocol_failure(
            f"the service answered {len(tickets)} tickets for {len(recipients)} recipients; "
            "which were accepted is unknown, so none is assumed to be",
            response.status_code,
        )
    for ticket, token in zip(tickets, recipients, strict=True):
        ticket.to = token
    return tickets


def read_receipts_response(response: HttpResponse, now_epoch: float) -> dict[str, PushReceipt] | _Failed:
    """Receipts by id (ids without a receipt are absent), or why the request failed."""
    if not 200 <= response.status_code < 300:
        return _failed_status(response, now_epoch)
    try:
        body = _RECEIPTS_DECODER.decode(response.content)
    except msgspec.DecodeError as exc:
        return _protocol_failure(
            f"the service answered a receipts request with a malformed body: {exc}", response.status_code
        )
    if body.errors:
        return _Failed(_request_error(response.status_code, body.errors, "the service refused the request"), False)
    receipts = body.data or {}
    for receipt_id, receipt in receipts.items():
        receipt.id = receipt_id
    return receipts


def split_by_project(entries: Sequence[Entry], details: object) -> list[list[Entry]] | None:
    """Split ``entries`` into one group per project, from ``PUSH_TOO_MANY_EXPERIENCE_IDS`` details.

    ``details`` maps ``@owner/slug`` to that project's tokens. Tokens it does
    not name form a group of their own. Returns ``None`` when the details do
    not allow a split into at least two groups.
    """
    if not isinstance(details, dict):
        return None
    project_of: dict[str, int] = {}
    for number, tokens in enumerate(details.values()):
        if isinstance(tokens, list):
            for token in tokens:
                if isinstance(token, str):
                    project_of.setdefault(token, number)
    groups: dict[int, list[Entry]] = {}
    for entry in entries:
        by_group: dict[int, list[str]] = {}
        for token in entry.recipients:
            by_group.setdefault(project_of.get(token, -1), []).append(token)
        for number, tokens in by_group.items():
            groups.setdefault(number, []).append(Entry(entry.prepared, tuple(tokens)))
    if len(groups) < 2:
        return None
    return list(groups.values())


# --- flows ----------------------------------------------------------------------------------------


class ChunkFailed(Exception):
    """A chunk failed for good: ``error`` says why, ``tickets`` holds what was accepted by position."""

    def __init__(self, error: PushServerError, tickets: list[PushTicket | None]) -> None:
        super().__init__(str(error))
        self.error = error
        self.tickets = tickets


@dataclass
class FlowContext:
    """What a flow needs to know of its client: the retry policy, splitting, a clock and randomness."""

    retry: RetryPolicy
    split_projects: bool = True
    now_epoch: Callable[[], float] = time.time
    rand: Callable[[], float] = field(default=random.random)


def _failure_from_transport(result: TransportFailure) -> _Failed:
    return _Failed(PushConnectionError(result.description), retryable=result.retryable)


def _attempts(
    ctx: FlowContext, path: str, payload: bytes, notifications: int, read: Callable[[HttpResponse], Any]
) -> Generator[Action, Result, Any]:
    """Post ``payload`` until ``read`` accepts the response or retries run out; return the last reading."""
    body, headers = request_body(payload)
    attempt = 0
    while True:
        yield Pace(notifications)
        result = yield Post(path, body, headers, notifications)
        if isinstance(result, HttpResponse):
            outcome = read(result)
        else:
            assert result is not None
            outcome = _failure_from_transport(result)
        if not isinstance(outcome, _Failed) or not outcome.retryable:
            return outcome
        delay = ctx.retry.delay(attempt, outcome.retry_after, ctx.rand())
        if delay is None:
            return outcome
        attempt += 1
        if outcome.error.status_code == 429:
            yield Hold(delay)
        else:
            yield Sleep(delay)


def send_flow(chunk: Chunk, ctx: FlowContext) -> Generator[Action, Result, list[PushTicket]]:
    """Send one chunk; return its tickets in recipient order, or raise ``ChunkFailed``.

    Retries follow ``ctx.retry``. A ``PUSH_TOO_MANY_EXPERIENCE_IDS`` answer
    splits the chunk by project (when ``ctx.split_projects``) and sends each
    part in turn; tickets are put back in the chunk's order.
    """
    tickets: list[PushTicket | None] = [None] * chunk.count
    positions: dict[int, list[int]] = {}  # id(entry) -> chunk positions of its recipients
    start = 0
    for entry in chunk.entries:
        positions[id(entry)] = list(range(start, start + len(entry.recipients)))
        start += len(entry.recipients)
    groups: list[list[Entry]] = [chunk.entries]
    while groups:
        entries = groups.pop(0)
        recipients = [token for entry in entries for token in entry.recipients]
        outcome = yield from _attempts(
            ctx,
            SEND_PATH,
            encode_entries(entries),
            len(recipients),
            functools.partial(_read_tickets, recipients=recipients, ctx=ctx),
        )
        if isinstance(outcome, _Failed):
            split = (
                split_by_project(entries, outcome.error.details)
                if ctx.split_projects and outcome.error.code == "PUSH_TOO_MANY_EXPERIENCE_IDS"
                else None
            )
            if split is None:
                raise ChunkFailed(outcome.error, tickets)
            yield Refund(len(recipients))  # refused for mixing projects, so none of them counted
            for group in split:
                _inherit_positions(positions, entries, group)
            groups[:0] = split
            continue
        where = [p for entry in entries for p in positions[id(entry)]]
        for position, ticket in zip(where, outcome, strict=True):
            tickets[position] = ticket
    return [t for t in tickets if t is not None]


def _read_tickets(response: HttpResponse, *, recipients: Sequence[str], ctx: FlowContext) -> list[PushTicket] | _Failed:
    return read_send_response(response, recipients, ctx.now_epoch())


def _inherit_positions(positions: dict[int, list[int]], parents: Sequence[Entry], group: Sequence[Entry]) -> None:
    """Give each entry of a split group the chunk positions of its recipients in its parent entry."""
    for child in group:
        parent = next(p for p in parents if p.prepared is child.prepared and set(child.recipients) <= set(p.recipients))
        free: dict[str, list[int]] = {}
        for token, position in zip(parent.recipients, positions[id(parent)], strict=True):
            free.setdefault(token, []).append(position)
        positions[id(child)] = [free[token].pop(0) for token in child.recipients]


def receipts_flow(ids: Sequence[str], ctx: FlowContext) -> Generator[Action, Result, dict[str, PushReceipt]]:
    """Fetch the receipts of up to 1000 ids; return them by id, or raise ``PushServerError``."""
    outcome = yield from _attempts(
        ctx,
        RECEIPTS_PATH,
        _ENCODER.encode({"ids": list(ids)}),
        0,
        lambda response: read_receipts_response(response, ctx.now_epoch()),
    )
    if isinstance(outcome, _Failed):
        raise outcome.error
    result: dict[str, PushReceipt] = outcome
    return result


def unsent_of(chunk: Chunk, tickets: Sequence[PushTicket | None] | None) -> list[PushMessage]:
    """The chunk's messages narrowed to the recipients that got no ticket (all of them if ``tickets`` is None)."""
    out: list[PushMessage] = []
    position = 0
    for entry in chunk.entries:
        n = len(entry.recipients)
        if tickets is None:
            out.append(entry.narrowed())
        else:
            missing = [
                t
                for t, ticket in zip(entry.recipients, tickets[position : position + n], strict=True)
                if ticket is None
            ]
            if missing:
                out.append(entry.narrowed(missing))
        position += n
    return out


# --- batches --------------------------------------------------------------------------------------


class NotStarted(Exception):
    """A chunk was not sent because its batch had already failed."""


class SendBatch:
    """Bookkeeping of one send of many chunks, shared by the sync and async clients.

    The client pulls chunks with ``next_chunk()``, runs each (``check_start()``
    first, then ``send_flow``), and settles them in input order with
    ``settle()``, which returns the tickets to hand to the caller. After the
    first failure no new chunk starts; the tickets of chunks that complete
    anyway, and every recipient not accepted, go into the error that
    ``finish()`` raises, so nothing accepted is lost.
    """

    def __init__(self, messages: object, *, whole: bool) -> None:
        """A batch of ``messages`` (one message or an iterable of them).

        ``whole=True`` (``send``) validates every message before the first
        request, and on failure lists in the error every ticket, those already
        handed out included, and every recipient not accepted, those not yet
        read included. ``whole=False`` (``iter_send``) validates as it reads,
        and the error holds only what was not handed out.
        """
        prepared = iter_prepared(messages)
        self._chunker = Chunker(list(prepared) if whole else prepared)
        self._whole = whole
        self._handed_out: list[PushTicket] = []
        self.failed = False
        self._error: PushServerError | None = None
        self._invalid: BaseException | None = None
        self._accepted: list[PushTicket] = []
        self._unsent: list[PushMessage] = []
        self._input_done = False

    def next_chunk(self) -> Chunk | None:
        """The next chunk to send, or ``None`` when there is none (input done, invalid, or batch failed)."""
        if self._input_done or self.failed:
            return None
        try:
            return next(self._chunker)
        except StopIteration:
            self._input_done = True
        except Exception as exc:  # a malformed message, or the caller's iterator failed
            self._invalid = exc
            self._input_done = True
            return self._chunker.flush()
        return None

    def check_start(self) -> None:
        """Raise ``NotStarted`` if the batch has failed: a chunk must not start then."""
        if self.failed:
            raise NotStarted

    def chunk_failed(self) -> None:
        """Note that a chunk failed for good: no further chunk starts."""
        self.failed = True

    def settle(self, chunk: Chunk, result: list[PushTicket] | BaseException) -> list[PushTicket]:
        """Take a finished chunk, in input order; return the tickets to give the caller now."""
        if isinstance(result, list):
            if self._error is None:  # no earlier chunk failed: these are next in input order
                if self._whole:
                    self._handed_out.extend(result)
                return result
            self._accepted.extend(result)
        elif isinstance(result, ChunkFailed):
            self.failed = True
            if self._error is None:
                self._error = result.error
            self._accepted.extend(t for t in result.tickets if t is not None)
            self._unsent.extend(unsent_of(chunk, result.tickets))
        elif isinstance(result, NotStarted):
            self._unsent.extend(unsent_of(chunk, None))
        else:
            raise result
        return []

    def finish(self) -> None:
        """Raise what ended the batch, if anything did: the first failure, or the malformed input."""
        if self._error is not None:
            error = self._error
            error.tickets = self._handed_out + self._accepted
            error.unsent = self._unsent + self._chunker.leftover(drain=self._whole)
            raise error
        if self._invalid is not None:
            raise self._invalid

    def abandon(self) -> None:
        """The caller stopped early: start nothing more."""
        self.failed = True


def iter_prepared(messages: object) -> Iterator[PreparedMessage]:
    """Validate messages one by one as they are read: one message, or any iterable of them."""
    if isinstance(messages, (PushMessage, Mapping)):
        messages = [messages]
    elif isinstance(messages, (str, bytes)) or not isinstance(messages, Iterable):
        raise ValidationError(
            f"messages must be a PushMessage, a dict, or an iterable of them, not {type(messages).__name__}"
        )
    for index, message in enumerate(messages):
        yield prepare_message(message, index)


def check_receipt_ids(ids: object) -> list[str]:
    """The ticket ids to ask receipts for, without repeats, in order; ``ValidationError`` if malformed."""
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(ids, Iterable):
        raise ValidationError(f"ids must be a ticket id or an iterable of them, not {type(ids).__name__}")
    out: dict[str, None] = {}
    for index, receipt_id in enumerate(ids):
        if not isinstance(receipt_id, str) or not receipt_id.strip():
            raise ValidationError(f"ticket id {index} must be a non-empty string, not {receipt_id!r}")
        out[receipt_id] = None
    return list(out)


def receipt_groups(ids: Sequence[str]) -> list[Sequence[str]]:
    """``ids`` cut into requests of at most 1000."""
    return [ids[i : i + MAX_RECEIPT_IDS_PER_REQUEST] for i in range(0, len(ids), MAX_RECEIPT_IDS_PER_REQUEST)]


def merge_receipts(results: Sequence[dict[str, PushReceipt] | BaseException]) -> dict[str, PushReceipt]:
    """The receipts of every receipts request, or the first failure with ``.receipts`` holding those fetched."""
    receipts: dict[str, PushReceipt] = {}
    for result in results:
        if isinstance(result, dict):
            receipts.update(result)
    for result in results:
        if isinstance(result, BaseException):
            if isinstance(result, PushServerError):
                result.receipts = receipts
            raise result
    return receipts
