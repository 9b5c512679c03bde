"""Chunks: the stream of messages cut into requests of at most 100 recipients, and what became of each one."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import msgspec

from ._account import MessagePart, Position
from ._message import PushMessage, narrow
from ._models import PushTicket
from ._service import MAX_NOTIFICATIONS_PER_REQUEST
from ._validation import PreparedMessage

__all__ = ["Chunk", "ChunkOutcome", "ChunkState", "Chunker", "Entry"]


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


class ChunkOutcome(NamedTuple):
    """What became of a chunk's recipients, from one look at its state: answered, never sent, in doubt."""

    tickets: list[PushTicket]
    unsent: list[MessagePart]
    in_doubt: list[MessagePart]


class ChunkState:
    """What the flow of one chunk has learnt, written only through the named transitions below.

    The flow runs on one thread (or task) while the send's bookkeeping may read
    the state from another, so every transition and every read takes the lock:
    a reader sees a request's tickets or its recipients out, never neither.

    ==========  ============================  ==========  ==============================================
    from        transition (who)              to          meaning
    ==========  ============================  ==========  ==============================================
    idle        ``sending(entries)`` (client)  sending     a request is handed to I/O: from now on it may
                                                          reach the service, so its recipients are in doubt
    sending     ``answered(tickets)`` (flow)   idle        its tickets came back
    sending     ``failed(maybe)`` (flow)       idle        no tickets; its recipients stay in doubt if the
                                                          failure may have delivered them, else unsent
    any         ``named(projects)`` (flow)     same        the service named the projects of some tokens
    ==========  ============================  ==========  ==============================================

    Any other transition is a bug of the driver and raises ``RuntimeError``. A
    request that never reaches ``sending`` (the pacer failed, the send was
    stopped first) leaves no trace: its recipients are unsent.
    """

    __slots__ = ("_doubtful", "_lock", "_projects", "_sending", "_tickets")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tickets: list[PushTicket] = []
        self._sending: Sequence[Entry] | None = None
        self._doubtful: list[Entry] = []
        self._projects: dict[str, str] = {}

    def __repr__(self) -> str:
        state = "sending" if self._sending is not None else "idle"
        return f"ChunkState({state}, tickets={len(self._tickets)}, doubtful={len(self._doubtful)} entries)"

    # -- transitions --

    def sending(self, entries: Sequence[Entry]) -> None:
        """idle -> sending: a request of ``entries`` is being handed to I/O."""
        with self._lock:
            if self._sending is not None:
                raise RuntimeError("a chunk sends one request at a time: the previous one has no outcome yet")
            self._sending = entries

    def answered(self, tickets: Iterable[PushTicket]) -> None:
        """sending -> idle: the request came back with ``tickets``."""
        with self._lock:
            self._check_sending("answered")
            self._tickets.extend(tickets)
            self._sending = None

    def failed(self, maybe_delivered: bool) -> None:
        """sending -> idle: the request failed; its recipients are doubtful if it ``maybe_delivered`` them."""
        with self._lock:
            entries = self._check_sending("failed")
            if maybe_delivered:
                self._doubtful.extend(entries)
            self._sending = None

    def named(self, projects: Iterable[tuple[str, str]]) -> None:
        """Note the project of some tokens, as the service named them (token, project)."""
        with self._lock:
            self._projects.update(projects)

    def _check_sending(self, transition: str) -> Sequence[Entry]:
        if self._sending is None:
            raise RuntimeError(f"{transition}: no request of this chunk was handed to I/O (call Post.sending() first)")
        return self._sending

    # -- reads --

    @property
    def is_sending(self) -> bool:
        """Whether a request of the chunk is out (handed to I/O, its answer awaited)."""
        return self._sending is not None

    @property
    def tickets(self) -> list[PushTicket]:
        """The tickets answered so far (a copy), in the order they came."""
        with self._lock:
            return list(self._tickets)

    @property
    def projects(self) -> dict[str, str]:
        """Token -> Expo project, as the service named them (a copy)."""
        with self._lock:
            return dict(self._projects)

    def look(self) -> tuple[list[PushTicket], list[Entry]]:
        """One consistent look: the tickets so far, and the entries in doubt (the request out, the doubtful)."""
        with self._lock:
            out = [*self._sending] if self._sending is not None else []
            return list(self._tickets), [*out, *self._doubtful]


class Chunk:
    """The entries of one send request (at most 100 recipients), and the ``state`` its flow has reached.

    If the send ends before the chunk does, ``outcome()`` says from one look at
    the state what became of each recipient: answered, unsent or in doubt.
    """

    __slots__ = ("count", "entries", "seq", "state")

    def __init__(self, entries: list[Entry], count: int, seq: int = 0) -> None:
        self.entries = entries
        self.count = count
        self.seq = seq
        """Position of the chunk in its batch."""
        self.state = ChunkState()

    @property
    def recipients(self) -> list[str]:
        """Every recipient of the chunk, in request order (the order of its tickets)."""
        return [token for entry in self.entries for token in entry.recipients]

    @property
    def tickets(self) -> list[PushTicket]:
        """The tickets answered so far (a copy)."""
        return self.state.tickets

    @property
    def projects(self) -> dict[str, str]:
        """Token -> Expo project, as the service named them when it refused the chunk for mixing projects."""
        return self.state.projects

    @property
    def in_flight(self) -> bool:
        """Whether a request of the chunk is out: handed to I/O, its answer awaited."""
        return self.state.is_sending

    def outcome(self) -> ChunkOutcome:
        """The chunk's tickets so far, and its recipients without one as unsent and in-doubt parts.

        A recipient whose request is out, or failed in a way that may have
        delivered it, is in doubt; the others were never sent.
        """
        tickets, doubtful = self.state.look()
        # A request split by project sends new entries made from the chunk's, so doubt is kept by position.
        doubt = {Position(entry.prepared.index, p) for entry in doubtful for p in entry.positions}
        answered = {ticket.position for ticket in tickets}
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
        return ChunkOutcome(tickets, unsent, in_doubt)


_FIRST_POSITIONS = tuple(tuple(range(n)) for n in range(MAX_NOTIFICATIONS_PER_REQUEST + 1))
"""The positions of an entry that starts a message, shared: most entries are one whole message (``(0,)``)."""


def _positions(start: int, count: int) -> tuple[int, ...]:
    """The positions ``start`` to ``start + count - 1`` (shared when they start at 0, as most do)."""
    if start == 0 and count <= MAX_NOTIFICATIONS_PER_REQUEST:
        return _FIRST_POSITIONS[count]
    return tuple(range(start, start + count))


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
            self._entries.append(Entry(message, part, _positions(start, len(part))))
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
                entry = Entry(current, current.recipients[self._offset :], _positions(rest.start, len(rest)))
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
            out.append(Entry(prepared, prepared.recipients, _positions(0, len(prepared.recipients))).part())
        return out
