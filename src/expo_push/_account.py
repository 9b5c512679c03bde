"""The account of one send: for every recipient read, exactly one of accepted, not sent, or in doubt.

A send can end in many ways: it returns, a request fails for good, a
malformed message is met in a stream, the caller cancels it or presses
Ctrl-C, the client is closed from elsewhere, a callback or the caller's
iterator raises. However it ends, its ``SendAccount`` says what became of
each recipient, by *position* (the message's index in the input and the
recipient's index in that message's ``to``), so nothing is matched back by
token and nothing accepted is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

import msgspec

if TYPE_CHECKING:
    from ._message import PushMessage
    from ._models import PushTicket

__all__ = ["MessagePart", "Position", "SendAccount"]


class Position(NamedTuple):
    """Where a recipient came from: ``message``, the message's index in the input; ``recipient``, its index in ``to``.

    A message whose ``to`` is one token has its recipient at index 0.
    """

    message: int
    recipient: int


class MessagePart(msgspec.Struct, frozen=True, gc=False):
    """Some recipients of one input message: message ``index``, recipients at ``recipients``, as ``message``.

    ``message`` is the input message narrowed to those recipients, ready to be
    sent again as it is.
    """

    index: int
    recipients: tuple[int, ...]
    message: PushMessage

    @property
    def positions(self) -> list[Position]:
        """The position of each recipient of the part."""
        return [Position(self.index, r) for r in self.recipients]


class SendAccount:
    """What became of every recipient of one send, filled in while it runs and complete when it ends.

    Pass one to ``send``/``iter_send`` (``client.send(messages, account=account)``)
    to keep it however the send ends; every ``PushServerError`` and
    ``SendInterrupted`` of a send also carries it as ``.account``.

    - ``tickets``: every ticket the service answered (``ok`` or ``error``), each
      with ``.position`` and ``.to``; in input order once the send has ended.
    - ``unsent``: parts of messages never sent; resend them as they are.
    - ``in_doubt``: parts whose request went out and whose answer never came
      (cancelled in flight, cut off, timed out, answered unreadably): the
      service may have delivered them. Resending may duplicate them.
    - ``read``: recipients read from the input; ``done``: whether the send ended.
    - ``projects``: the Expo project (``@owner/slug``) of each token that the
      service named during the send (it does when it refuses a request for
      mixing projects), so that later sends can be paced per project.

    Once ``done``, the three cover every position read exactly once
    (``balanced()``).
    """

    __slots__ = ("_accepted", "_keep_tickets", "_lock", "done", "in_doubt", "projects", "read", "tickets", "unsent")

    def __init__(self) -> None:
        self._keep_tickets = True
        self._accepted = 0
        self.tickets: list[PushTicket] = []
        self.unsent: list[MessagePart] = []
        self.in_doubt: list[MessagePart] = []
        self.projects: dict[str, str] = {}
        self.read = 0
        self.done = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"expo_push.SendAccount(read={self.read}, accepted={self.accepted}, "
            f"unsent={_count(self.unsent)}, in_doubt={_count(self.in_doubt)}, done={self.done})"
        )

    @classmethod
    def _counting(cls) -> SendAccount:
        """An account that counts the tickets handed out without keeping them (``iter_send`` with no account
        given: a stream of millions stays in bounded memory)."""
        account = cls()
        account._keep_tickets = False
        return account

    @property
    def accepted(self) -> int:
        """Recipients the service answered with a ticket (``ok`` or ``error``)."""
        return self._accepted

    @property
    def unsent_count(self) -> int:
        """Recipients never sent."""
        return _count(self.unsent)

    @property
    def in_doubt_count(self) -> int:
        """Recipients whose request's answer never came."""
        return _count(self.in_doubt)

    @property
    def unsent_positions(self) -> list[Position]:
        """Positions of the recipients never sent, in input order."""
        return sorted(_positions(self.unsent))

    @property
    def in_doubt_positions(self) -> list[Position]:
        """Positions of the recipients in doubt, in input order."""
        return sorted(_positions(self.in_doubt))

    def balanced(self) -> bool:
        """Whether tickets, unsent and in-doubt recipients cover each position read exactly once."""
        if not self._keep_tickets:
            return self._accepted + self.unsent_count + self.in_doubt_count == self.read
        seen: set[Position] = set()
        count = 0
        for position in self._all_positions():
            seen.add(position)
            count += 1
        if count != len(seen) or count != self.read:
            return False
        return all(p.message >= 0 and p.recipient >= 0 for p in seen)

    def summary(self) -> str:
        """One line of exact numbers, e.g. ``accepted 1200, not sent 300, in doubt 100 of 1600 read``."""
        return (
            f"accepted {self.accepted}, not sent {self.unsent_count}, "
            f"in doubt {self.in_doubt_count} of {self.read} read"
        )

    def _all_positions(self) -> Iterator[Position]:
        for ticket in self.tickets:
            if ticket.position is not None:
                yield ticket.position
        yield from _positions(self.unsent)
        yield from _positions(self.in_doubt)

    # -- filled in by the send (under the lock: requests finish on several threads) --

    def _add_read(self, count: int) -> None:
        with self._lock:
            self.read += count

    def _add_tickets(self, tickets: Sequence[PushTicket]) -> None:
        with self._lock:
            self._accepted += len(tickets)
            if self._keep_tickets:
                self.tickets.extend(tickets)

    def _add_projects(self, projects: dict[str, str]) -> None:
        if projects:
            with self._lock:
                self.projects.update(projects)

    def _close(self, unsent: Sequence[MessagePart], in_doubt: Sequence[MessagePart]) -> None:
        with self._lock:
            self.unsent.extend(unsent)
            self.in_doubt.extend(in_doubt)
            self.tickets.sort(key=_ticket_position)
            self.unsent.sort(key=_part_order)
            self.in_doubt.sort(key=_part_order)
            self.done = True


def _ticket_position(ticket: PushTicket) -> Position:
    return ticket.position or Position(-1, -1)


def _part_order(part: MessagePart) -> tuple[int, tuple[int, ...]]:
    return part.index, part.recipients


def _positions(parts: Iterable[MessagePart]) -> Iterator[Position]:
    for part in parts:
        for recipient in part.recipients:
            yield Position(part.index, recipient)


def _count(parts: Iterable[MessagePart]) -> int:
    return sum(len(part.recipients) for part in parts)
