"""Transports over an httpx client: the caller's own (``http_client=``), or one made for HTTP/2 or a proxy.

httpx's errors become ``TransportError``s here, so the clients never import
httpx; the answer is read raw and inflated by ``BodyReader``, within the cap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from ._transport import UNWRITABLE_REQUEST, AttemptTimedOut, BodyReader, Timeout, TransportError
from ._wire import HttpResponse

if TYPE_CHECKING:
    import ssl

__all__ = ["AsyncHttpxTransport", "HttpxTransport", "httpx_options"]

_NOT_RETRYABLE = (httpx.DecodingError, httpx.LocalProtocolError, httpx.UnsupportedProtocol, httpx.InvalidURL)
"""Failures a retry cannot mend: an unreadable answer, or a request this side cannot even send."""
_NEVER_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
    httpx.LocalProtocolError,
    httpx.UnsupportedProtocol,
    httpx.InvalidURL,
)
"""Failures after which the service cannot have taken the request: no connection, or no whole request written."""


def httpx_options(
    timeout: Timeout, verify: ssl.SSLContext | bool, http2: bool, max_connections: int
) -> dict[str, Any]:
    """What an httpx client made by expo-push is configured with."""
    return {
        "http2": http2,
        "timeout": _timeout(timeout),
        "limits": httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        "verify": verify,
    }


def _timeout(timeout: Timeout) -> httpx.Timeout:
    return httpx.Timeout(connect=timeout.connect, read=timeout.read, write=timeout.write, pool=timeout.pool)


def _raw(response: httpx.Response) -> tuple[bytes, ...]:
    """The body of a response built with its content (``httpx.MockTransport``'s), which is not streamed; else ()."""
    return (response.content,) if response.is_stream_consumed else ()


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield


def _failure(exc: httpx.HTTPError) -> TransportError:
    unwritable = isinstance(exc, httpx.LocalProtocolError)
    text = UNWRITABLE_REQUEST if unwritable else f"{type(exc).__name__}: {exc or 'no answer'}"
    return TransportError(text, sent=not isinstance(exc, _NEVER_SENT), retryable=not isinstance(exc, _NOT_RETRYABLE))


HttpxClient = TypeVar("HttpxClient", httpx.Client, httpx.AsyncClient)


class _OverHttpx(Generic[HttpxClient]):
    """A transport over an httpx client; ``owned``: closed with the transport (one expo-push made)."""

    def __init__(self, http: HttpxClient, timeout: Timeout, *, owned: bool = False) -> None:
        self.http: HttpxClient = http
        self._timeout = _timeout(timeout)
        self._owned = owned

    @property
    def closed(self) -> bool:
        """Whether the httpx client is closed."""
        return bool(self.http.is_closed)


class HttpxTransport(_OverHttpx[httpx.Client]):
    """``Transport`` over an ``httpx.Client``: the body within the deadline, each read of the head within the read
    timeout (httpx offers no way into the backend of a client it made)."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str], deadline: float, limit: int) -> HttpResponse:
        """POST ``body`` to ``url`` and read the answer, its body within ``deadline`` and ``limit``."""
        try:
            with self.http.stream("POST", url, content=body, headers=headers, timeout=self._timeout) as response:
                reader = BodyReader(response.status_code, response.headers, limit, deadline)
                for part in _raw(response) or response.iter_raw():
                    reader.feed(part)
                return reader.answer()
        except httpx.HTTPError as exc:
            raise _failure(exc) from None

    def close(self) -> None:
        """Close the httpx client if expo-push made it."""
        if self._owned:
            self.http.close()


class AsyncHttpxTransport(_OverHttpx[httpx.AsyncClient]):
    """``AsyncTransport`` over an ``httpx.AsyncClient``, bounded whole by the deadline."""

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], deadline: float, limit: int
    ) -> HttpResponse:
        """POST ``body`` to ``url`` and read the answer, within ``deadline`` and ``limit``."""
        try:
            return await asyncio.wait_for(
                self._exchange(url, body, headers, deadline, limit), deadline - time.monotonic()
            )
        except asyncio.TimeoutError:
            raise AttemptTimedOut from None
        except httpx.HTTPError as exc:
            raise _failure(exc) from None

    async def _exchange(
        self, url: str, body: bytes, headers: Mapping[str, str], deadline: float, limit: int
    ) -> HttpResponse:
        async with self.http.stream("POST", url, content=body, headers=headers, timeout=self._timeout) as response:
            reader = BodyReader(response.status_code, response.headers, limit, deadline)
            for part in _raw(response):
                reader.feed(part)
            async for part in response.aiter_raw() if not response.is_stream_consumed else _nothing():
                reader.feed(part)
            return reader.answer()

    async def aclose(self) -> None:
        """Close the httpx client if expo-push made it."""
        if self._owned:
            await self.http.aclose()
