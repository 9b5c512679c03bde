"""The default transport of ``PushClient``: HTTP/1.1 keep-alive connections over sockets, spoken with h11.

Every wait (connecting, writing, each read) is cut to the attempt's deadline,
so an answer dribbled byte by byte, head or body, cannot hold a request
longer than ``attempt_timeout``. What both h11 transports share lives here too.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import h11

from ._transport import DEFAULT_TIMEOUT, UNWRITABLE_REQUEST, BodyReader, Timeout, TransportError, remaining
from ._wire import HttpResponse

if TYPE_CHECKING:
    import ssl

__all__ = ["H11_ALPN", "Exchange", "H11Transport", "Pool", "check_alpn", "io_failure", "route"]

_READ_SIZE = 65536
H11_ALPN = ("http/1.1",)
"""What a TLS connection of these transports offers: HTTP/1.1 alone."""
Origin = tuple[str, str, int]
"""Scheme, host, port."""


def route(url: str, cache: dict[str, tuple[Origin, bytes, bytes]]) -> tuple[Origin, bytes, bytes]:
    """The origin of ``url``, its request target and its Host header (cached: a client posts to two URLs)."""
    found = cache.get(url)
    if found is None:
        found = _split(url)
        if len(cache) < 64:
            cache[url] = found
    return found


def _split(url: str) -> tuple[Origin, bytes, bytes]:
    # Read here rather than by urllib.parse, whose import (with ipaddress) is 3 ms of a cold start.
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    netloc, slash, path = rest.partition("#")[0].partition("/")
    host, port = netloc, ""
    if netloc.startswith("["):  # an IPv6 literal
        host, _, port = netloc[1:].partition("]")
        port = port.removeprefix(":")
    elif ":" in netloc:
        host, _, port = netloc.rpartition(":")
    if scheme not in ("http", "https") or not host or "@" in netloc or not (port.isdigit() or port == ""):
        raise TransportError(f"UnsupportedProtocol: cannot send to {url!r}", sent=False, retryable=False)
    try:
        target, host_header = (slash + path or "/").encode("ascii"), netloc.encode("ascii")
    except UnicodeEncodeError:
        raise TransportError(f"InvalidURL: {url!r} is not ASCII", sent=False, retryable=False) from None
    return (scheme, host, int(port) if port else 443 if scheme == "https" else 80), target, host_header


def _request(target: bytes, host: bytes, body: bytes, headers: Mapping[str, str]) -> list[Any]:
    fields = [(b"host", host), (b"content-length", b"%d" % len(body))]
    fields.extend((name.encode("ascii"), value.encode("latin-1")) for name, value in headers.items())
    return [h11.Request(method=b"POST", target=target, headers=fields), h11.Data(data=body), h11.EndOfMessage()]


def io_failure(phase: str, exc: BaseException, deadline: float, *, sent: bool, timed_out: bool) -> TransportError:
    """What an error of the connection while in ``phase`` (``Connect``, ``Write``, ``Read``) means: the attempt
    timed out (raised) once its deadline is past, else the phase timed out or failed."""
    if timed_out:
        remaining(deadline, None, sent=sent)
        return TransportError(f"{phase}Timeout", sent=sent)
    return TransportError(f"{phase}Error: {exc}", sent=sent)


class Exchange:
    """One POST and its answer on an h11 connection, without I/O: ``outgoing`` to write, then what is read
    goes to ``receive`` until ``answer()`` is whole. Both transports carry one out."""

    __slots__ = ("_deadline", "_limit", "_reader", "_state", "outgoing")

    def __init__(
        self,
        state: h11.Connection,
        url: tuple[bytes, bytes],
        body: bytes,
        headers: Mapping[str, str],
        limit: int,
        deadline: float,
    ) -> None:
        try:
            self.outgoing = b"".join(state.send(event) or b"" for event in _request(*url, body, headers))
        except h11.ProtocolError:
            raise TransportError(UNWRITABLE_REQUEST, sent=False, retryable=False) from None
        self._state = state
        self._limit = limit
        self._deadline = deadline
        self._reader: BodyReader | None = None

    def receive(self, data: bytes) -> None:
        """Take what was read from the connection (``b""``: it was closed)."""
        self._state.receive_data(data)

    def answer(self) -> HttpResponse | None:
        """The answer once it is whole; ``None`` while more must be read."""
        try:
            while True:
                event = self._state.next_event()
                if event is h11.NEED_DATA:
                    return None
                if type(event) is h11.Data:
                    assert self._reader is not None
                    self._reader.feed(event.data)
                elif type(event) is h11.Response:
                    fields = {name.decode("latin-1"): value.decode("latin-1") for name, value in event.headers}
                    self._reader = BodyReader(event.status_code, fields, self._limit, self._deadline)
                elif type(event) is h11.EndOfMessage:
                    assert self._reader is not None
                    return self._reader.answer()
                elif type(event) is h11.ConnectionClosed:
                    raise TransportError("RemoteProtocolError: Server disconnected without sending a response.")
        except h11.ProtocolError as exc:
            raise TransportError(f"RemoteProtocolError: {exc}") from None


class Pool:
    """Idle connections by origin and the slots that bound how many are open; shared by both transports."""

    def __init__(self, timeout: Timeout, ssl_context: ssl.SSLContext | None, max_connections: int) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be a positive integer, not {max_connections!r}")
        self.timeout = timeout
        self.max_connections = max_connections
        self._ssl_context = ssl_context
        self._idle: dict[Origin, list[Any]] = {}
        self._lock = threading.Lock()
        self._routes: dict[str, tuple[Origin, bytes, bytes]] = {}
        self.closed = False

    def route(self, url: str) -> tuple[Origin, tuple[bytes, bytes]]:
        """The origin of ``url``, and its request target and Host header."""
        origin, target, host = route(url, self._routes)
        return origin, (target, host)

    def context(self, origin: Origin) -> ssl.SSLContext | None:
        if origin[0] != "https":
            return None
        if self._ssl_context is None:
            from ._base_client import shared_ssl_context

            self._ssl_context = shared_ssl_context(H11_ALPN)
        return self._ssl_context

    def take(self, origin: Origin) -> Any:
        """An idle connection to ``origin`` still open, or ``None``; ``TransportError`` once closed."""
        if self.closed:
            raise TransportError("the transport is closed", sent=False, retryable=False)
        with self._lock:
            idle = self._idle.get(origin)
            while idle:
                conn = idle.pop()
                if conn.usable():
                    return conn
                conn.close()
        return None

    def settle(self, origin: Origin, conn: Any) -> None:
        """Keep ``conn`` for a later request if its exchange ended cleanly (both sides done); else close it."""
        if conn.h11.our_state is not h11.DONE or conn.h11.their_state is not h11.DONE:
            conn.close()
            return
        conn.h11.start_next_cycle()
        with self._lock:
            if not self.closed:
                self._idle.setdefault(origin, []).append(conn)
                return
        conn.close()

    def drain(self) -> list[Any]:
        """Close the pool; the idle connections, for the caller to close."""
        with self._lock:
            self.closed = True
            conns = [conn for idle in self._idle.values() for conn in idle]
            self._idle.clear()
        return conns


def check_alpn(sock: ssl.SSLSocket | ssl.SSLObject | None) -> None:
    if sock is not None and sock.selected_alpn_protocol() not in (None, "http/1.1"):
        raise TransportError(
            "the server chose HTTP/2 for a connection spoken in HTTP/1.1: give verify= a context that offers "
            "http/1.1 alone (set_alpn_protocols), or install the http2 extra",
            sent=False,
            retryable=False,
        )


class _Connection:
    """One socket and its h11 state."""

    __slots__ = ("h11", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.h11 = h11.Connection(h11.CLIENT)

    def usable(self) -> bool:
        """Idle and still open: the server has not closed it (nor sent anything unasked)."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def close(self) -> None:
        self.sock.close()


class H11Transport:
    """``Transport`` over sockets: HTTP/1.1 with keep-alive, at most ``max_connections`` open, TLS for ``https://``.

    ``ssl_context`` checks the service's certificate (default: ``$SSL_CERT_FILE`` / ``$SSL_CERT_DIR`` where set,
    else certifi's bundle, as httpx loads it).
    """

    def __init__(
        self, *, timeout: Timeout = DEFAULT_TIMEOUT, ssl_context: ssl.SSLContext | None = None, max_connections: int = 6
    ) -> None:
        self._pool = Pool(timeout, ssl_context, max_connections)
        self._slots = threading.BoundedSemaphore(max_connections)

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._pool.closed

    def post(self, url: str, body: bytes, headers: Mapping[str, str], deadline: float, limit: int) -> HttpResponse:
        """POST ``body`` to ``url`` and read the answer, within ``deadline`` and ``limit``."""
        origin, target = self._pool.route(url)
        if not self._slots.acquire(timeout=remaining(deadline, self._pool.timeout.pool, sent=False)):
            remaining(deadline, None, sent=False)
            raise TransportError("PoolTimeout: no connection free within the pool timeout", sent=False)
        try:
            conn = self._pool.take(origin) or self._connect(origin, deadline)
            try:
                return self._exchange(conn, Exchange(conn.h11, target, body, headers, limit, deadline), deadline)
            finally:
                self._pool.settle(origin, conn)  # kept if the answer came whole, else closed
        finally:
            self._slots.release()

    def close(self) -> None:
        """Close the connections kept open; a transport closed takes no more requests."""
        for conn in self._pool.drain():
            conn.close()

    def _connect(self, origin: Origin, deadline: float) -> _Connection:
        _, host, port = origin
        try:
            sock = socket.create_connection((host, port), remaining(deadline, self._pool.timeout.connect, sent=False))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            context = self._pool.context(origin)
            if context is not None:
                try:
                    sock = context.wrap_socket(sock, server_hostname=host)
                    check_alpn(sock)
                except BaseException:
                    sock.close()
                    raise
        except OSError as exc:
            raise io_failure("Connect", exc, deadline, sent=False, timed_out=isinstance(exc, TimeoutError)) from None
        return _Connection(sock)

    def _exchange(self, conn: _Connection, exchange: Exchange, deadline: float) -> HttpResponse:
        sock, timeout = conn.sock, self._pool.timeout
        try:
            sock.settimeout(remaining(deadline, timeout.write, sent=False))
            sock.sendall(exchange.outgoing)
        except OSError as exc:
            raise io_failure("Write", exc, deadline, sent=False, timed_out=isinstance(exc, TimeoutError)) from None
        try:
            while (answer := exchange.answer()) is None:
                sock.settimeout(remaining(deadline, timeout.read, sent=True))
                exchange.receive(sock.recv(_READ_SIZE))
            return answer
        except OSError as exc:
            raise io_failure("Read", exc, deadline, sent=True, timed_out=isinstance(exc, TimeoutError)) from None
