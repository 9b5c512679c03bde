"""The request flows: each request's retries, pacing and splitting by project, as actions for a client to carry out.

A *flow* is a generator that says what to do next (``Pace``, ``Post``,
``Sleep``, ``Hold``, ``Refund``) and is sent back what happened (an
``HttpResponse``, a ``TransportFailure`` or ``None``). Every decision is made
here; ``PushClient`` and ``AsyncPushClient`` only carry the actions out, one
with blocking calls and the other with ``await``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any

import msgspec

from ._chunks import Chunk, ChunkState, Entry
from ._errors import PushServerError
from ._models import PushReceipt, PushTicket
from ._retry import RetryPolicy
from ._service import RECEIPTS_PATH, SEND_PATH, TOO_MANY_EXPERIENCE_IDS
from ._wire import (
    Failed,
    HttpResponse,
    Redact,
    TransportFailure,
    encode_entries,
    encode_receipt_ids,
    read_receipts_response,
    read_send_response,
    request_body,
    split_by_project,
    transport_failed,
)

__all__ = [
    "Action",
    "ChunkFailed",
    "FlowContext",
    "Hold",
    "NotStarted",
    "Pace",
    "Post",
    "Refund",
    "Result",
    "Sleep",
    "receipts_flow",
    "send_flow",
]


class Post(msgspec.Struct, frozen=True, gc=False):
    """Action: POST ``body`` to ``path`` (relative to the base URL) with ``headers`` added.

    The client calls ``sending()`` as it hands the request to I/O, and not
    before: from then on the request may reach the service.
    """

    path: str
    body: bytes
    headers: Mapping[str, str]
    notifications: int = 0
    project: str | None = None
    state: ChunkState | None = None
    """The state of the chunk the request carries (``None`` for a receipts request)."""
    entries: Sequence[Entry] = ()
    """The entries of the chunk the request carries."""

    def sending(self) -> None:
        """Mark the request handed to I/O: its recipients are in doubt until its outcome is known."""
        if self.state is not None:
            self.state.sending(self.entries)


class Pace(msgspec.Struct, frozen=True, gc=False):
    """Action: wait for the pacer's slot for ``notifications`` of ``project`` (0 asks for no slot)."""

    notifications: int
    project: str | None = None


class Sleep(msgspec.Struct, frozen=True, gc=False):
    """Action: wait ``seconds`` before going on (backoff of this request alone)."""

    seconds: float


class Refund(msgspec.Struct, frozen=True, gc=False):
    """Action: give back the pacer's slot of ``notifications`` that the service refused whole."""

    notifications: int
    project: str | None = None


class Hold(msgspec.Struct, frozen=True, gc=False):
    """Action: start no request of ``project`` for ``seconds`` (the service said 429)."""

    seconds: float
    project: str | None = None


Action = Post | Pace | Sleep | Hold | Refund
Result = HttpResponse | TransportFailure | None


class NotStarted(Exception):
    """A request did not go out because its send was ending (or its chunk never started).

    A client that gives up on a ``Post`` throws this into the flow, so the
    flow knows the request never left.
    """


class ChunkFailed(Exception):
    """A chunk failed for good: ``error`` says why; the chunk itself holds what was answered."""

    def __init__(self, error: PushServerError) -> None:
        super().__init__(str(error))
        self.error = error


def _redact_nothing(text: str) -> str:
    return text


class FlowContext(msgspec.Struct):
    """What a flow needs to know of its client: retries, splitting, its project, a clock, randomness, redaction."""

    retry: RetryPolicy
    split_projects: bool = True
    project: str | None = None
    now_epoch: Callable[[], float] = time.time
    rand: Callable[[], float] = random.random
    redact: Redact = _redact_nothing


def _attempts(
    ctx: FlowContext,
    path: str,
    payload: bytes,
    notifications: int,
    read: Callable[[HttpResponse], Any],
    project: str | None = None,
    state: ChunkState | None = None,
    entries: Sequence[Entry] = (),
) -> Generator[Action, Result, Any]:
    """Post ``payload`` until ``read`` accepts the response or retries run out; return the last reading.

    With a ``state``, each attempt's outcome is a transition of it (``answered``
    or ``failed``); the client made it ``sending`` when the request went out.
    A ``NotStarted`` thrown in instead of a result leaves it as it was.
    """
    body, headers = request_body(payload)
    attempt = 0
    while True:
        yield Pace(notifications, project)
        result = yield Post(path, body, headers, notifications, project, state, entries)
        if isinstance(result, HttpResponse):
            outcome = read(result)
        else:
            assert result is not None
            outcome = transport_failed(result)
        if state is not None:
            if isinstance(outcome, Failed):
                state.failed(outcome.maybe_delivered)
            else:
                state.answered(outcome)
        if not isinstance(outcome, Failed) or not outcome.retryable:
            return outcome
        delay = ctx.retry.delay(attempt, outcome.retry_after, ctx.rand())
        if delay is None:
            return outcome
        attempt += 1
        if outcome.error.status_code == 429:
            yield Hold(delay, project)
        else:
            yield Sleep(delay)


def send_flow(chunk: Chunk, ctx: FlowContext) -> Generator[Action, Result, list[PushTicket]]:
    """Send one chunk; return its tickets in recipient order, or raise ``ChunkFailed``.

    Retries follow ``ctx.retry``. A ``PUSH_TOO_MANY_EXPERIENCE_IDS`` answer
    splits the chunk by project (when ``ctx.split_projects``) and sends each
    part in turn, paced under the project the answer named. Tickets carry
    their positions, so they are put back in the chunk's order by position.
    """
    groups: list[tuple[str | None, list[Entry]]] = [(ctx.project, chunk.entries)]
    split = False
    while groups:
        project, entries = groups.pop(0)
        count = sum(len(entry.recipients) for entry in entries)

        def read(response: HttpResponse, entries: list[Entry] = entries) -> list[PushTicket] | Failed:
            return read_send_response(response, entries, ctx.now_epoch(), ctx.redact)

        outcome = yield from _attempts(
            ctx, SEND_PATH, encode_entries(entries), count, read, project, chunk.state, entries
        )
        if isinstance(outcome, Failed):
            parts = (
                split_by_project(entries, outcome.error.details)
                if ctx.split_projects and outcome.error.code == TOO_MANY_EXPERIENCE_IDS
                else None
            )
            if parts is None:
                raise ChunkFailed(outcome.error)
            yield Refund(count, project)  # refused for mixing projects, so none of them counted
            for named, group in parts:
                if named is not None:
                    chunk.state.named((token, named) for entry in group for token in entry.recipients)
            groups[:0] = [(named or ctx.project, group) for named, group in parts]
            split = True
    tickets = chunk.state.tickets
    if split:
        tickets.sort(key=_position)
    return tickets


def _position(ticket: PushTicket) -> tuple[int, int]:
    assert ticket.position is not None
    return ticket.position


def receipts_flow(ids: Sequence[str], ctx: FlowContext) -> Generator[Action, Result, dict[str, PushReceipt]]:
    """Fetch the receipts of up to 1000 ids; return them by id, or raise ``PushServerError``."""

    def read(response: HttpResponse) -> dict[str, PushReceipt] | Failed:
        return read_receipts_response(response, ctx.now_epoch(), ctx.redact)

    outcome = yield from _attempts(ctx, RECEIPTS_PATH, encode_receipt_ids(ids), 0, read)
    if isinstance(outcome, Failed):
        raise outcome.error
    result: dict[str, PushReceipt] = outcome
    return result
