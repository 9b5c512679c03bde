"""ASGI plumbing of the emulator: reading a bounded body (and inflating it), writing an answer, closing a stream.

The emulator is one ASGI application served by hypercorn, which speaks HTTP/1.1, HTTP/2 with
prior knowledge (h2c) and HTTP/2 over TLS (ALPN) from the same app.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import h2.connection
import h2.errors
from hypercorn.protocol.events import StreamClosed

from ._service import RequestError, encode_json, request_error, validation_error

__all__ = [
    "BodyTooLarge",
    "JSON_TYPE",
    "Receive",
    "Reply",
    "Request",
    "Scope",
    "Send",
    "abort",
    "error_reply",
    "header",
    "inflate",
    "json_reply",
    "method_not_allowed",
    "not_found",
    "too_large",
    "transport_of",
]

JSON_TYPE = "application/json; charset=utf-8"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


_DISCARD_AT_MOST = 64 * 1024 * 1024
"""Bytes of an oversized body read and thrown away before answering 413 (beyond: the connection is closed)."""


class BodyTooLarge(Exception):
    """The request body is larger than the limit: answered with 413 without reading the rest."""


def header(scope: Scope, name: bytes) -> str | None:
    """The value of request header ``name`` (lower case bytes), or ``None``."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class Request:
    """One HTTP request as the emulator's handlers see it."""

    __slots__ = ("consumed", "path", "query", "receive", "scope", "send")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.consumed = False
        self.path: str = scope["path"]
        self.query: str = bytes(scope.get("query_string", b"")).decode("latin-1")

    @property
    def method(self) -> str:
        return str(self.scope["method"])

    @property
    def http_version(self) -> str:
        return str(self.scope.get("http_version", "1.1"))

    def header(self, name: str) -> str | None:
        return header(self.scope, name.lower().encode())

    def content_length(self) -> int | None:
        value = self.header("content-length")
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    async def body(self, limit: int | None = None) -> bytes:
        """The whole request body; ``BodyTooLarge`` once it is known to exceed ``limit`` bytes.

        Past the limit the rest is read and thrown away (up to ``_DISCARD_AT_MOST`` bytes), so
        that the client, still uploading, reads the answer instead of a reset connection.
        """
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ConnectionResetError("the client went away before sending its whole body")
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if limit is None or size <= limit:
                    chunks.append(chunk)
                elif chunks:
                    chunks.clear()
            more = message.get("more_body", False)
            if not more:
                self.consumed = True
            if limit is not None and size > limit and (not more or size > limit + _DISCARD_AT_MOST):
                raise BodyTooLarge(size)
            if not more:
                return b"".join(chunks)

    async def reply(self, reply: Reply) -> None:
        """Write ``reply``, first reading what is left of the body (an HTTP/1.1 connection is kept only then)."""
        if not self.consumed:
            with contextlib.suppress(BodyTooLarge, ConnectionResetError):
                await self.body(0)
        await reply.write(self.send)


class Reply:
    """An answer to write: status, headers and a body."""

    __slots__ = ("body", "headers", "plain", "status")

    def __init__(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.plain = body
        """The body before any compression (what the traffic view shows)."""
        self.headers = {"content-type": content_type, **(headers or {})}

    async def write(self, send: Send) -> None:
        headers = [(name.encode(), value.encode("latin-1")) for name, value in self.headers.items()]
        headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """A JSON answer."""
    return Reply(status, encode_json(body), JSON_TYPE, headers)


def error_reply(error: RequestError, headers: dict[str, str] | None = None) -> Reply:
    """The answer refusing a whole request."""
    return json_reply(error.body(), error.status, headers)


def not_found(path: str) -> Reply:
    """The JSON 404 of a path that is not a route; a double slash gets a word on the base URL."""
    message = f"There is no route for {path!r}."
    if "//" in path:
        message += " The path holds a double slash: the base URL probably ends with '/' (give the host only)."
    return error_reply(request_error(404, "NOT_FOUND", message))


def method_not_allowed(method: str, allowed: tuple[str, ...]) -> Reply:
    """The JSON 405 of a route asked with a method it does not take."""
    error = request_error(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed here; use {', '.join(allowed)}.")
    return error_reply(error, {"allow": ", ".join(allowed)})


def _hypercorn_stream(send: Send) -> tuple[Any, Any, Any]:
    """The stream, its ``send`` and its id behind an ASGI ``send`` served by hypercorn (``None`` each if not)."""
    stream = getattr(send, "__self__", None)
    return stream, getattr(stream, "send", None), getattr(stream, "stream_id", None)


def transport_of(send: Send) -> asyncio.WriteTransport | None:
    """The connection's transport behind an ASGI ``send`` served by hypercorn, or ``None``.

    The stream's protocol writes through hypercorn's ``TCPServer.protocol_send``, whose server holds
    the asyncio writer; the lifecycle tests pin this reach, as the fault tests pin ``abort``'s.
    """
    _, stream_send, _ = _hypercorn_stream(send)
    protocol = getattr(stream_send, "__self__", None)
    server = getattr(getattr(protocol, "send", None), "__self__", None)
    writer = getattr(server, "writer", None)
    transport = getattr(writer, "transport", None)
    return transport if isinstance(transport, asyncio.WriteTransport) else None


def too_large(limit: int) -> RequestError:
    """The 413 answer of a body over ``limit`` bytes."""
    # GUESS: the code and wording; a body over the limit is answered 413, as proxies and body parsers do.
    return request_error(413, "PAYLOAD_TOO_LARGE", f"The request body is larger than the limit of {limit} bytes.")


def inflate(raw: bytes, encoding: str, limit: int) -> bytes | RequestError:
    """``raw`` decompressed, never inflating more than ``limit`` bytes (a small gzip body can expand to GiBs)."""
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "deflate"):
        return validation_error(f"unsupported Content-Encoding {encoding!r}")
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    parts: list[bytes] = []
    size = 0
    rest = raw
    try:
        # A gzip body may hold several members one after another (gzip -c a b); each is inflated in turn.
        while True:
            inflater = zlib.decompressobj(wbits)
            part = inflater.decompress(rest, limit + 1 - size)
            size += len(part)
            if size > limit or inflater.unconsumed_tail:
                return too_large(limit)
            if not inflater.eof:
                return validation_error(f"the request body is not valid {encoding} data: it ends too early")
            parts.append(part)
            rest = inflater.unused_data
            if encoding == "deflate" or not rest:
                return b"".join(parts)
    except zlib.error as exc:
        return validation_error(f"the request body is not valid {encoding} data: {exc}")


async def abort(send: Send) -> None:
    """End the request without any HTTP answer, as a lost connection does.

    Over HTTP/1.1 the connection is closed; over HTTP/2 the stream is reset (other streams of
    the connection go on). ASGI has no message for this, so it reaches into hypercorn: ``send``
    is its stream's bound ``app_send``, whose protocol closes the connection when a stream
    ends without a response (HTTP/1.1), or resets it on request (HTTP/2). The emulator's fault
    tests pin both, so a hypercorn release that changes these internals is caught at once.
    """
    stream, stream_send, stream_id = _hypercorn_stream(send)
    if stream is None or stream_send is None or stream_id is None:
        raise RuntimeError("cannot close this stream without an answer: not served by hypercorn")
    protocol = getattr(stream_send, "__self__", None)
    connection = getattr(protocol, "connection", None)
    if isinstance(connection, h2.connection.H2Connection):
        connection.reset_stream(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
        await protocol._flush()  # type: ignore[union-attr]
    await stream_send(StreamClosed(stream_id=stream_id))
