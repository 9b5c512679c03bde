"""Chunks: the stream of messages cut into requests of at most 100 recipients, and what became of each one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import msgspec

from ._account import MessagePart, Position
from ._message import PreparedMessage, PushMessage, narrow
from ._models import PushTicket
from ._service import MAX_NOTIFICATIONS_PER_REQUEST

__all__ = ["Chunk", "Chunker", "Entry"]


# gc=False: no reference cycles; untracked, so a large send does not feed the garbage collector (see PreparedMessage).
class Entry(msgspec.Struct, frozen=True, gc=False):
    """Part of one message that goes into one request: the message and some of its recipients.

    ``positions`` are the indices of ``recipients`` in the message's ``to``.
    """

    prepared: PreparedMessage
    recipients: tuple[str, ...]
    positions: tuple[int, ...]

    def part(self, keep: Sequence[int] | None = None) -> MessagePart:
        """The entry (or only its recipients at entry offsets ``keep``) as a part of the input message."""
        prepared = self.prepared
        if keep is None:
            recipients, positions = self.recipients, self.positions
        else:
            recipients = tuple(self.recipients[i] for i in keep)
            positions = tuple(self.positions[i] for i in keep)
        return MessagePart(prepared.index, positions, narrow(prepared.message, recipients, prepared.to_is_list))

    def narrowed(self) -> PushMessage:
        """The message addressed to this entry's recipients."""
        return narrow(self.prepared.message, self.recipients, self.prepared.to_is_list)


class Chunk:
    """The entries of one send request (at most 100 recipients), and what its flow has learnt so far.

    The flow that sends the chunk keeps ``tickets`` (answered, each with its
    position), ``in_flight`` (the entries of the request whose answer is
    awaited) and ``doubtful`` (entries of requests that failed in a way that
    may have delivered them). If the send ends before the chunk does,
    ``account_parts`` turns that into accepted, unsent and in-doubt parts.
    """

    __slots__ = ("count", "doubtful", "entries", "in_flight", "projects", "seq", "tickets")

    def __init__(self, entries: list[Entry], count: int, seq: int = 0) -> None:
        self.entries = entries
        self.count = count
        self.seq = seq
        """Position of the chunk in its batch."""
        self.tickets: list[PushTicket] = []
        self.in_flight: Sequence[Entry] = ()
        self.doubtful: list[Entry] = []
        self.projects: dict[str, str] = {}
        """Token -> Expo project, as the service named them when it refused the chunk for mixing projects."""

    @property
    def recipients(self) -> list[str]:
        """Every recipient of the chunk, in request order (the order of its tickets)."""
        return [token for entry in self.entries for token in entry.recipients]

    def account_parts(self) -> tuple[list[MessagePart], list[MessagePart]]:
        """The chunk's recipients without a ticket, as (unsent, in doubt) parts.

        A recipient whose request is in flight, or failed in a way that may
        have delivered it, is in doubt; the others were never sent.
        """
        # Read what is in flight before the tickets: the flow adds tickets before it clears ``in_flight``.
        # A request split by project sends new entries made from the chunk's, so doubt is kept by position.
        doubt = {
            Position(entry.prepared.index, p)
            for entry in (*self.in_flight, *self.doubtful)
            for p in entry.positions
        }
        answered = {ticket.position for ticket in list(self.tickets)}
        unsent: list[MessagePart] = []
        in_doubt: list[MessagePart] = []
        for entry in self.entries:
            index = entry.prepared.index
            lost, unknown = [], []
            for offset, position in enumerate(entry.positions):
                where = Position(index, position)
                if where in answered:
                    continue
                if where in doubt:
                    unknown.append(offset)
                else:
                    lost.append(offset)
            if lost:
                unsent.append(entry.part(lost))
            if unknown:
                in_doubt.append(entry.part(unknown))
        return unsent, in_doubt


class Chunker:
    """Cuts a stream of prepared messages into chunks of at most ``limit`` recipients.

    A message whose ``to`` lists more recipients than fit is split across
    chunks; several small messages share one. Chunks come out as soon as they
    are full, so a generator of messages is consumed lazily. ``read`` counts
    the recipients taken from the input; ``leftover()`` returns those read
    but not yet put in a chunk.
    """

    def __init__(self, messages: Iterable[PreparedMessage], limit: int = MAX_NOTIFICATIONS_PER_REQUEST) -> None:
        self._messages = iter(messages)
        self._limit = limit
        self._entries: list[Entry] = []
        self._count = 0
        self._current: PreparedMessage | None = None
        self._offset = 0
        self._seq = 0
        self.read = 0

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
                self.read += len(self._current.recipients)
            message = self._current
            room = self._limit - self._count
            start = self._offset
            part = message.recipients[start : start + room]
            self._entries.append(Entry(message, part, tuple(range(start, start + len(part)))))
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

    def leftover(self) -> list[MessagePart]:
        """What was read from the input but is in no chunk, as parts; the chunker is finished afterwards."""
        out = [entry.part() for entry in self._entries]
        current = self._current
        if current is not None:
            rest = range(self._offset, len(current.recipients))
            if rest:
                entry = Entry(current, current.recipients[self._offset :], tuple(rest))
                out.append(entry.part())
        self._entries, self._count, self._current = [], 0, None
        self._messages = iter(())
        return out

    def drain(self) -> list[MessagePart]:
        """``leftover()`` and the rest of the input (validated as it is read), as parts."""
        rest = self._messages
        out = self.leftover()
        for prepared in rest:
            self.read += len(prepared.recipients)
            out.append(Entry(prepared, prepared.recipients, tuple(range(len(prepared.recipients)))).part())
        return out
