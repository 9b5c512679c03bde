"""What the emulator remembers, within bounds: the latest notifications, the latest exchanges whole, the receipts due.

Plain data with no lock and no I/O: ``EmulatorState`` owns one ``History`` and calls it under its lock.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

__all__ = ["DEFAULT_HISTORY", "KEPT_EXCHANGES", "KEPT_RECEIPTS", "Delivery", "Exchange", "History", "Receipts"]

DEFAULT_HISTORY = 10_000
"""How many of the latest accepted notifications the emulator keeps by default (about 14 MiB of them)."""
KEPT_EXCHANGES = 1000
"""How many of the latest push requests are kept whole (body and answer), for the traffic view."""
KEPT_EXCHANGE_BYTES = 32 * 1024 * 1024
"""At most this many bytes of bodies and answers are kept: the oldest exchanges go first beyond it."""
TAG = re.compile(r"[\w.-]{1,40}")
"""What a tag may be."""
KEPT_RECEIPTS = 1_000_000
"""Receipts are kept for ``receipt_retention``, but of at most the latest this many tickets (about 100 MiB)."""


class Delivery(msgspec.Struct, frozen=True):
    """One notification the service accepted for one token.

    ``message`` is the message as received, with ``to`` narrowed to the token;
    ``receipt_error`` is the error code its receipt will carry (``None`` for an
    ``ok`` receipt, i.e. the notification reached the device's provider);
    ``receipt_lost`` says its receipt never appears. ``token`` is the recipient as
    the service reads it (trimmed). ``seq`` numbers accepted
    notifications from 1 since the last reset, ``request`` the push request that
    brought it (numbered with every other push request, refused ones too);
    ``accepted_at`` and ``receipt_at`` are on the emulator's clock. ``receipt`` is
    the receipt object the service will answer (``None`` when lost),
    ``payload_bytes`` the size the 4,096-byte limit is judged on, and
    ``access_token`` whether the request carried an ``Authorization`` header.
    """

    message: dict[str, Any]
    ticket_id: str
    project: str
    receipt_error: str | None = None
    receipt_lost: bool = False
    seq: int = 0
    request: int = 0
    accepted_at: float = 0.0
    receipt_at: float = 0.0
    expires_at: float = 0.0
    token: str = ""
    receipt: dict[str, Any] | None = None
    payload_bytes: int = 0
    access_token: bool = False

    @property
    def delivered(self) -> bool:
        """Whether the receipt of this notification is ``ok``."""
        return self.receipt_error is None and not self.receipt_lost

    def as_dict(self) -> dict[str, Any]:
        """The delivery as a JSON-ready dict."""
        return msgspec.structs.asdict(self)


class Exchange(msgspec.Struct):
    """One push request (send or receipts) and what was answered, refused and faulted ones included.

    ``body`` is the body as sent (compressed when it came compressed: the views inflate it),
    ``answer`` the body answered before any compression (``None``: no
    answer, the connection was closed). ``access_token`` says whether an ``Authorization`` header
    came, never what it held.
    """

    number: int
    at: float
    kind: str
    http_version: str
    headers: dict[str, str]
    sent_bytes: int
    """The body's size as sent (compressed when it came compressed)."""
    body: bytes
    status: int | None
    answer: bytes | None
    answer_type: str
    fault: str | None
    access_token: bool
    notifications: tuple[int, int] | None = None
    """The ``seq`` of the first and last notification it brought, if it brought any."""
    recorded: int = 0
    """Its place in the order exchanges ended (a request answered late ends after later ones)."""

    def kept_bytes(self) -> int:
        """What keeping it whole costs, roughly: its body and its answer."""
        return len(self.body) + len(self.answer or b"")


@dataclass
class Receipts:
    """Receipts by ticket id, each kept until its expiry, and of at most the latest ``KEPT_RECEIPTS`` tickets.

    Tickets of one request share one record (the ``ok`` ones) and one expiry entry, so a receipt costs
    little more than its ticket id.
    """

    by_ticket: dict[str, tuple[float, float, dict[str, Any]]] = field(default_factory=dict)
    expiry: collections.deque[tuple[float, list[str]]] = field(default_factory=collections.deque)
    count: int = 0

    def add(self, expires_at: float, records: dict[str, tuple[float, float, dict[str, Any]]]) -> None:
        """Keep the receipts of one request's accepted tickets."""
        if not records:
            return
        self.by_ticket.update(records)
        self.expiry.append((expires_at, list(records)))
        self.count += len(records)
        while self.count > KEPT_RECEIPTS:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        _, ids = self.expiry.popleft()
        self.count -= len(ids)
        for ticket_id in ids:
            self.by_ticket.pop(ticket_id, None)

    def find(self, ticket_id: str, now: float) -> dict[str, Any] | None:
        """The receipt of ``ticket_id`` if it is due and not expired at ``now``."""
        while self.expiry and self.expiry[0][0] <= now:
            self._drop_oldest()
        record = self.by_ticket.get(ticket_id)
        if record is not None and record[0] <= now < record[1]:
            return record[2]
        return None


class History:
    """The latest ``limit`` accepted notifications (in order and by token), exchanges and receipt fetches."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.feed: collections.deque[Delivery] = collections.deque()
        self.inboxes: dict[str, collections.deque[Delivery]] = {}
        self.by_ticket: dict[str, Delivery] = {}
        self.fetched: dict[str, tuple[float, int]] = {}
        """Ticket id -> (emulator time of the first fetch of its receipt, how many fetches answered it)."""
        self.tags: dict[str, tuple[str, ...]] = {}
        """Ticket id -> the tags someone gave the notification (on the page or over REST)."""
        self.exchanges: collections.OrderedDict[int, Exchange] = collections.OrderedDict()
        """Exchanges by number, in the order they ended."""
        self.exchange_bytes = 0
        self.recorded = 0
        self.accepted = 0
        """Notifications accepted since the last reset (``seq`` of the latest), kept or not."""
        self.revision = 0
        """How many times notifications were cleared or deleted (pages start over when it changes)."""
        self._payloads: collections.Counter[int] = collections.Counter()
        self._keys: collections.deque[int] = collections.deque()

    # -- notifications ------------------------------------------------------

    def add(self, delivery: Delivery, key: int) -> bool:
        """Keep ``delivery`` (evicting the oldest beyond the limit); return whether ``key`` was seen among the kept."""
        self.accepted = delivery.seq
        duplicate = key in self._payloads
        self._payloads[key] += 1
        self._keys.append(key)
        self.feed.append(delivery)
        inbox = self.inboxes.get(delivery.token)
        if inbox is None:
            inbox = self.inboxes[delivery.token] = collections.deque()
        inbox.append(delivery)
        self.by_ticket[delivery.ticket_id] = delivery
        while len(self.feed) > self.limit:
            self._evict_oldest()
        return duplicate

    def _evict_oldest(self) -> None:
        oldest = self.feed.popleft()
        inbox = self.inboxes[oldest.token]
        inbox.popleft()
        if not inbox:
            del self.inboxes[oldest.token]
        self._forget(oldest, self._keys.popleft())

    def resize(self, limit: int) -> None:
        """Keep at most ``limit`` notifications from now on (the oldest go at once)."""
        self.limit = limit
        while len(self.feed) > limit:
            self._evict_oldest()

    def _index(self, seq: int) -> int:
        """Where notification ``seq`` is, or would be, in ``feed`` (seqs rise by one but for ones removed)."""
        feed = self.feed
        if not feed:
            return 0
        index = max(0, min(seq - feed[0].seq, len(feed)))
        while index > 0 and feed[index - 1].seq >= seq:
            index -= 1
        return index

    def find(self, seq: int) -> Delivery | None:
        """Notification ``seq`` while it is kept."""
        index = self._index(seq)
        return self.feed[index] if index < len(self.feed) and self.feed[index].seq == seq else None

    def after(self, seq: int) -> Iterator[Delivery]:
        """The kept notifications with a ``seq`` above ``seq``, oldest first."""
        feed = self.feed
        return (feed[i] for i in range(self._index(seq + 1), len(feed)))

    def remove(self, seq: int) -> bool:
        """Forget notification ``seq``; return whether it was kept."""
        index = self._index(seq)
        if index >= len(self.feed) or self.feed[index].seq != seq:
            return False
        delivery = self.feed[index]
        key = self._keys[index]
        del self.feed[index]
        del self._keys[index]
        inbox = self.inboxes[delivery.token]
        inbox.remove(delivery)
        if not inbox:
            del self.inboxes[delivery.token]
        self._forget(delivery, key)
        self.revision += 1
        return True

    def _forget(self, delivery: Delivery, key: int) -> None:
        self.by_ticket.pop(delivery.ticket_id, None)
        self.fetched.pop(delivery.ticket_id, None)
        self.tags.pop(delivery.ticket_id, None)
        left = self._payloads[key] - 1
        if left:
            self._payloads[key] = left
        else:
            del self._payloads[key]

    def clear_notifications(self) -> bool:
        """Forget every kept notification and exchange (receipts stay answered; numbering goes on); ``True``."""
        self.feed.clear()
        self.inboxes.clear()
        self.by_ticket.clear()
        self.fetched.clear()
        self.tags.clear()
        self._payloads.clear()
        self._keys.clear()
        self.exchanges.clear()
        self.exchange_bytes = 0
        self.revision += 1
        return True

    def tag(self, seq: int, tags: Iterable[str]) -> bool:
        """Give kept notification ``seq`` these tags (none: untag it); return whether it is kept.

        A tag is one word (see ``TAG``), so that ``tag:NAME`` finds it; anything else is a ``ValueError``.
        """
        tags = tuple(dict.fromkeys(tags))
        for tag in tags:
            if not isinstance(tag, str) or not TAG.fullmatch(tag):
                raise ValueError(f"a tag is 1 to 40 letters, digits, '-', '_' or '.', not {tag!r}")
        delivery = self.find(seq)
        if delivery is None:
            return False
        if tags:
            self.tags[delivery.ticket_id] = tags
        else:
            self.tags.pop(delivery.ticket_id, None)
        self.revision += 1
        return True

    def receipt_fetched(self, ticket_id: str, now: float) -> None:
        """Note that a receipts request answered the receipt of ``ticket_id``."""
        if ticket_id in self.by_ticket:
            first, count = self.fetched.get(ticket_id, (now, 0))
            self.fetched[ticket_id] = (first, count + 1)

    # -- exchanges ----------------------------------------------------------

    def add_exchange(self, exchange: Exchange) -> None:
        """Keep ``exchange`` whole, dropping the oldest beyond ``KEPT_EXCHANGES`` or ``KEPT_EXCHANGE_BYTES``."""
        self.recorded += 1
        exchange.recorded = self.recorded
        self.exchanges[exchange.number] = exchange
        self.exchange_bytes += exchange.kept_bytes()
        while len(self.exchanges) > KEPT_EXCHANGES or (
            self.exchange_bytes > KEPT_EXCHANGE_BYTES and len(self.exchanges) > 1
        ):
            _, oldest = self.exchanges.popitem(last=False)
            self.exchange_bytes -= oldest.kept_bytes()
