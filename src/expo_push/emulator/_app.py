"""The HTTP face of the emulator: an ASGI app routing the push API (with its faults), the control routes and the inbox.

Push API: ``POST /--/api/v2/push/send`` and ``POST /--/api/v2/push/getReceipts``.
Control (JSON, guarded: see ``_control``) under ``/--/emulator/``; the inbox page at ``/``.
Every other path is answered with a JSON error, as the service answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import threading
import weakref

from ._asgi import (
    JSON_TYPE,
    BodyTooLarge,
    Receive,
    Reply,
    Request,
    Scope,
    Send,
    abort,
    error_reply,
    inflate,
    json_reply,
    method_not_allowed,
    not_found,
    too_large,
    transport_of,
)
from ._control import CONTROL_PREFIX, ControlRoutes, Guard
from ._faults import Fault, FaultPlan
from ._history import Exchange
from ._inbox import InboxRoutes
from ._service import RequestError, decode_json, request_error, validation_error
from ._state import EmulatorState, SendAnswer

__all__ = ["RECEIPTS_PATH", "SEND_PATH", "EmulatorApp", "Stalls"]

SEND_PATH = "/--/api/v2/push/send"
RECEIPTS_PATH = "/--/api/v2/push/getReceipts"

_COMPRESS_OVER = 1024
"""Answers larger than this many bytes are gzip-compressed for clients that accept gzip."""
_HTML_PAGE = (
    "<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1></center>"
    "<hr><center>nginx</center></body></html>"
)
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
_SERVER_ERROR_CODES = {
    500: "INTERNAL_SERVER_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


class Stalls:
    """Requests held by a ``stall`` fault, released (or abandoned) on demand from any thread."""

    def __init__(self) -> None:
        self._held: set[asyncio.Future[bool]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = threading.Condition()

    def wait_held(self, count: int, timeout: float | None) -> bool:
        """Block until at least ``count`` requests are held; return ``False`` on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._held) >= count, timeout)

    async def hold(self, seconds: float | None) -> bool:
        """Wait ``seconds`` (``None``: until released); return whether to go on (``False``: abandoned)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        future: asyncio.Future[bool] = loop.create_future()
        with self._changed:
            self._held.add(future)
            self._changed.notify_all()
        try:
            done, _ = await asyncio.wait({future}, timeout=seconds)
            return future.result() if done else True
        finally:
            with self._changed:
                self._held.discard(future)

    def release(self, proceed: bool = True) -> int:
        """Let every held request go on (``proceed=False``: drop them); return how many were held.

        The released requests stop counting as held at once, before their
        handlers wake, so ``wait_held`` right after sees only later stalls.
        """
        with self._changed:
            released = list(self._held)
            self._held.clear()
            self._changed.notify_all()
        loop = self._loop
        if not released or loop is None or loop.is_closed():
            return 0
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            _settle(released, proceed)
        else:
            loop.call_soon_threadsafe(_settle, released, proceed)
        return len(released)


def _settle(futures: list[asyncio.Future[bool]], proceed: bool) -> None:
    for future in futures:
        if not future.done():
            future.set_result(proceed)


def _compressed(request: Request, reply: Reply) -> Reply:
    """``reply`` gzip-compressed when the client accepts gzip and the body is worth it."""
    if len(reply.body) > _COMPRESS_OVER and "gzip" in (request.header("accept-encoding") or "").lower():
        reply.body = gzip.compress(reply.body, compresslevel=1, mtime=0)
        reply.headers["content-encoding"] = "gzip"
        reply.headers["vary"] = "Accept-Encoding"
    return reply


def _decode(request: Request, raw: bytes, limit: int) -> object | RequestError:
    encoding = (request.header("content-encoding") or "").strip().lower()
    inflated = inflate(raw, encoding, limit)
    if isinstance(inflated, RequestError):
        return inflated
    try:
        return decode_json(inflated)
    except ValueError as exc:
        return validation_error(f"the request body is not valid JSON: {exc}")
    except RecursionError:
        # GUESS: the service refuses what nests deeper than its parser goes; never a 500.
        return validation_error("the request body is nested too deeply")


def _count_notifications(body: object) -> int:
    messages = body if isinstance(body, list) else [body]
    count = 0
    for message in messages:
        to = message.get("to") if isinstance(message, dict) else None
        count += len(to) if isinstance(to, list) else 1
    return count


class _Dropped(Exception):
    """The request ends without an answer (a drop fault, or a request begun before a reset)."""


class EmulatorApp:
    """The ASGI application of one emulator, over its state, fault plan and held stalls."""

    def __init__(
        self,
        state: EmulatorState,
        faults: FaultPlan,
        stalls: Stalls,
        *,
        control_token: str | None = None,
        loopback: bool = True,
    ) -> None:
        self.state = state
        self.faults = faults
        self.stalls = stalls
        self.guard = Guard(control_token, loopback)
        self.closing: asyncio.Event | None = None
        self.started = threading.Event()
        self.control = ControlRoutes(self)
        self.inbox = InboxRoutes(self)
        self._connections: weakref.WeakSet[asyncio.WriteTransport] = weakref.WeakSet()

    def abort_connections(self) -> int:
        """Close every open connection at once, unsent answers and all; return how many (called on the loop).

        A stop waits for answers being written; a client that never reads would make it wait forever.
        """
        connections = list(self._connections)
        for transport in connections:
            with contextlib.suppress(Exception):  # already gone
                transport.abort()
        return len(connections)

    def reset(self) -> None:
        """Back to the state of construction: no faults, held stalls dropped, state cleared."""
        self.faults.clear()
        self.state.reset()
        self.stalls.release(proceed=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "http":
            transport = transport_of(send)
            if transport is not None:
                self._connections.add(transport)
            await self._http(Request(scope, receive, send))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.closing = asyncio.Event()
                await send({"type": "lifespan.startup.complete"})
                self.started.set()
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, request: Request) -> None:
        path = request.path
        method = request.method
        if path in (SEND_PATH, RECEIPTS_PATH):
            if method != "POST":
                await request.reply(method_not_allowed(method, ("POST",)))
                return
            await self._serve(request, "send" if path == SEND_PATH else "receipts")
            return
        if path.startswith(CONTROL_PREFIX + "/"):
            await self.control.handle(request)
            return
        if self.inbox.serves(path):
            await self.inbox.handle(request)
            return
        await request.reply(not_found(path))

    # -- push API -----------------------------------------------------------

    async def _serve(self, request: Request, kind: str) -> None:
        state = self.state
        # Counted (and in flight) from the moment it arrives, so a request still
        # uploading its body belongs to the generation that was current then.
        size = request.content_length()
        generation, number = state.request_started(kind, size or 0)
        arrived = state.now()
        fault: Fault | None = None
        reply: Reply | None = None
        accepted: SendAnswer | None = None
        raw = b""
        finished = False
        try:
            limit = state.settings.max_body_bytes
            try:
                raw = await request.body(limit)
            except BodyTooLarge:
                request.consumed = True  # read no further: the connection closes after the answer
                reply = error_reply(too_large(limit), {"connection": "close"})
            except ConnectionResetError:
                return
            else:
                if size is None:
                    state.body_received(generation, len(raw))
                fault = self.faults.pick(kind)
                try:
                    reply, accepted = await self._answer_with_faults(request, kind, raw, (generation, number), fault)
                except _Dropped:
                    reply = None
            exchange = self._exchange(request, kind, number, arrived, raw, size, reply, fault, accepted)
            # Counted before the answer leaves, so a client that has its answer sees it in the stats.
            status = reply.status if reply else None
            state.request_finished(generation, status, fault=fault is not None, exchange=exchange)
            finished = True
            if reply is None:
                await abort(request.send)
            else:
                await request.reply(reply)
        finally:
            if not finished:
                state.request_finished(generation, None, fault=fault is not None)

    def _exchange(
        self,
        request: Request,
        kind: str,
        number: int,
        arrived: float,
        raw: bytes,
        size: int | None,
        reply: Reply | None,
        fault: Fault | None,
        accepted: SendAnswer | None,
    ) -> Exchange:
        """What the traffic view keeps of one push request: its body as sent and the answer."""
        return Exchange(
            number=number,
            at=arrived,
            kind=kind,
            http_version=request.http_version,
            headers={
                name: value
                for name in ("user-agent", "content-type", "content-encoding", "accept-encoding")
                if (value := request.header(name)) is not None
            },
            sent_bytes=size if size is not None else len(raw),
            body=raw,
            status=reply.status if reply is not None else None,
            answer=reply.plain if reply is not None else None,
            answer_type=reply.headers.get("content-type", "") if reply is not None else "",
            fault=fault.kind if fault is not None else None,
            access_token=request.header("authorization") is not None,
            notifications=accepted.notifications if accepted is not None else None,
        )

    async def _answer_with_faults(
        self, request: Request, kind: str, raw: bytes, started: tuple[int, int], fault: Fault | None
    ) -> tuple[Reply, SendAnswer | None]:
        latency = self.state.settings.latency
        if latency:
            await asyncio.sleep(latency)
        if fault is not None and fault.kind == "stall":
            if not await self.stalls.hold(fault.seconds):
                raise _Dropped
            fault = None
        accepted: SendAnswer | None = None
        reply: Reply | None = None
        if fault is None or fault.accept:
            reply, accepted = self._answer(request, kind, raw, started)
            reply = _compressed(request, reply)
        if fault is not None:
            reply = self._fault_answer(request, fault, kind, raw, accepted)
        assert reply is not None
        return reply, accepted

    def _answer(
        self, request: Request, kind: str, raw: bytes, started: tuple[int, int]
    ) -> tuple[Reply, SendAnswer | None]:
        state = self.state
        if not state.authorized(request.header("authorization")):
            # DOCUMENTED: under push security, a request without a valid access token fails whole with UNAUTHORIZED.
            error = request_error(
                401,
                "UNAUTHORIZED",
                "The request is missing a valid access token: send 'Authorization: Bearer <access token>'.",
            )
            return error_reply(error), None
        body = _decode(request, raw, state.settings.max_body_bytes)
        if isinstance(body, RequestError):
            return error_reply(body), None
        if kind == "send":
            result = state.send(body, *started, request.header("authorization") is not None)
            if result is None:  # begun before a reset: nothing recorded, nobody to answer
                raise _Dropped
            if isinstance(result, RequestError):
                return error_reply(result), None
            return json_reply(result.body()), result
        receipts = state.get_receipts(body)
        if isinstance(receipts, RequestError):
            return error_reply(receipts), None
        return json_reply(receipts), None

    def _fault_answer(
        self, request: Request, fault: Fault, kind: str, raw: bytes, accepted: SendAnswer | None
    ) -> Reply:
        if fault.kind == "drop":
            raise _Dropped
        headers = {"retry-after": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
        if fault.kind == "rate_limit":
            error = request_error(429, "TOO_MANY_REQUESTS", "Too many requests (a fault set in the emulator).")
            return error_reply(error, headers)
        if fault.kind == "server_error":
            status = fault.status
            reason = _REASONS[status]
            if fault.html:
                page = _HTML_PAGE.format(status=status, reason=reason).encode()
                return Reply(status, page, "text/html", headers)
            error = request_error(status, _SERVER_ERROR_CODES[status], f"{reason} (a fault set in the emulator).")
            return error_reply(error, headers)
        if fault.kind == "invalid_json":
            return Reply(200, b'{"data": [{"status": "ok", "id": ', JSON_TYPE)
        # wrong_ticket_count
        if kind == "receipts":
            return json_reply({"data": []})
        if accepted is not None:
            tickets = list(accepted.tickets)
        else:
            body = _decode(request, raw, self.state.settings.max_body_bytes)
            count = 1 if isinstance(body, RequestError) else _count_notifications(body)
            tickets = self.state.fake_tickets(count)
        if fault.ticket_delta < 0:
            tickets = tickets[: max(0, len(tickets) + fault.ticket_delta)]
        else:
            tickets.extend(self.state.fake_tickets(fault.ticket_delta))
        return json_reply({"data": tickets})
