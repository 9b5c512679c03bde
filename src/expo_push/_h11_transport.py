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

from ._transport import DEFAULT_TIMEOUT, BodyReader, Timeout, TransportError, remaining
from ._wire import HttpResponse

if TYPE_CHECKING:
    import ssl

__all__ = [
    "H11_ALPN",
    "H11Transport",
    "Pool",
    "answer_head",
    "check_alpn",
    "closed_early",
    "protocol_error",
    "request",
    "route",
]

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


def request(target: bytes, host: bytes, body: bytes, headers: Mapping[str, str]) -> list[Any]:
    fields = [(b"host", host), (b"content-length", b"%d" % len(body))]
    fields.extend((name.encode("ascii"), value.encode("latin-1")) for name, value in headers.items())
    return [h11.Request(method=b"POST", target=target, headers=fields), h11.Data(data=body), h11.EndOfMessage()]


def answer_head(event: h11.Response, limit: int, deadline: float) -> BodyReader:
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in event.headers}
    return BodyReader(event.status_code, headers, limit, deadline)


def closed_early() -> TransportError:
    return TransportError("RemoteProtocolError: Server disconnected without sending a response.")


def protocol_error(exc: h11.ProtocolError) -> TransportError:
    return TransportError(f"RemoteProtocolError: {exc}")


class Pool:
    """Idle connections by origin and the slots that bound how many are open; shared by both transports."""

    def __init__(self, timeout: Timeout, ssl_context: ssl.SSLContext | None, max_connections: int) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be a positive integer, not {max_connections!r}")
        self.timeout = timeout
        self.max_connections = max_connections
        self._ssl_context = ssl_context
        self._idle: dict[Origin, list[Any]] = {}
        self._routes: dict[str, tuple[Origin, bytes, bytes]] = {}
        self.closed = False

    def context(self, origin: Origin) -> ssl.SSLContext | None:
        if origin[0] != "https":
            return None
        if self._ssl_context is None:
            from ._base_client import shared_ssl_context

            self._ssl_context = shared_ssl_context(H11_ALPN)
        return self._ssl_context

    def take(self, origin: Origin) -> Any:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    def give(self, origin: Origin, conn: Any) -> None:
        if self.closed:
            conn.close()
        else:
            self._idle.setdefault(origin, []).append(conn)

    def drain(self) -> list[Any]:
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

    ``ssl_context`` checks the service's certificate (default: the system's CA bundle, as httpx loads it).
    """

    def __init__(
        self, *, timeout: Timeout = DEFAULT_TIMEOUT, ssl_context: ssl.SSLContext | None = None, max_connections: int = 6
    ) -> None:
        self._pool = Pool(timeout, ssl_context, max_connections)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._pool.closed

    def post(self, url: str, body: bytes, headers: Mapping[str, str], deadline: float, limit: int) -> HttpResponse:
        """POST ``body`` to ``url`` and read the answer, within ``deadline`` and ``limit``."""
        origin, target, host = route(url, self._pool._routes)
        timeout = self._pool.timeout
        if not self._slots.acquire(timeout=remaining(deadline, timeout.pool, sent=False)):
            remaining(deadline, None, sent=False)
            raise TransportError("PoolTimeout: no connection free within the pool timeout", sent=False)
        try:
            with self._lock:
                conn = self._pool.take(origin)
            if conn is None:
                conn = self._connect(origin, deadline)
            try:
                answer = self._exchange(conn, request(target, host, body, headers), deadline, limit)
            except BaseException:
                conn.close()
                raise
            if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
                conn.h11.start_next_cycle()
                with self._lock:
                    self._pool.give(origin, conn)
            else:
                conn.close()
            return answer
        finally:
            self._slots.release()

    def close(self) -> None:
        """Close the connections kept open; a transport closed takes no more requests."""
        with self._lock:
            conns = self._pool.drain()
        for conn in conns:
            conn.close()

    def _connect(self, origin: Origin, deadline: float) -> _Connection:
        if self._pool.closed:
            raise TransportError("the transport is closed", sent=False, retryable=False)
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
        except TransportError:
            raise
        except TimeoutError:
            remaining(deadline, None, sent=False)
            raise TransportError(f"ConnectTimeout: {host}:{port}", sent=False) from None
        except OSError as exc:
            raise TransportError(f"ConnectError: {exc}", sent=False) from None
        return _Connection(sock)

    def _exchange(self, conn: _Connection, events: list[Any], deadline: float, limit: int) -> HttpResponse:
        sock, state, timeout = conn.sock, conn.h11, self._pool.timeout
        try:
            data = b"".join(state.send(event) or b"" for event in events)
            sock.settimeout(remaining(deadline, timeout.write, sent=False))
            sock.sendall(data)
        except TimeoutError:
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
                    sock.settimeout(remaining(deadline, timeout.read, sent=True))
                    state.receive_data(sock.recv(_READ_SIZE))
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
        except TimeoutError:
            remaining(deadline, None, sent=True)
            raise TransportError("ReadTimeout") from None
        except OSError as exc:
            raise TransportError(f"ReadError: {exc}") from None
        except h11.ProtocolError as exc:
            raise protocol_error(exc) from None
