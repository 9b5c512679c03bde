"""What the emulated service decides and knows: settings, projects, scripted outcomes, rate buckets and counters.

Everything here is plain data behind one lock, with no I/O: the HTTP layer decodes a request, asks this
module for the answer, and writes it. What is remembered of past requests is the bounded ``History``.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

from ._history import Delivery, Exchange, History, Receipts
from ._service import (
    MAX_PAYLOAD_BYTES,
    Notification,
    RequestError,
    error_object,
    malformed_ticket,
    parse_receipt_ids,
    parse_send,
    request_error,
    ticket_ids,
)
from ._settings import Settings, Stats

__all__ = [
    "Delivery",
    "EmulatorState",
    "Exchange",
    "RequestError",
    "SendAnswer",
    "Settings",
    "Stats",
    "error_object",
    "ticket_ids",
]


@dataclass(frozen=True)
class SendAnswer:
    """Tickets of an accepted send request; ``single`` when the answer is one ticket object, not a list."""

    tickets: list[dict[str, Any]]
    single: bool
    notifications: tuple[int, int] | None = None
    """The ``seq`` of the first and last notification accepted, if any was."""

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
        self._history = History(self.settings.history)
        self._receipts = Receipts()
        self._request_count = 0
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
            self._history.resize(new.history)
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
        """The kept notifications accepted for ``token``, oldest first."""
        with self._lock:
            return list(self._history.inboxes.get(token, ()))

    def tokens(self) -> list[str]:
        """Every token with a kept notification, in order of first acceptance."""
        with self._lock:
            return list(self._history.inboxes)

    def feed(self, after: int = 0, limit: int | None = None) -> list[Delivery]:
        """Kept notifications with ``seq`` above ``after``, oldest first; at most the newest ``limit``."""
        with self._lock:
            found = list(self._history.after(max(after, 0)))
        if limit is None or limit >= len(found):
            return found
        return found[len(found) - max(limit, 0) :]

    def history(self) -> History:
        """The history itself, to read under ``locked()`` (the inbox's views and searches)."""
        return self._history

    def locked(self) -> threading.Lock:
        """The lock every change holds: hold it to read ``history()`` consistently."""
        return self._lock

    def request(self, number: int) -> Exchange | None:
        """Push request ``number`` (send or receipts, refused ones too) while among the latest kept."""
        with self._lock:
            return self._history.exchanges.get(number)

    def edit(self, change: Callable[[History], bool]) -> bool:
        """Apply ``change`` (clear, delete, tag) to the history under the lock; tell listeners if it changed it."""
        with self._lock:
            changed = change(self._history)
        if changed:
            self.changed()
        return changed

    def stats(self) -> Stats:
        """A snapshot of the counters."""
        with self._lock:
            return replace(self._counters)

    def wait_idle(self, timeout: float | None) -> bool:
        """Block until no send or receipts request is being handled; return ``False`` on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._in_flight, timeout)

    # -- request accounting (called by the HTTP layer) ----------------------

    def request_started(self, kind: str, body_bytes: int) -> tuple[int, int]:
        """Count one send (``kind="send"``) or receipts request that has arrived, before its body is read.

        Returns the request's generation (it changes at every ``reset``), to give
        to ``body_received``, ``send`` and ``request_finished``, and its number
        (from 1 since the last reset, over every push request, refused ones too).
        """
        with self._lock:
            self._request_count += 1
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
            return self._generation, self._request_count

    def body_received(self, started: int, body_bytes: int) -> None:
        """Count the body bytes of a request whose size was not known when it started."""
        with self._lock:
            if started == self._generation:
                self._counters.bytes_received += body_bytes

    def request_finished(
        self, started: int, status: int | None, *, fault: bool = False, exchange: Exchange | None = None
    ) -> None:
        """Count how a request was answered: an HTTP ``status``, or ``None`` for no answer; keep its ``exchange``.

        No answer counts as ``dropped`` when a fault closed the connection (not
        when the client went away first).

        ``started`` is what ``request_started`` returned: a request that began
        before the last reset is not counted in the new counters.
        """
        changed = False
        with self._lock:
            c = self._counters
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.notify_all()
            if started != self._generation:
                return
            if exchange is not None:
                self._history.add_exchange(exchange)
                changed = True
            if fault:
                c.faults += 1
            if status is None:
                if fault:
                    c.dropped += 1
            elif status == 429:
                c.rate_limited += 1
            elif status >= 400:
                c.errors += 1
        if changed:
            self.changed()

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
        self, body: object, started: int | None = None, request: int = 0, access_token: bool = False
    ) -> SendAnswer | RequestError | None:
        """Answer a decoded send request body: tickets, or the error that refuses it whole.

        ``started`` and ``request`` are the request's generation and number from
        ``request_started``: a request that began before the last ``reset`` records
        nothing and gets ``None`` (its answer belongs to nobody; the HTTP layer drops it).
        ``access_token`` (whether the request carried one) is kept with its notifications.
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
            first = self._history.accepted + 1
            tickets = self._accept(notifications, project, now, request, access_token)
            last = self._history.accepted
        self.changed()
        return SendAnswer(tickets, parsed.single, (first, last) if last >= first else None)

    def _accept(
        self, notifications: list[Notification], project: str, now: float, request: int, access_token: bool
    ) -> list[dict[str, Any]]:
        settings = self.settings
        available_at = now + settings.receipt_delay
        expires_at = now + settings.receipt_retention
        ok_record = (available_at, expires_at, _OK_RECEIPT)
        records: dict[str, tuple[float, float, dict[str, Any]]] = {}
        tickets: list[dict[str, Any]] = []
        c = self._counters
        scripts = self._scripts
        registered_only = settings.registered_only
        registered = self._registered
        history = self._history
        ids = iter(ticket_ids(len(notifications)))
        for notification in notifications:
            token = notification.token
            if not notification.well_formed:
                tickets.append(malformed_ticket(token))
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
            payload_bytes = len(notification.payload)
            # GUESS: the payload's size is judged on the message's JSON without `to`.
            if payload_bytes > MAX_PAYLOAD_BYTES:
                receipt_error: str | None = "MessageTooBig"
            else:
                receipt_error = script.receipt_error if script is not None else None
            lost = script is not None and script.receipt_lost
            receipt: dict[str, Any] | None = None
            if not lost:
                if receipt_error is None:
                    records[ticket_id] = ok_record
                    receipt = _OK_RECEIPT
                else:
                    receipt = error_object(receipt_error, token, script.details if script is not None else None)
                    records[ticket_id] = (available_at, expires_at, receipt)
            delivery = Delivery(
                notification.message,
                ticket_id,
                project,
                receipt_error,
                lost,
                history.accepted + 1,
                request,
                now,
                available_at,
                expires_at,
                token,
                receipt,
                payload_bytes,
                access_token,
            )
            if history.add(delivery, hash((token, notification.payload))):
                c.duplicates += 1
            c.notifications += 1
            tickets.append({"status": "ok", "id": ticket_id})
        self._receipts.add(expires_at, records)
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
            find = self._receipts.find
            for ticket_id in ids:
                # DOCUMENTED: an id with no receipt (not yet, or no longer) is left out of the answer.
                receipt = find(ticket_id, now)
                if receipt is not None:
                    data[ticket_id] = receipt
                    self._history.receipt_fetched(ticket_id, now)
        return {"data": data}
