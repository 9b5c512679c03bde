"""The default transport of ``AsyncPushClient``: ``H11Transport``'s twin over asyncio streams, for one event loop."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, TypeVar

import h11

from ._h11_transport import Exchange, Origin, Pool, check_alpn, io_failure
from ._transport import DEFAULT_TIMEOUT, Timeout, TransportError, remaining
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
        origin, target = self._pool.route(url)
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
            conn = self._pool.take(origin) or await self._connect(origin, deadline)
            try:
                return await self._exchange(conn, Exchange(conn.h11, target, body, headers, limit, deadline), deadline)
            finally:
                self._pool.settle(origin, conn)  # kept if the answer came whole, else closed
        finally:
            slots.release()

    async def aclose(self) -> None:
        """Close the connections kept open; a transport closed takes no more requests."""
        for conn in self._pool.drain():
            conn.close()

    async def _connect(self, origin: Origin, deadline: float) -> _AsyncConnection:
        _, host, port = origin
        context = self._pool.context(origin)
        try:
            opening = asyncio.open_connection(host, port, ssl=context, server_hostname=host if context else None)
            reader, writer = await _within(opening, remaining(deadline, self._pool.timeout.connect, sent=False))
        except (asyncio.TimeoutError, OSError) as exc:
            timed_out = isinstance(exc, asyncio.TimeoutError)
            raise io_failure("Connect", exc, deadline, sent=False, timed_out=timed_out) from None
        sock = writer.get_extra_info("socket")
        if sock is not None and context is None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            check_alpn(writer.get_extra_info("ssl_object"))
        except TransportError:
            writer.close()
            raise
        return _AsyncConnection(reader, writer)

    async def _exchange(self, conn: _AsyncConnection, exchange: Exchange, deadline: float) -> HttpResponse:
        timeout = self._pool.timeout
        try:
            conn.writer.write(exchange.outgoing)
            if conn.writer.transport.get_write_buffer_size():
                await _within(conn.writer.drain(), remaining(deadline, timeout.write, sent=False))
        except (asyncio.TimeoutError, OSError) as exc:
            timed_out = isinstance(exc, asyncio.TimeoutError)
            raise io_failure("Write", exc, deadline, sent=False, timed_out=timed_out) from None
        try:
            while (answer := exchange.answer()) is None:
                wait = remaining(deadline, timeout.read, sent=True)
                exchange.receive(await _within(conn.reader.read(_READ_SIZE), wait))
            return answer
        except (asyncio.TimeoutError, OSError) as exc:
            timed_out = isinstance(exc, asyncio.TimeoutError)
            raise io_failure("Read", exc, deadline, sent=True, timed_out=timed_out) from None
