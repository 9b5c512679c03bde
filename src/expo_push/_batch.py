"""One send of many chunks: which start, the order tickets are handed out in, and the account at the end.

Shared by the sync and async clients: they pull chunks, run their flows side
by side, and hand each finished chunk back here in input order. Whatever ends
the send (success, a request failing for good, a malformed message in a
stream, the caller stopping, an unexpected exception), ``SendBatch`` closes
the ``SendAccount`` so that every recipient read is accepted, unsent or in doubt.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

from ._account import MessagePart, SendAccount
from ._chunks import Chunk, Chunker
from ._errors import PushServerError, ValidationError
from ._flows import ChunkFailed, NotStarted
from ._message import PushMessage
from ._models import PushReceipt, PushTicket
from ._service import MAX_RECEIPT_IDS_PER_REQUEST
from ._validation import PreparedMessage, prepare_message

__all__ = [
    "SEND_STOPPED",
    "NotStarted",
    "SendBatch",
    "check_receipt_ids",
    "iter_prepared",
    "merge_receipts",
    "receipt_groups",
]

logger = logging.getLogger("expo_push")
T = TypeVar("T")

SEND_STOPPED = "expo_push_send_stopped"
"""The attribute set on the log record of a send stopped before it finished."""


class SendBatch:
    """Bookkeeping of one send of many chunks, shared by the sync and async clients.

    The client pulls chunks with ``next_chunk()``, runs each (``check_start()``
    first, then ``send_flow``), and settles them in input order with
    ``settle()``, which returns the tickets to hand to the caller. After the
    first failure no new chunk starts. ``finish()`` ends a send that ran its
    course; ``interrupt()`` one that the caller stopped with chunks still out.
    Either closes ``account``, then raises what ended the send, if anything did.
    """

    def __init__(
        self, messages: object, *, whole: bool, account: SendAccount | None = None, strict: bool = False
    ) -> None:
        """A batch of ``messages`` (one message or an iterable of them).

        ``whole=True`` (``send``) validates every message before the first
        request, and on failure lists in the error every ticket, those already
        handed out included, and every recipient not accepted, those not yet
        read included. ``whole=False`` (``iter_send``) validates as it reads,
        and the error holds only the tickets not handed out. ``strict``
        refuses unknown keys of dict messages (``prepare_message``).
        """
        if account is None:
            account = SendAccount() if whole else SendAccount._counting()
        self.account = account
        if self.account.done or self.account.read:
            raise ValueError("a SendAccount records one send: pass a new one")
        prepared = iter_prepared(messages, strict=strict)
        self._chunker = Chunker(_handed_once(list(prepared)) if whole else prepared)
        self._whole = whole
        self._handed_out = 0
        self.failed = False
        self.stopped = False
        self._error: PushServerError | None = None
        self._unexpected: BaseException | None = None
        self._invalid: BaseException | None = None
        self._held_back: list[PushTicket] = []  # accepted after a failure: not handed out, kept for the error
        self._unsent: list[MessagePart] = []
        self._in_doubt: list[MessagePart] = []
        self._input_done = False

    def next_chunk(self) -> Chunk | None:
        """The next chunk to send, or ``None`` when there is none (input done, invalid, or batch ended)."""
        if self._input_done or self.failed or self.stopped:
            return None
        read = self._chunker.read
        try:
            chunk = next(self._chunker)
        except StopIteration:
            self._input_done = True
            chunk = None
        except Exception as exc:  # a malformed message, or the caller's iterator failed
            self._invalid = exc
            self._input_done = True
            chunk = self._chunker.flush()
        self.account._add_read(self._chunker.read - read)
        return chunk

    def check_start(self) -> None:
        """Raise ``NotStarted`` if the batch has failed or is ending: a chunk must not start then."""
        if self.failed or self.stopped:
            raise NotStarted

    def chunk_failed(self) -> None:
        """Note that a chunk failed for good: no further chunk starts."""
        self.failed = True

    def settle(self, chunk: Chunk, result: list[PushTicket] | BaseException) -> list[PushTicket]:
        """Take a finished chunk, in input order; return the tickets to give the caller now."""
        self.account._add_projects(chunk.projects)
        if isinstance(result, list):
            self.account._add_tickets(result)
            if self._error is None and self._unexpected is None:  # next in input order: hand them out
                self._handed_out += len(result)
                return result
            self._held_back.extend(result)
            return []
        self._take_rest(chunk)
        if isinstance(result, ChunkFailed):
            self.failed = True
            if self._error is None:
                self._error = result.error
        elif not isinstance(result, NotStarted):
            self.failed = True
            if self._unexpected is None:
                self._unexpected = result
        return []

    def _take_rest(self, chunk: Chunk) -> None:
        """Account for a chunk that did not finish: its tickets so far, and the rest unsent or in doubt."""
        tickets, unsent, in_doubt = chunk.outcome()  # one look: a ticket is either here or its recipient is not
        self.account._add_tickets(tickets)
        self.account._add_projects(chunk.projects)
        self._held_back.extend(tickets)
        self._unsent.extend(unsent)
        self._in_doubt.extend(in_doubt)

    def stop(self) -> None:
        """The caller stopped (or the client is closing): start nothing more."""
        self.stopped = True

    def interrupt(self, outstanding: Iterable[Chunk]) -> None:
        """Close the account of a send stopped with ``outstanding`` chunks not settled (started or not)."""
        self.stopped = True
        for chunk in outstanding:
            self._take_rest(chunk)
        self._close_account()
        if self.account.unsent or self.account.in_doubt:
            logger.warning(
                "expo-push: a send was stopped before it finished: %s",
                self.account.summary(),
                extra={SEND_STOPPED: True},  # a caller giving its own summary recognises the record by this
            )

    def finish(self) -> None:
        """Close the account of a send that ran its course; raise what ended it, if anything did."""
        self._close_account()
        if self._unexpected is not None:
            logger.error("expo-push: a send ended on an unexpected error: %s", self.account.summary())
            raise self._unexpected
        if self._error is not None:
            error = self._error
            tickets = self.account.tickets if self._whole else sorted(self._held_back, key=_position)
            raise error.with_outcome(
                tickets=tickets,
                unsent=[part.message for part in self.account.unsent],
                in_doubt=[part.message for part in self.account.in_doubt],
                account=self.account,
            )
        if self._invalid is not None:
            raise self._invalid

    def _close_account(self) -> None:
        if self.account.done:
            return
        read = self._chunker.read
        rest = self._chunker.drain() if self._whole else self._chunker.leftover()
        self.account._add_read(self._chunker.read - read)
        self.account._close([*self._unsent, *rest], self._in_doubt)


def _position(ticket: PushTicket) -> tuple[int, int]:
    return ticket.position or (-1, -1)


def _handed_once(items: list[T]) -> Iterator[T]:
    """The items in order, each let go of as it is handed out: a message already in a chunk is held by its
    chunk alone, and freed once the chunk is settled, so a large send's memory shrinks as it goes."""
    items.reverse()
    while items:
        yield items.pop()


def iter_prepared(messages: object, *, strict: bool = False) -> Iterator[PreparedMessage]:
    """Validate messages one by one as they are read: one message, or any iterable of them."""
    if isinstance(messages, (PushMessage, Mapping)):
        messages = [messages]
    elif isinstance(messages, (str, bytes)) or not isinstance(messages, Iterable):
        raise ValidationError(
            f"messages must be a PushMessage, a dict, or an iterable of them, not {type(messages).__name__}"
        )
    for index, message in enumerate(messages):
        yield prepare_message(message, index, strict=strict)


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
                raise result.with_outcome(receipts=receipts)
            raise result
    return receipts
