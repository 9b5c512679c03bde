"""``PushClient``'s HTTP/2 transport (the ``http2`` extra): httpcore's connection pool over a network backend that
cuts every wait to the attempt's deadline, so a dribbled answer, head or body, ends at ``attempt_timeout``.

On an HTTP/2 connection one thread reads for every stream on it, and httpcore raises a failed read on them all: a
read there is cut to the latest deadline of the requests in flight, never to one request's, which would fail the
others with it. A request whose own deadline passes meanwhile ends when its answer comes (``BodyReader``)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import httpcore

from ._transport import UNWRITABLE_REQUEST, AttemptTimedOut, BodyReader, Timeout, TransportError
from ._wire import HttpResponse

if TYPE_CHECKING:
    import ssl

__all__ = ["HttpcoreTransport"]

_NEVER_SENT = (
    httpcore.ConnectError,
    httpcore.ConnectTimeout,
    httpcore.PoolTimeout,
    httpcore.WriteError,
    httpcore.WriteTimeout,
    httpcore.LocalProtocolError,
    httpcore.UnsupportedProtocol,
)
"""Failures after which the service cannot have taken the request (as httpx's of the same names)."""
_NOT_RETRYABLE = (httpcore.LocalProtocolError, httpcore.UnsupportedProtocol)


class _Deadline:
    """The deadline of the request each thread is carrying out, and the latest of those in flight."""

    def __init__(self) -> None:
        self._own = threading.local()
        self._lock = threading.Lock()
        self._in_flight: dict[int, float] = {}

    def start(self, at: float) -> None:
        self._own.at = at
        with self._lock:
            self._in_flight[threading.get_ident()] = at

    def end(self) -> None:
        self._own.at = math.inf
        with self._lock:
            self._in_flight.pop(threading.get_ident(), None)

    def latest(self) -> float:
        """The latest deadline of the requests in flight (``inf`` when none)."""
        with self._lock:
            return max(self._in_flight.values(), default=math.inf)

    def cut(self, timeout: float | None, shared: bool = False) -> float:
        """``timeout`` cut to what is left before the deadline (``shared``: the latest in flight, for a connection
        whose reads serve every request on it); a timeout of httpcore's once it is past."""
        at = self.latest() if shared else getattr(self._own, "at", math.inf)
        left = at - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("past the attempt's deadline")
        return left if timeout is None or timeout > left else timeout


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline, shared: bool = False) -> None:
        self._inner = inner
        self._deadline = deadline
        self._shared = shared  # an HTTP/2 connection: its reads and writes serve every request on it

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if not self._shared:
            return self._inner.read(max_bytes, self._deadline.cut(timeout))
        while True:
            latest = self._deadline.latest()
            try:
                return self._inner.read(max_bytes, self._deadline.cut(timeout, shared=True))
            except httpcore.ReadTimeout:
                if self._deadline.latest() <= latest:
                    raise
                # A request with a later deadline came onto the connection during the read: read on for it.

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.cut(timeout, self._shared))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname, self._deadline.cut(timeout))
        ssl_object = tls.get_extra_info("ssl_object")
        shared = ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2"
        return _Stream(tls, self._deadline, shared)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """httpcore's sync backend, its every wait cut to the deadline of the thread's request."""

    def __init__(self, deadline: _Deadline) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, self._deadline.cut(timeout), local_address, socket_options)
        return _Stream(stream, self._deadline)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(
            self._inner.connect_unix_socket(path, self._deadline.cut(timeout), socket_options), self._deadline
        )

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class HttpcoreTransport:
    """``Transport`` over httpcore's pool: HTTP/2 where the service offers it by ALPN, HTTP/1.1 otherwise."""

    def __init__(self, *, timeout: Timeout, ssl_context: ssl.SSLContext | None, max_connections: int) -> None:
        self._deadline = _Deadline()
        self._timeouts = {name: seconds for name, seconds in timeout._asdict().items()}
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            http1=True,
            http2=True,
            network_backend=_Backend(self._deadline),
        )
        self.closed = False

    def post(self, url: str, body: bytes, headers: Mapping[str, str], deadline: float, limit: int) -> HttpResponse:
        """POST ``body`` to ``url`` and read the answer, within ``deadline`` and ``limit``."""
        self._deadline.start(deadline)
        try:
            with self._pool.stream(
                "POST", url, headers=list(headers.items()), content=body, extensions={"timeout": self._timeouts}
            ) as response:
                fields = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in response.headers}
                reader = BodyReader(response.status, fields, limit, deadline)
                for part in response.iter_stream():
                    reader.feed(part)
                return reader.answer()
        except httpcore.TimeoutException as exc:
            sent = not isinstance(exc, _NEVER_SENT)
            if time.monotonic() >= deadline:
                raise AttemptTimedOut(sent=sent) from None
            raise TransportError(f"{type(exc).__name__}: {exc}", sent=sent) from None
        except (
            httpcore.NetworkError,
            httpcore.ProtocolError,
            httpcore.UnsupportedProtocol,
        ) as exc:
            text = (
                UNWRITABLE_REQUEST
                if isinstance(exc, httpcore.LocalProtocolError)
                else f"{type(exc).__name__}: {exc or 'no answer'}"
            )
            raise TransportError(
                text, sent=not isinstance(exc, _NEVER_SENT), retryable=not isinstance(exc, _NOT_RETRYABLE)
            ) from None
        finally:
            self._deadline.end()

    def close(self) -> None:
        """Close the connections kept open."""
        self.closed = True
        self._pool.close()
