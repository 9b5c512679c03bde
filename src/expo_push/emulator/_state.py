"""What the emulated service knows: projects, scripted outcomes, inboxes, receipts, rate buckets and counters.

Everything here is plain data behind one lock, with no I/O: the HTTP layer
decodes a request, asks this module for the answer, and writes it.
"""

from __future__ import annotations

import collections
import hmac
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import msgspec

from ._service import (
    MAX_PAYLOAD_BYTES,
    Notification,
    RequestError,
    error_object,
    parse_receipt_ids,
    parse_send,
    request_error,
)

__all__ = [
    "Delivery",
    "EmulatorState",
    "RequestError",
    "SendAnswer",
    "Settings",
    "Stats",
    "error_object",
    "ticket_ids",
]


_MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """The tunable behaviour of the emulator; ``reset()`` returns to the values given at construction."""

    rate_limit: float | None = 600.0
    """Notifications per second per project; ``None`` turns the limit off."""
    receipt_delay: float = 0.0
    """Seconds after acceptance before a receipt can be fetched."""
    receipt_retention: float = 86400.0
    """Seconds after acceptance during which a receipt can be fetched."""
    latency: float = 0.0
    """Seconds added to every send and receipts request before it is answered."""
    access_tokens: frozenset[str] | None = field(default=None, repr=False)
    """When set, every request needs ``Authorization: Bearer <one of them>``."""
    default_project: str = "@test/app"
    """The project of every token not given one with ``set_project``."""
    registered_only: bool = False
    """When true, only tokens given to ``register`` receive: the others get ``DeviceNotRegistered`` tickets."""
    max_body_bytes: int = 4 * _MIB
    """The largest request body taken, as sent and once decompressed (GUESS: the service's own limit is unknown)."""

    def __post_init__(self) -> None:
        if self.rate_limit is not None and not self.rate_limit > 0:
            raise ValueError(f"rate_limit must be a positive number or None, not {self.rate_limit!r}")
        for name in ("receipt_delay", "receipt_retention", "latency"):
            value = getattr(self, name)
            if not value >= 0:
                raise ValueError(f"{name} must be a non-negative number of seconds, not {value!r}")
        if not isinstance(self.registered_only, bool):
            raise ValueError(f"registered_only must be true or false, not {self.registered_only!r}")
        if isinstance(self.max_body_bytes, bool) or not isinstance(self.max_body_bytes, int) or self.max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be a positive integer, not {self.max_body_bytes!r}")


@dataclass
class Stats:
    """Counters since the last reset; the emulator hands out snapshots (copies) of its own."""

    requests: int = 0
    """Send and receipts requests received (control requests are not counted)."""
    send_requests: int = 0
    receipt_requests: int = 0
    notifications: int = 0
    """Notifications accepted (each recipient of a list ``to`` counts once)."""
    ticket_errors: int = 0
    """Notifications answered with an error ticket (scripted, unregistered or malformed token)."""
    duplicates: int = 0
    """Accepted notifications whose token and payload equal those of one accepted before."""
    rate_limited: int = 0
    """429 answers served, by the rate limit or by a fault."""
    errors: int = 0
    """Other 4xx and 5xx answers served."""
    dropped: int = 0
    """Connections closed without an answer by a fault."""
    faults: int = 0
    """Requests a fault applied to."""
    max_in_flight: int = 0
    """The largest number of send and receipts requests being handled at once."""
    bytes_received: int = 0
    """Request body bytes received, as sent (compressed when the client compressed)."""

    def as_dict(self) -> dict[str, int]:
        """The counters as a JSON-ready dict."""
        return asdict(self)


class Delivery(msgspec.Struct, frozen=True):
    """One notification the service accepted for one token.

    ``message`` is the message as received, with ``to`` narrowed to the token;
    ``receipt_error`` is the error code its receipt will carry (``None`` for an
    ``ok`` receipt, i.e. the notification reached the device's provider);
    ``receipt_lost`` says its receipt never appears. ``token`` is the recipient as
    the service reads it (trimmed). ``seq`` numbers accepted
    notifications from 1 since the last reset, ``request`` the send request that
    brought it; ``accepted_at`` and ``receipt_at`` are on the emulator's clock.
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

    @property
    def delivered(self) -> bool:
        """Whether the receipt of this notification is ``ok``."""
        return self.receipt_error is None and not self.receipt_lost

    def as_dict(self) -> dict[str, Any]:
        """The delivery as a JSON-ready dict."""
        return msgspec.structs.asdict(self)


@dataclass(frozen=True)
class SendAnswer:
    """Tickets of an accepted send request; ``single`` when the answer is one ticket object, not a list."""

    tickets: list[dict[str, Any]]
    single: bool

    def body(self) -> dict[str, Any]:
        """The response body: ``{"data": ticket}`` or ``{"data": [tickets...]}``."""
        return {"data": self.tickets[0] if self.single else self.tickets}


@dataclass(frozen=True)
class _TokenScript:
    ticket_error: str | None = None
    receipt_error: str | None = None
    details: dict[str, Any] | None = None
    receipt_lost: bool = False


class _Bucket:
    """A token bucket holding at most one second of ``rate``, refilled continuously."""

    __slots__ = ("last", "level")

    def __init__(self, capacity: float, now: float) -> None:
        self.level = capacity
        self.last = now

    def take(self, amount: int, rate: float, now: float) -> bool:
        if now > self.last:
            self.level = min(rate, self.level + (now - self.last) * rate)
            self.last = now
        if amount <= self.level:
            self.level -= amount
            return True
        return False


_OK_RECEIPT: dict[str, Any] = {"status": "ok"}
_KEPT_REQUESTS = 1000
"""How many of the latest send requests are kept whole, for the inbox's raw request view."""


def ticket_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUID strings, made in one go: far cheaper than ``uuid.uuid4()`` each."""
    raw = bytearray(os.urandom(16 * count))
    for start in range(0, 16 * count, 16):
        raw[start + 6] = (raw[start + 6] & 0x0F) | 0x40
        raw[start + 8] = (raw[start + 8] & 0x3F) | 0x80
    hexed = raw.hex()
    ids = []
    for start in range(0, 32 * count, 32):
        h = hexed[start : start + 32]
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids


def _malformed_ticket(token: str) -> dict[str, Any]:
    # GUESS: a recipient that is not an Expo push token at all gets an error ticket of its own
    # (the rest of the request goes through), coded as the service codes a token it does not know.
    return {
        "status": "error",
        "message": f'"{token}" is not a valid Expo push token',
        "details": {"error": "DeviceNotRegistered", "expoPushToken": token},
    }


class EmulatorState:
    """The emulated service's memory and decisions, safe to use from several threads."""

    def __init__(self, settings: Settings, clock: Callable[[], float]) -> None:
        self._initial = settings
        self.settings = settings
        self._clock = clock
        self._offset = 0.0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._generation = 0
        self._listeners: list[Callable[[], None]] = []
        self._clear()

    def _clear(self) -> None:
        self._counters = Stats()
        self._scripts: dict[str, _TokenScript] = {}
        self._projects: dict[str, str] = {}
        self._registered: set[str] = set()
        self._inboxes: dict[str, list[Delivery]] = {}
        self._feed: list[Delivery] = []
        self._requests: collections.OrderedDict[int, dict[str, Any]] = collections.OrderedDict()
        self._request_count = 0
        # ticket id -> (available at, expires at, receipt)
        self._receipts: dict[str, tuple[float, float, dict[str, Any]]] = {}
        self._expiry: collections.deque[tuple[float, str]] = collections.deque()
        self._seen: set[tuple[str, bytes]] = set()
        self._buckets: dict[str, _Bucket] = {}

    # -- change notification ------------------------------------------------

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` (from whichever thread made the change) after every change; returns the undo."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def changed(self) -> None:
        """Tell every listener that something changed (the HTTP layer calls it when faults change)."""
        for listener in list(self._listeners):
            listener()

    # -- time ---------------------------------------------------------------

    def now(self) -> float:
        """The emulator's time: the injected clock plus every ``advance``."""
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the emulator's time forward by ``seconds`` (receipts and rate buckets see it)."""
        if not seconds >= 0:
            raise ValueError(f"seconds must be a non-negative number, not {seconds!r}")
        with self._lock:
            self._offset += seconds
        self.changed()

    @property
    def generation(self) -> int:
        """A number that changes at every ``reset``."""
        return self._generation

    # -- configuration ------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Change settings (see ``Settings``); a new rate limit refills every bucket."""
        if "access_tokens" in changes and changes["access_tokens"] is not None:
            changes["access_tokens"] = frozenset(changes["access_tokens"])
        with self._lock:
            new = Settings(**{**asdict(self.settings), "access_tokens": self.settings.access_tokens, **changes})
            if new.rate_limit != self.settings.rate_limit:
                self._buckets.clear()
            self.settings = new
        self.changed()

    def reset(self) -> None:
        """Forget everything since construction: settings, scripts, projects, inboxes, receipts, counters, time."""
        with self._lock:
            self.settings = self._initial
            self._offset = 0.0
            self._generation += 1
            self._clear()
        self.changed()

    def script_token(
        self,
        tokens: Iterable[str],
        ticket_error: str | None,
        receipt_error: str | None,
        *,
        details: dict[str, Any] | None = None,
        receipt_lost: bool = False,
    ) -> None:
        """Set the outcome of future notifications to ``tokens`` (nothing set: back to normal)."""
        for name, code in (("ticket_error", ticket_error), ("receipt_error", receipt_error)):
            if code is not None and (not isinstance(code, str) or not code):
                raise ValueError(f"{name} must be an error code such as 'DeviceNotRegistered', not {code!r}")
        if details is not None and not isinstance(details, dict):
            raise ValueError(f"details must be a JSON object such as {{'apns': {{...}}}}, not {details!r}")
        if receipt_lost and (ticket_error is not None or receipt_error is not None):
            raise ValueError("receipt_lost gives no receipt at all: it cannot come with a ticket or receipt error")
        script = _TokenScript(ticket_error, receipt_error, details, bool(receipt_lost))
        with self._lock:
            for token in tokens:
                if script == _TokenScript():
                    self._scripts.pop(token, None)
                else:
                    self._scripts[token] = script
        self.changed()

    def set_project(self, tokens: Iterable[str], project: str) -> None:
        """Say that ``tokens`` belong to ``project`` ("@owner/slug")."""
        if not isinstance(project, str) or not project:
            raise ValueError(f"project must be a name such as '@owner/slug', not {project!r}")
        with self._lock:
            for token in tokens:
                self._projects[token] = project

    def register(self, tokens: Iterable[str], registered: bool = True) -> None:
        """Say that ``tokens`` belong to installed apps (``registered=False``: no longer)."""
        with self._lock:
            if registered:
                self._registered.update(tokens)
            else:
                self._registered.difference_update(tokens)

    # -- inspection ---------------------------------------------------------

    def inbox(self, token: str) -> list[Delivery]:
        """The notifications accepted for ``token``, oldest first."""
        with self._lock:
            return list(self._inboxes.get(token, ()))

    def tokens(self) -> list[str]:
        """Every token with at least one accepted notification, in order of first acceptance."""
        with self._lock:
            return list(self._inboxes)

    def feed(self, after: int = 0, limit: int | None = None) -> list[Delivery]:
        """Accepted notifications with ``seq`` above ``after``, oldest first; at most the newest ``limit``."""
        with self._lock:
            start = max(after, 0)
            if limit is not None:
                start = max(start, len(self._feed) - limit)
            return self._feed[start:]

    def request(self, number: int) -> dict[str, Any] | None:
        """Send request ``number`` as received (headers and decoded body), while it is among the latest kept."""
        with self._lock:
            return self._requests.get(number)

    def stats(self) -> Stats:
        """A snapshot of the counters."""
        with self._lock:
            return replace(self._counters)

    def wait_idle(self, timeout: float | None) -> bool:
        """Block until no send or receipts request is being handled; return ``False`` on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._in_flight, timeout)

    # -- request accounting (called by the HTTP layer) ----------------------

    def request_started(self, kind: str, body_bytes: int) -> int:
        """Count one send (``kind="send"``) or receipts request that has arrived, before its body is read.

        Returns the request's generation (it changes at every ``reset``), to give
        to ``body_received``, ``send`` and ``request_finished``.
        """
        with self._lock:
            c = self._counters
            c.requests += 1
            if kind == "send":
                c.send_requests += 1
            else:
                c.receipt_requests += 1
            c.bytes_received += body_bytes
            self._in_flight += 1
            if self._in_flight > c.max_in_flight:
                c.max_in_flight = self._in_flight
            return self._generation

    def body_received(self, started: int, body_bytes: int) -> None:
        """Count the body bytes of a request whose size was not known when it started."""
        with self._lock:
            if started == self._generation:
                self._counters.bytes_received += body_bytes

    def request_finished(self, started: int, status: int | None, *, fault: bool = False) -> None:
        """Count how a request was answered: an HTTP ``status``, or ``None`` for no answer.

        No answer counts as ``dropped`` when a fault closed the connection (not
        when the client went away first).

        ``started`` is what ``request_started`` returned: a request that began
        before the last reset is not counted in the new counters.
        """
        with self._lock:
            c = self._counters
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.notify_all()
            if started != self._generation:
                return
            if fault:
                c.faults += 1
            if status is None:
                if fault:
                    c.dropped += 1
            elif status == 429:
                c.rate_limited += 1
            elif status >= 400:
                c.errors += 1

    def authorized(self, authorization: str | None) -> bool:
        """Whether a request with this ``Authorization`` header value may be served."""
        allowed = self.settings.access_tokens
        if allowed is None:
            return True
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        given = credentials.strip().encode()
        found = False
        for token in allowed:
            found |= hmac.compare_digest(given, token.encode())
        return found

    # -- the protocol -------------------------------------------------------

    def send(
        self, body: object, started: int | None = None, received: dict[str, Any] | None = None
    ) -> SendAnswer | RequestError | None:
        """Answer a decoded send request body: tickets, or the error that refuses it whole.

        ``started`` is the request's generation from ``request_started``: a
        request that began before the last ``reset`` records nothing and gets
        ``None`` (its answer belongs to nobody; the HTTP layer drops it).
        ``received`` (headers and the like) is kept with the body for the inbox's raw view.
        """
        parsed = parse_send(body)
        if isinstance(parsed, RequestError):
            return parsed
        notifications = parsed.notifications
        count = len(notifications)
        with self._lock:
            if started is not None and started != self._generation:
                return None
            settings = self.settings
            default_project = settings.default_project
            projects = self._projects
            # OBSERVED: the project check covers every recipient, with each project's tokens in `details`.
            by_project: dict[str, list[str]] = {}
            for notification in notifications:
                if notification.well_formed:
                    token = notification.token
                    tokens = by_project.setdefault(projects.get(token, default_project), [])
                    if token not in tokens:
                        tokens.append(token)
            if len(by_project) > 1:
                return request_error(
                    400,
                    "PUSH_TOO_MANY_EXPERIENCE_IDS",
                    "All push notification messages in the same request must be for the same project; "
                    "check the details field to investigate conflicting tokens.",
                    by_project,
                )
            project = next(iter(by_project), default_project)
            now = self._clock() + self._offset
            rate = settings.rate_limit
            if rate is not None:
                bucket = self._buckets.get(project)
                if bucket is None:
                    bucket = self._buckets[project] = _Bucket(rate, now)
                if not bucket.take(count, rate, now):
                    # DOCUMENTED: 429 TOO_MANY_REQUESTS over 600 notifications per second per project.
                    return request_error(
                        429,
                        "TOO_MANY_REQUESTS",
                        f"You are exceeding the request limit of {rate:g} notifications per second per project.",
                    )
            tickets = self._accept(notifications, project, now, received, body)
        self.changed()
        return SendAnswer(tickets, parsed.single)

    def _accept(
        self,
        notifications: list[Notification],
        project: str,
        now: float,
        received: dict[str, Any] | None,
        body: object,
    ) -> list[dict[str, Any]]:
        settings = self.settings
        available_at = now + settings.receipt_delay
        expires_at = now + settings.receipt_retention
        tickets: list[dict[str, Any]] = []
        c = self._counters
        scripts = self._scripts
        registered_only = settings.registered_only
        registered = self._registered
        feed = self._feed
        self._request_count += 1
        request_number = self._request_count
        self._requests[request_number] = {"id": request_number, "at": now, **(received or {}), "body": body}
        if len(self._requests) > _KEPT_REQUESTS:
            self._requests.popitem(last=False)
        ids = iter(ticket_ids(len(notifications)))
        for notification in notifications:
            token = notification.token
            if not notification.well_formed:
                tickets.append(_malformed_ticket(token))
                c.ticket_errors += 1
                continue
            script = scripts.get(token)
            if script is not None and script.ticket_error is not None:
                tickets.append(error_object(script.ticket_error, token, script.details))
                c.ticket_errors += 1
                continue
            if registered_only and token not in registered:
                # DOCUMENTED: the page's own example answers a made-up token with this ticket.
                tickets.append(error_object("DeviceNotRegistered", token))
                c.ticket_errors += 1
                continue
            ticket_id = next(ids)
            # GUESS: the payload's size is judged on the message's JSON without `to`.
            if len(notification.payload) > MAX_PAYLOAD_BYTES:
                receipt_error: str | None = "MessageTooBig"
            else:
                receipt_error = script.receipt_error if script is not None else None
            lost = script is not None and script.receipt_lost
            delivery = Delivery(
                notification.message,
                ticket_id,
                project,
                receipt_error,
                lost,
                len(feed) + 1,
                request_number,
                now,
                available_at,
                expires_at,
                token,
            )
            feed.append(delivery)
            inbox = self._inboxes.get(token)
            if inbox is None:
                inbox = self._inboxes[token] = []
            inbox.append(delivery)
            if not lost:
                if receipt_error is None:
                    receipt = _OK_RECEIPT
                else:
                    receipt = error_object(receipt_error, token, script.details if script is not None else None)
                self._receipts[ticket_id] = (available_at, expires_at, receipt)
                self._expiry.append((expires_at, ticket_id))
            key = (token, notification.payload)
            if key in self._seen:
                c.duplicates += 1
            else:
                self._seen.add(key)
            c.notifications += 1
            tickets.append({"status": "ok", "id": ticket_id})
        return tickets

    def fake_tickets(self, count: int) -> list[dict[str, Any]]:
        """``count`` ok tickets whose ids have no receipt (for faults that answer without accepting)."""
        return [{"status": "ok", "id": ticket_id} for ticket_id in ticket_ids(count)]

    def get_receipts(self, body: object) -> dict[str, Any] | RequestError:
        """Answer a decoded receipts request body: ``{"data": {id: receipt}}``, or the error that refuses it."""
        ids = parse_receipt_ids(body)
        if isinstance(ids, RequestError):
            return ids
        data: dict[str, Any] = {}
        with self._lock:
            now = self._clock() + self._offset
            expiry = self._expiry
            while expiry and expiry[0][0] <= now:
                self._receipts.pop(expiry.popleft()[1], None)
            receipts = self._receipts
            for ticket_id in ids:
                # DOCUMENTED: an id with no receipt (not yet, or no longer) is left out of the answer.
                record = receipts.get(ticket_id)
                if record is not None and record[0] <= now < record[1]:
                    data[ticket_id] = record[2]
        return {"data": data}
