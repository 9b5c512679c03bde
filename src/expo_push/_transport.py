"""The seam under the clients: one POST bounded by a deadline and a size cap, what it can raise, and its timeouts.

A transport (``Transport``, ``AsyncTransport``) carries out a ``Post`` and
nothing else; the clients choose one (``_h11_transport`` by default,
``_httpx_transport`` for an httpx client, HTTP/2 or a proxy) and never see
how it speaks HTTP.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol, runtime_checkable

from ._wire import HttpResponse

__all__ = [
    "DEFAULT_TIMEOUT",
    "AnswerTooLarge",
    "AsyncTransport",
    "AttemptTimedOut",
    "BodyReader",
    "Timeout",
    "Transport",
    "TransportError",
    "as_timeout",
    "remaining",
]


class Timeout(NamedTuple):
    """Seconds for each phase of a request (``None``: no bound), as ``httpx.Timeout`` has them."""

    connect: float | None
    read: float | None
    write: float | None
    pool: float | None


DEFAULT_TIMEOUT = Timeout(connect=10.0, read=30.0, write=30.0, pool=30.0)
"""Seconds: 30 for each read and write, 10 to connect."""


def as_timeout(value: object) -> Timeout:
    """A ``Timeout`` from seconds (every phase), ``None`` (no bound), a ``Timeout`` or an ``httpx.Timeout``."""
    if isinstance(value, Timeout):
        return value
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        seconds = None if value is None else float(value)
        return Timeout(seconds, seconds, seconds, seconds)
    phases: list[Any] = [getattr(value, name, "") for name in Timeout._fields]
    if all(phase is None or (isinstance(phase, (int, float)) and not isinstance(phase, bool)) for phase in phases):
        return Timeout(*phases)  # an httpx.Timeout
    raise ValueError(f"timeout must be a number of seconds, None or an httpx.Timeout, not {value!r}")


UNWRITABLE_REQUEST = (
    "LocalProtocolError: the request cannot be written as HTTP (a header's name or value holds a character HTTP "
    "forbids, such as a newline); the header is not shown, as it may be a secret"
)
"""What a transport says of a request it cannot write: never the library's own words, which quote the header."""


class TransportError(Exception):
    """No usable answer came. ``sent``: the request may have reached the service; ``retryable``: a retry may mend it;
    ``malformed``: an answer came but breaks the protocol (too large, undecodable)."""

    def __init__(self, text: str, *, sent: bool = True, retryable: bool = True, malformed: bool = False) -> None:
        super().__init__(text)
        self.sent = sent
        self.retryable = retryable
        self.malformed = malformed


class AnswerTooLarge(TransportError):
    """The answer grew past ``max_response_bytes`` (counted after decompression)."""

    def __init__(self) -> None:
        super().__init__("the answer is larger than max_response_bytes", retryable=False, malformed=True)


class AttemptTimedOut(TransportError):
    """The answer did not come whole within ``attempt_timeout``."""

    def __init__(self, *, sent: bool = True) -> None:
        super().__init__("no whole answer within attempt_timeout", sent=sent)


def remaining(deadline: float, phase: float | None, *, sent: bool) -> float:
    """Seconds the next wait may take: the phase's bound cut to the deadline; ``AttemptTimedOut`` once it is past."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise AttemptTimedOut(sent=sent)
    return left if phase is None or phase > left else phase


_INFLATE_STEP = 64 * 1024
"""Bytes inflated at a time: a compressed answer never takes more memory than the cap and this."""


class BodyReader:
    """Collects an answer's body as it arrives, inflating gzip or deflate a bounded piece at a time, within a size
    cap (counted after decompression) and a deadline."""

    __slots__ = ("_deadline", "_inflate", "_limit", "_parts", "_size", "_zlib_tried", "headers", "status_code")

    def __init__(self, status_code: int, headers: Mapping[str, str], limit: int, deadline: float) -> None:
        encoding = (headers.get("content-encoding") or "identity").strip().lower()
        declared = headers.get("content-length")
        if encoding == "identity" and declared is not None and declared.isdigit() and int(declared) > limit:
            raise AnswerTooLarge
        if encoding not in ("identity", "gzip", "deflate"):
            raise TransportError(
                f"DecodingError: unknown content-encoding {encoding!r}", retryable=False, malformed=True
            )
        self.status_code = status_code
        self.headers = headers
        self._limit = limit
        self._deadline = deadline
        self._parts: list[bytes] = []
        self._size = 0
        self._zlib_tried = encoding != "deflate"  # deflate is zlib-wrapped, or raw as some servers send it
        self._inflate: Any = None
        if encoding != "identity":
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> None:
        """Take the next bytes of the body as they came on the wire; raise past the cap or the deadline."""
        if time.monotonic() > self._deadline:
            raise AttemptTimedOut
        if self._inflate is None:
            self._keep(data)
            return
        original = data
        try:
            while data:
                room = self._limit - self._size + 1  # one byte over the cap is enough to know
                piece = self._inflate.decompress(data, min(room, _INFLATE_STEP))
                self._keep(piece)
                data = self._inflate.unconsumed_tail
        except zlib.error as exc:
            if not self._zlib_tried and self._size == 0:
                self._zlib_tried = True
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                self.feed(original)
                return
            raise TransportError(f"DecodingError: {exc}", retryable=False, malformed=True) from None
        self._zlib_tried = True

    def _keep(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._size > self._limit:
            raise AnswerTooLarge
        if piece:
            self._parts.append(piece)

    def answer(self) -> HttpResponse:
        """The whole answer, for the core."""
        if self._inflate is not None:
            self._keep(self._inflate.flush())
        return HttpResponse(self.status_code, self.headers, b"".join(self._parts))


@runtime_checkable
class Transport(Protocol):
    """How ``PushClient`` sends one request: what the clients need of HTTP, and all of it.

    ``post`` returns the answer (its body decompressed, its headers' names in
    lower case or a case-insensitive mapping) or raises ``TransportError``; it
    never takes past ``deadline`` (``time.monotonic()``) and never keeps more
    than ``limit`` bytes of body (``BodyReader`` does both).
    """

    def post(self, url: str, body: bytes, headers: Mapping[str, str], deadline: float, limit: int) -> HttpResponse:
        """POST ``body`` to ``url`` and read the answer."""
        ...

    def close(self) -> None:
        """Close the connections kept open."""
        ...


@runtime_checkable
class AsyncTransport(Protocol):
    """How ``AsyncPushClient`` sends one request; ``Transport`` with ``await``."""

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], deadline: float, limit: int
    ) -> HttpResponse:
        """POST ``body`` to ``url`` and read the answer."""
        ...

    async def aclose(self) -> None:
        """Close the connections kept open."""
        ...
