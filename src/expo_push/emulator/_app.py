"""The HTTP face of the emulator: the push API routes, faults applied to them, and the control routes.

Push API: ``POST /--/api/v2/push/send`` and ``POST /--/api/v2/push/getReceipts``.
Control (JSON, never faulted, no access token needed), under ``/--/emulator/``:
``GET stats``, ``GET inbox/{token}``, ``GET|POST|DELETE faults``, ``POST release``,
``POST script``, ``POST project``, ``GET|POST config``, ``POST advance``, ``POST reset``.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import zlib
from typing import Any

import msgspec
from aiohttp import web

from ._faults import Fault, FaultPlan
from ._state import EmulatorState, RequestError, SendAnswer

__all__ = ["EmulatorApp", "Stalls"]

SEND_PATH = "/--/api/v2/push/send"
RECEIPTS_PATH = "/--/api/v2/push/getReceipts"
CONTROL_PREFIX = "/--/emulator"

_ENCODER = msgspec.json.Encoder()
_COMPRESS_OVER = 1024
"""Answers larger than this many bytes are gzip-compressed for clients that accept gzip."""
_DECODER = msgspec.json.Decoder()
_JSON = "application/json"
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


def _json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=_ENCODER.encode(body), status=status, content_type=_JSON, headers=headers)


def _compressed(request: web.Request, response: web.Response) -> web.Response:
    """``response`` gzip-compressed when the client accepts gzip and the body is worth it."""
    body = response.body
    if (
        isinstance(body, bytes)
        and len(body) > _COMPRESS_OVER
        and "gzip" in request.headers.get("Accept-Encoding", "").lower()
    ):
        response.body = gzip.compress(body, compresslevel=1, mtime=0)
        response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding"
    return response


def _error_response(error: RequestError) -> web.Response:
    return _json_response(error.body(), error.status)


def _drop(request: web.Request) -> web.Response:
    # Closing the transport makes aiohttp give up writing the returned response:
    # the client sees the connection close without any HTTP answer.
    request.protocol.force_close()
    return _Dropped()


def _decode_body(request: web.Request, raw: bytes) -> object | RequestError:
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    try:
        if encoding == "gzip":
            raw = zlib.decompress(raw, 16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        elif encoding not in ("", "identity"):
            return RequestError(400, "VALIDATION_ERROR", f"unsupported Content-Encoding {encoding!r}")
    except zlib.error as exc:
        return RequestError(400, "VALIDATION_ERROR", f"the request body is not valid {encoding} data: {exc}")
    try:
        body: object = _DECODER.decode(raw)
    except msgspec.DecodeError as exc:
        return RequestError(400, "VALIDATION_ERROR", f"the request body is not valid JSON: {exc}")
    return body


def _count_notifications(body: object) -> int:
    messages = body if isinstance(body, list) else [body]
    count = 0
    for message in messages:
        to = message.get("to") if isinstance(message, dict) else None
        count += len(to) if isinstance(to, list) else 1
    return count


class EmulatorApp:
    """The aiohttp application of one emulator, over its state, fault plan and held stalls."""

    def __init__(self, state: EmulatorState, faults: FaultPlan, stalls: Stalls) -> None:
        self.state = state
        self.faults = faults
        self.stalls = stalls

    def make_app(self) -> web.Application:
        """A new aiohttp application serving this emulator (one per start: each is bound to its loop)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post(SEND_PATH, self._send)
        app.router.add_post(RECEIPTS_PATH, self._receipts)
        control = CONTROL_PREFIX
        app.router.add_get(f"{control}/stats", self._control_stats)
        app.router.add_get(f"{control}/inbox/{{token}}", self._control_inbox)
        app.router.add_get(f"{control}/faults", self._control_faults_list)
        app.router.add_post(f"{control}/faults", self._control_faults_add)
        app.router.add_delete(f"{control}/faults", self._control_faults_clear)
        app.router.add_post(f"{control}/release", self._control_release)
        app.router.add_post(f"{control}/script", self._control_script)
        app.router.add_post(f"{control}/project", self._control_project)
        app.router.add_get(f"{control}/config", self._control_config)
        app.router.add_post(f"{control}/config", self._control_config)
        app.router.add_post(f"{control}/advance", self._control_advance)
        app.router.add_post(f"{control}/reset", self._control_reset)
        return app

    def reset(self) -> None:
        """Back to the state of construction: no faults, held stalls dropped, state cleared."""
        self.faults.clear()
        self.state.reset()
        self.stalls.release(proceed=False)

    # -- push API -----------------------------------------------------------

    async def _send(self, request: web.Request) -> web.Response:
        return await self._serve(request, "send")

    async def _receipts(self, request: web.Request) -> web.Response:
        return await self._serve(request, "receipts")

    async def _serve(self, request: web.Request, kind: str) -> web.Response:
        state = self.state
        # Counted (and in flight) from the moment it arrives, so a request still
        # uploading its body belongs to the generation that was current then.
        size = request.content_length
        generation = state.request_started(kind, size or 0)
        status: int | None = None
        fault: Fault | None = None
        try:
            raw = await request.read()
            if size is None:
                state.body_received(generation, len(raw))
            fault = self.faults.pick(kind)
            latency = state.settings.latency
            if latency:
                await asyncio.sleep(latency)
            if fault is not None and fault.kind == "stall":
                if not await self.stalls.hold(fault.seconds):
                    return _drop(request)
                fault_to_apply: Fault | None = None
            else:
                fault_to_apply = fault
            answer: web.Response | None = None
            accepted: SendAnswer | None = None
            if fault_to_apply is None or fault_to_apply.accept:
                answer, accepted = self._answer(request, kind, raw, generation)
                answer = _compressed(request, answer)
            if fault_to_apply is not None:
                answer = self._fault_answer(request, fault_to_apply, kind, raw, accepted)
            assert answer is not None
            if not isinstance(answer, _Dropped):
                status = answer.status
            return answer
        finally:
            state.request_finished(generation, status, fault=fault is not None)

    def _answer(
        self, request: web.Request, kind: str, raw: bytes, generation: int
    ) -> tuple[web.Response, SendAnswer | None]:
        state = self.state
        if not state.authorized(request.headers.get("Authorization")):
            error = RequestError(
                401,
                "UNAUTHORIZED",
                "The request is missing a valid access token: send 'Authorization: Bearer <access token>'.",
            )
            return _error_response(error), None
        body = _decode_body(request, raw)
        if isinstance(body, RequestError):
            return _error_response(body), None
        if kind == "send":
            result = state.send(body, generation)
            if result is None:  # begun before a reset: nothing recorded, nobody to answer
                return _drop(request), None
            if isinstance(result, RequestError):
                return _error_response(result), None
            return _json_response(result.body()), result
        receipts = state.get_receipts(body)
        if isinstance(receipts, RequestError):
            return _error_response(receipts), None
        return _json_response(receipts), None

    def _fault_answer(
        self, request: web.Request, fault: Fault, kind: str, raw: bytes, accepted: SendAnswer | None
    ) -> web.Response:
        if fault.kind == "drop":
            return _drop(request)
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
        if fault.kind == "rate_limit":
            error = RequestError(429, "TOO_MANY_REQUESTS", "Too many requests (a fault set in the emulator).")
            return _json_response(error.body(), 429, headers)
        if fault.kind == "server_error":
            status = fault.status
            reason = _REASONS[status]
            if fault.html:
                page = _HTML_PAGE.format(status=status, reason=reason)
                return web.Response(text=page, status=status, content_type="text/html", headers=headers)
            error = RequestError(status, _SERVER_ERROR_CODES[status], f"{reason} (a fault set in the emulator).")
            return _json_response(error.body(), status, headers)
        if fault.kind == "invalid_json":
            return web.Response(body=b'{"data": [{"status": "ok", "id": ', status=200, content_type=_JSON)
        # wrong_ticket_count
        if kind == "receipts":
            return _json_response({"data": []})
        if accepted is not None:
            tickets = list(accepted.tickets)
        else:
            body = _decode_body(request, raw)
            count = 1 if isinstance(body, RequestError) else _count_notifications(body)
            tickets = self.state.fake_tickets(count)
        if fault.ticket_delta < 0:
            tickets = tickets[: max(0, len(tickets) + fault.ticket_delta)]
        else:
            tickets.extend(self.state.fake_tickets(fault.ticket_delta))
        return _json_response({"data": tickets})

    # -- control ------------------------------------------------------------

    async def _control_body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return {}
        try:
            return _DECODER.decode(raw)
        except msgspec.DecodeError as exc:
            raise _ControlError(f"the request body is not valid JSON: {exc}") from None

    async def _control_stats(self, request: web.Request) -> web.Response:
        return _json_response(self.state.stats().as_dict())

    async def _control_inbox(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        return _json_response({"data": [delivery.as_dict() for delivery in self.state.inbox(token)]})

    async def _control_faults_list(self, request: web.Request) -> web.Response:
        return _json_response({"data": [fault.as_dict() for fault in self.faults.pending()]})

    async def _control_faults_add(self, request: web.Request) -> web.Response:
        try:
            body = await self._control_body(request)
            specs = body if isinstance(body, list) else [body]
            faults = [Fault.from_dict(spec) for spec in specs]
        except (ValueError, _ControlError) as exc:
            return _control_error(str(exc))
        for fault in faults:
            self.faults.add(fault)
        return _json_response({"data": [fault.as_dict() for fault in faults]})

    async def _control_faults_clear(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return _json_response({"data": []})

    async def _control_release(self, request: web.Request) -> web.Response:
        return _json_response({"released": self.stalls.release(proceed=True)})

    async def _control_script(self, request: web.Request) -> web.Response:
        try:
            body = await self._control_body(request)
            tokens = _tokens_of(body)
            unknown = set(body) - {"token", "tokens", "ticket_error", "receipt_error", "project"}
            if unknown:
                raise _ControlError(f"unknown fields {sorted(unknown)}")
            ticket_error = _optional_str(body, "ticket_error")
            receipt_error = _optional_str(body, "receipt_error")
            project = _optional_str(body, "project")
        except _ControlError as exc:
            return _control_error(str(exc))
        try:
            if "ticket_error" in body or "receipt_error" in body or project is None:
                self.state.script_token(tokens, ticket_error, receipt_error)
            if project is not None:
                self.state.set_project(tokens, project)
        except ValueError as exc:
            return _control_error(str(exc))
        return _json_response({"ok": True})

    async def _control_project(self, request: web.Request) -> web.Response:
        try:
            body = await self._control_body(request)
            tokens = _tokens_of(body)
            project = _optional_str(body, "project")
            if project is None:
                raise _ControlError('"project" ("@owner/slug") is required')
        except _ControlError as exc:
            return _control_error(str(exc))
        try:
            self.state.set_project(tokens, project)
        except ValueError as exc:
            return _control_error(str(exc))
        return _json_response({"ok": True})

    async def _control_config(self, request: web.Request) -> web.Response:
        allowed = {"rate_limit", "receipt_delay", "receipt_retention", "latency", "default_project"}
        try:
            body = await self._control_body(request)
            if not isinstance(body, dict) or set(body) - allowed:
                raise _ControlError(f"the body must be an object with some of {sorted(allowed)}")
            self.state.configure(**body)
        except (ValueError, TypeError, _ControlError) as exc:
            return _control_error(str(exc))
        settings = self.state.settings
        return _json_response({name: getattr(settings, name) for name in sorted(allowed)})

    async def _control_advance(self, request: web.Request) -> web.Response:
        try:
            body = await self._control_body(request)
            seconds = body.get("seconds") if isinstance(body, dict) else None
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise _ControlError('"seconds" (a number) is required')
            self.state.advance(float(seconds))
        except (ValueError, _ControlError) as exc:
            return _control_error(str(exc))
        return _json_response({"ok": True})

    async def _control_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return _json_response({"ok": True})


class _Dropped(web.Response):
    """The answer of a dropped connection: never written, counted as no HTTP status."""


class _ControlError(Exception):
    pass


def _control_error(message: str) -> web.Response:
    return _error_response(RequestError(400, "VALIDATION_ERROR", message))


def _tokens_of(body: Any) -> list[str]:
    if not isinstance(body, dict):
        raise _ControlError("the body must be a JSON object")
    tokens = body.get("tokens", [body["token"]] if "token" in body else None)
    if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
        raise _ControlError('"token" (a string) or "tokens" (a list of strings) is required')
    return tokens


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise _ControlError(f'"{name}" must be a string or null')
    return value
