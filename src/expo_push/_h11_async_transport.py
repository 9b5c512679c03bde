"""The default transport of ``AsyncPushClient``: ``H11Transport``'s twin over asyncio streams, for one event loop."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import h11

from ._h11_transport import Origin, Pool, answer_head, check_alpn, closed_early, protocol_error, request, route
from ._transport import DEFAULT_TIMEOUT, BodyReader, Timeout, TransportError, remaining
from ._wire import HttpResponse

if TYPE_CHECKING:
    import ssl

__all__ = ["AsyncH11Transport"]

_READ_SIZE = 65536
T = TypeVar("T")


async def _within(awaitable: Awaitable[T], seconds: float) -> T:
    """``await awaitable``, or ``asyncio.TimeoutError`` after ``seconds``: without a task of its own where
    ``asyncio.timeout`` exists (3.11), which ``wait_for`` makes per call before 3.12 (a third of this
    transport's CPU per request)."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await awaitable
    return await asyncio.wait_for(awaitable, seconds)


class _AsyncConnection:
    """One asyncio stream pair and its h11 state."""

    __slots__ = ("h11", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)

    def usable(self) -> bool:
        """Idle and still open: nothing arrived unasked, no end of stream."""
        return not self.writer.is_closing() and not self.reader.at_eof() and not self.reader._buffer  # type: ignore[attr-defined]

    def close(self) -> None:
        self.writer.close()


class AsyncH11Transport:
    """``AsyncTransport`` over asyncio streams: ``H11Transport``'s twin, for one event loop."""

    def __init__(
        self, *, timeout: Timeout = DEFAULT_TIMEOUT, ssl_context: ssl.SSLContext | None = None, max_connections: int = 6
    ) -> None:
        self._pool = Pool(timeout, ssl_context, max_connections)
        self._slots: asyncio.Semaphore | None = None

    @property
    def closed(self) -> bool:
        """Whether ``aclose()`` was called."""
        return self._pool.closed

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], deadline: float, limit: int
    ) -> HttpResponse:
        """POST ``body`` to ``url`` and read the answer, within ``deadline`` and ``limit``."""
        origin, target, host = route(url, self._pool._routes)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._pool.max_connections)
        slots = self._slots
        if slots.locked():
            try:
                await _within(slots.acquire(), remaining(deadline, self._pool.timeout.pool, sent=False))
            except asyncio.TimeoutError:
                remaining(deadline, None, sent=False)
                raise TransportError("PoolTimeout: no connection free within the pool timeout", sent=False) from None
        else:
            await slots.acquire()
        try:
            conn = self._pool.take(origin)
            if conn is None:
                conn = await self._connect(origin, deadline)
            try:
                answer = await self._exchange(conn, request(target, host, body, headers), deadline, limit)
            except BaseException:
                conn.close()
                raise
            if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
                conn.h11.start_next_cycle()
                self._pool.give(origin, conn)
            else:
                conn.close()
            return answer
        finally:
            slots.release()

    async def aclose(self) -> None:
        """Close the connections kept open; a transport closed takes no more requests."""
        for conn in self._pool.drain():
            conn.close()

    async def _connect(self, origin: Origin, deadline: float) -> _AsyncConnection:
        if self._pool.closed:
            raise TransportError("the transport is closed", sent=False, retryable=False)
        _, host, port = origin
        context = self._pool.context(origin)
        try:
            opening = asyncio.open_connection(host, port, ssl=context, server_hostname=host if context else None)
            reader, writer = await _within(opening, remaining(deadline, self._pool.timeout.connect, sent=False))
        except asyncio.TimeoutError:
            remaining(deadline, None, sent=False)
            raise TransportError(f"ConnectTimeout: {host}:{port}", sent=False) from None
        except OSError as exc:
            raise TransportError(f"ConnectError: {exc}", sent=False) from None
        sock = writer.get_extra_info("socket")
        if sock is not None and context is None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            check_alpn(writer.get_extra_info("ssl_object"))
        except TransportError:
            writer.close()
            raise
        return _AsyncConnection(reader, writer)

    async def _exchange(self, conn: _AsyncConnection, events: list[Any], deadline: float, limit: int) -> HttpResponse:
        state, timeout = conn.h11, self._pool.timeout
        try:
            conn.writer.write(b"".join(state.send(event) or b"" for event in events))
            if conn.writer.transport.get_write_buffer_size():
                await _within(conn.writer.drain(), remaining(deadline, timeout.write, sent=False))
        except asyncio.TimeoutError:
            remaining(deadline, None, sent=False)
            raise TransportError("WriteTimeout", sent=False) from None
        except OSError as exc:
            raise TransportError(f"WriteError: {exc}", sent=False) from None
        except h11.ProtocolError as exc:
            raise TransportError(f"LocalProtocolError: {exc}", sent=False, retryable=False) from None
        reader: BodyReader | None = None
        try:
            while True:
                event = state.next_event()
                if event is h11.NEED_DATA:
                    wait = remaining(deadline, timeout.read, sent=True)
                    state.receive_data(await _within(conn.reader.read(_READ_SIZE), wait))
                elif type(event) is h11.Data:
                    assert reader is not None
                    reader.feed(event.data)
                elif type(event) is h11.Response:
                    reader = answer_head(event, limit, deadline)
                elif type(event) is h11.EndOfMessage:
                    assert reader is not None
                    return reader.answer()
                elif type(event) is h11.ConnectionClosed:
                    raise closed_early()
        except asyncio.TimeoutError:
            remaining(deadline, None, sent=True)
            raise TransportError("ReadTimeout") from None
        except OSError as exc:
            raise TransportError(f"ReadError: {exc}") from None
        except h11.ProtocolError as exc:
            raise protocol_error(exc) from None
