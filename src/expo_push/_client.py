"""The clients: ``PushClient`` (blocking, a thread pool) and ``AsyncPushClient`` (asyncio).

Both carry out the flows of the sans-I/O core (``_protocol``) over httpx and
differ only where I/O differs: how they wait, and how they run requests side
by side. Every decision lives in the core, so the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import ssl
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from typing_extensions import Self

import httpx

from ._message import PushMessage
from ._models import PushReceipt, PushTicket
from ._pacing import Pacer
from ._protocol import (
    Action,
    Chunk,
    ChunkFailed,
    FlowContext,
    Hold,
    HttpResponse,
    Pace,
    Post,
    Refund,
    Result,
    SendBatch,
    TransportFailure,
    check_receipt_ids,
    merge_receipts,
    receipt_groups,
    receipts_flow,
    send_flow,
)
from ._retry import RetryPolicy
from ._version import __version__

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "AsyncPushClient", "PushClient"]

DEFAULT_BASE_URL = "https://exp.host"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
"""Seconds: 30 for each read and write, 10 to connect."""
DEFAULT_MAX_RETRIES = 5
"""Retries per request. With the default backoff (0.5 s doubling to 8 s) a request gives up after ~15 s of waiting."""

logger = logging.getLogger("expo_push")

Messages = PushMessage | Mapping[str, Any] | Iterable[PushMessage | Mapping[str, Any]]
"""One message (a ``PushMessage`` or a camelCase dict), or any iterable of them, generators included."""

T = TypeVar("T")


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every HTTP client expo-push makes.

    Loading the CA bundle costs ~45 ms and a client without it ~0.3 ms, so code
    that makes a client per notification (a web request handler, say) stays cheap.
    """
    return httpx.create_ssl_context()


_NOT_RETRYABLE = (httpx.DecodingError, httpx.LocalProtocolError, httpx.UnsupportedProtocol, httpx.InvalidURL)
"""Failures a retry cannot mend: an unreadable answer, or a request this side cannot even send."""


class _Abandoned(Exception):
    """The caller stopped reading the send: this request must not go out."""


def _response(response: httpx.Response) -> HttpResponse:
    return HttpResponse(response.status_code, response.headers, response.content)


class _BaseClient:
    """Configuration and everything the two clients share but the I/O itself."""

    _http: httpx.Client | httpx.AsyncClient

    def __init__(
        self,
        access_token: str | None = None,
        *,
        base_url: str | None = None,
        max_concurrency: int = 6,
        rate_limit: float | None = 600,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        split_projects: bool = True,
        http2: bool = True,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self._options: dict[str, Any] = {
            "access_token": access_token,
            "base_url": base_url,
            "max_concurrency": max_concurrency,
            "rate_limit": rate_limit,
            "max_retries": max_retries,
            "timeout": timeout,
            "split_projects": split_projects,
            "http2": http2,
            "retry_policy": retry_policy,
        }
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ValueError(f"max_concurrency must be a positive integer, not {max_concurrency!r}")
        if access_token is not None and (
            not isinstance(access_token, str)
            or not access_token
            or not access_token.isascii()
            or not all(c.isprintable() and not c.isspace() for c in access_token)
        ):
            # Never echo the value: it is a secret.
            raise ValueError(
                "access_token must be a non-empty string of printable ASCII without spaces or line breaks "
                "(a token read from a file often ends with a newline: strip it)"
            )
        self.base_url = (base_url or os.environ.get("EXPO_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.max_concurrency = max_concurrency
        self.rate_limit = rate_limit
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.split_projects = split_projects
        self._http2 = http2
        self._pacer = Pacer(rate_limit)
        retry = retry_policy if retry_policy is not None else RetryPolicy(max_retries=max_retries)
        self._context = FlowContext(retry, split_projects=split_projects)
        self._window = 2 * max_concurrency  # chunks submitted ahead, so a slow one does not idle the others
        self._headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": f"expo-push-python/{__version__}",
        }
        self._secret = access_token
        self._lock = threading.Lock()
        if access_token is not None:
            self._headers["Authorization"] = f"Bearer {access_token}"

    def with_options(self, **changes: Any) -> Self:
        """A copy of this client with some options changed, e.g. ``client.with_options(max_retries=0)``.

        The copy shares this client's connection pool and its pacing (one rate
        budget for both), so it is cheap to make per call; closing it leaves
        this client's connections open. ``http_client`` cannot be changed.
        """
        if "http_client" in changes:
            raise TypeError("with_options cannot change http_client; make a new client instead")
        unknown = set(changes) - set(self._options)
        if unknown:
            raise TypeError(f"unknown options {sorted(unknown)}; allowed: {', '.join(self._options)}")
        policy = self._options["retry_policy"]
        if "max_retries" in changes and "retry_policy" not in changes and policy is not None:
            changes["retry_policy"] = dataclasses.replace(policy, max_retries=changes["max_retries"])
        copy = type(self)(**{**self._options, **changes, "http_client": self._http})
        if changes.get("rate_limit", self.rate_limit) == self.rate_limit:
            copy._pacer = self._pacer
        return copy

    @property
    def max_retries(self) -> int:
        """Retries per request after the first attempt."""
        return self._context.retry.max_retries

    def __repr__(self) -> str:
        token = ", access_token=<set>" if self._secret is not None else ""
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}{token}, max_concurrency={self.max_concurrency}, "
            f"rate_limit={self.rate_limit!r}, max_retries={self.max_retries})"
        )

    def _limits(self) -> httpx.Limits:
        return httpx.Limits(max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency)

    def _request_headers(self, post: Post) -> dict[str, str]:
        return {**self._headers, **post.headers}

    def _transport_failure(self, exc: httpx.HTTPError) -> TransportFailure:
        """What a transport exception means for the flow; its text never carries the access token."""
        text = f"{type(exc).__name__}: {exc or 'no answer'}"
        if self._secret is not None:
            text = text.replace(self._secret, "<access token>")
        return TransportFailure(text, retryable=not isinstance(exc, _NOT_RETRYABLE))

    def _delay_for(self, action: Action) -> float:
        """Do the pacer's bookkeeping for ``action``; return how long to wait before going on.

        For a ``Post`` it is the rest of a hold, checked just before sending, so
        that a request booked before a 429 arrived waits for the hold too.
        """
        now = time.monotonic()
        with self._lock:
            if isinstance(action, Post):
                return self._pacer.held_for(now)
            if isinstance(action, Pace):
                return self._pacer.reserve(action.notifications, now)
            if isinstance(action, Refund):
                self._pacer.refund(action.notifications, now)
                return 0.0
            logger.info("expo-push: retrying a request in %.2f s", action.seconds)
            if isinstance(action, Hold):
                self._pacer.hold(now + action.seconds)
                return 0.0
            return action.seconds


def _warn_abandoned(chunks: Iterable[Chunk]) -> None:
    """Say how many notifications went out whose tickets the caller will not see."""
    count = sum(chunk.count for chunk in chunks)
    if count:
        logger.warning(
            "expo-push: a send was abandoned with %d notifications already sent or in flight; "
            "their tickets were not handed out",
            count,
        )


class PushClient(_BaseClient):
    """Sends notifications and fetches receipts, blocking; safe to share between threads.

    Requests run side by side on a pool of ``max_concurrency`` threads over
    one httpx connection pool (HTTP/2 where the service offers it), paced to
    ``rate_limit`` notifications per second, each retried up to
    ``max_retries`` times on connection errors, timeouts, 429 and 5xx.

    Args:
        access_token: Expo access token, sent as ``Authorization: Bearer``
            (needed when push security is on). Never shown in reprs or errors.
        base_url: The service; ``None`` takes ``$EXPO_BASE_URL``, else
            ``https://exp.host``.
        max_concurrency: Requests in flight at once (Expo asks for at most 6).
        rate_limit: Notifications per second, paced on the client; ``None``
            turns pacing off. The service allows 600 per project.
        max_retries: Retries per request after the first attempt.
        timeout: Seconds, or an ``httpx.Timeout``.
        split_projects: Split a request the service refuses for mixing
            projects into one request per project.
        http2: Use HTTP/2 when the service offers it.
        retry_policy: A ``RetryPolicy`` for finer control of retries and
            backoff; it overrides ``max_retries``.
        http_client: Your own ``httpx.Client`` (its headers, proxies and
            certificates are used; you close it).
    """

    _http: httpx.Client

    def __init__(
        self,
        access_token: str | None = None,
        *,
        base_url: str | None = None,
        max_concurrency: int = 6,
        rate_limit: float | None = 600,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        split_projects: bool = True,
        http2: bool = True,
        retry_policy: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            access_token,
            base_url=base_url,
            max_concurrency=max_concurrency,
            rate_limit=rate_limit,
            max_retries=max_retries,
            timeout=timeout,
            split_projects=split_projects,
            http2=http2,
            retry_policy=retry_policy,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            http2=http2, timeout=self.timeout, limits=self._limits(), verify=shared_ssl_context()
        )
        self._pool: ThreadPoolExecutor | None = None

    # -- public API --

    def send(self, messages: Messages) -> list[PushTicket]:
        """Send notifications; return one ticket per recipient, in input order.

        Every message is validated before the first request (``ValidationError``
        names the message and field). A message to many recipients is split
        across requests of at most 100; small messages share requests. If a
        request fails for good, ``PushServerError`` is raised once the requests
        in flight have finished, with ``.tickets`` (everything accepted) and
        ``.unsent`` (every recipient not accepted, as messages to resend).
        """
        return list(self._send_chunks(SendBatch(messages, whole=True)))

    def iter_send(self, messages: Messages) -> Iterator[PushTicket]:
        """Send notifications lazily; yield one ticket per recipient, in input order, as requests complete.

        Messages are read and validated as they are needed, so a generator of
        millions goes out in bounded memory. A malformed message stops the
        reading: every earlier recipient's ticket is yielded, then
        ``ValidationError`` is raised. A request that fails for good raises
        ``PushServerError`` after the requests in flight finish; its
        ``.tickets`` holds accepted tickets not yet yielded and ``.unsent`` the
        recipients read but not accepted. The input is left where reading stopped.
        """
        return self._send_chunks(SendBatch(messages, whole=False))

    def get_receipts(self, ids: str | Iterable[str]) -> dict[str, PushReceipt]:
        """Fetch the receipts of ticket ids, in requests of at most 1000, side by side.

        Returns receipts by id; ids with no receipt (not ready yet, or expired)
        are absent. If a request fails for good, ``PushServerError`` is raised
        with ``.receipts`` holding those fetched.
        """
        pool = self._executor()
        futures = [
            pool.submit(self._drive, receipts_flow(group, self._context))
            for group in receipt_groups(check_receipt_ids(ids))
        ]
        return merge_receipts([future.exception() or future.result() for future in futures])

    def close(self) -> None:
        """Close the connection pool (unless it was handed in) and the thread pool."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> PushClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- driving the core --

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="expo-push")
            return self._pool

    def _send_chunks(self, batch: SendBatch) -> Iterator[PushTicket]:
        pool = self._executor()
        abandoned = threading.Event()
        window: deque[tuple[Chunk, Future[list[PushTicket]]]] = deque()
        try:
            while True:
                chunk = batch.next_chunk() if len(window) < self._window else None
                if chunk is not None:
                    window.append((chunk, pool.submit(self._send_chunk, chunk, batch, abandoned)))
                    continue
                if not window:
                    break
                done, future = window.popleft()
                error = future.exception()
                yield from batch.settle(done, error if error is not None else future.result())
            batch.finish()
        finally:
            if window:  # the caller stopped early (break, an exception, Ctrl-C): nothing more goes out
                batch.abandon()
                abandoned.set()
                _warn_abandoned(chunk for chunk, future in window if future.running() or future.done())

    def _send_chunk(self, chunk: Chunk, batch: SendBatch, abandoned: threading.Event) -> list[PushTicket]:
        batch.check_start()
        try:
            return self._drive(send_flow(chunk, self._context), abandoned)
        except ChunkFailed:
            batch.chunk_failed()
            raise

    def _drive(self, flow: Generator[Action, Result, T], abandoned: threading.Event | None = None) -> T:
        result: Result = None
        try:
            while True:
                action = flow.send(result)
                result = None
                delay = self._delay_for(action)
                while delay > 0:
                    if abandoned is None:
                        time.sleep(delay)
                    elif abandoned.wait(delay):
                        raise _Abandoned
                    delay = self._delay_for(action) if isinstance(action, Post) else 0.0
                if isinstance(action, Post):
                    if abandoned is not None and abandoned.is_set():
                        raise _Abandoned
                    try:
                        response = self._http.post(
                            self.base_url + action.path,
                            content=action.body,
                            headers=self._request_headers(action),
                            timeout=self.timeout,
                        )
                        result = _response(response)
                    except httpx.HTTPError as exc:
                        result = self._transport_failure(exc)
        except StopIteration as stop:
            value: T = stop.value
            return value
        finally:
            flow.close()


class AsyncPushClient(_BaseClient):
    """The asyncio twin of ``PushClient``: the same options, with ``await`` and ``async with``.

    ``send``, ``get_receipts`` and ``close`` are coroutines; ``iter_send`` is
    an async iterator. Requests run as tasks, at most ``max_concurrency`` at
    once. Pass ``http_client=`` an ``httpx.AsyncClient`` to use your own.
    """

    _http: httpx.AsyncClient

    def __init__(
        self,
        access_token: str | None = None,
        *,
        base_url: str | None = None,
        max_concurrency: int = 6,
        rate_limit: float | None = 600,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        split_projects: bool = True,
        http2: bool = True,
        retry_policy: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            access_token,
            base_url=base_url,
            max_concurrency=max_concurrency,
            rate_limit=rate_limit,
            max_retries=max_retries,
            timeout=timeout,
            split_projects=split_projects,
            http2=http2,
            retry_policy=retry_policy,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            http2=http2, timeout=self.timeout, limits=self._limits(), verify=shared_ssl_context()
        )
        self._slots = asyncio.Semaphore(max_concurrency)

    async def send(self, messages: Messages) -> list[PushTicket]:
        """Send notifications; return one ticket per recipient, in input order. See ``PushClient.send``."""
        return [ticket async for ticket in self._send_chunks(SendBatch(messages, whole=True))]

    def iter_send(self, messages: Messages) -> AsyncIterator[PushTicket]:
        """Send lazily, yielding tickets in input order as requests complete. See ``PushClient.iter_send``."""
        return self._send_chunks(SendBatch(messages, whole=False))

    async def get_receipts(self, ids: str | Iterable[str]) -> dict[str, PushReceipt]:
        """Fetch the receipts of ticket ids. See ``PushClient.get_receipts``."""
        results = await asyncio.gather(
            *(self._limited(receipts_flow(group, self._context)) for group in receipt_groups(check_receipt_ids(ids))),
            return_exceptions=True,
        )
        return merge_receipts(results)

    async def aclose(self) -> None:
        """Close the connection pool (unless it was handed in)."""
        if self._owns_http:
            await self._http.aclose()

    close = aclose

    async def __aenter__(self) -> AsyncPushClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- driving the core --

    async def _send_chunks(self, batch: SendBatch) -> AsyncIterator[PushTicket]:
        window: deque[tuple[Chunk, asyncio.Task[list[PushTicket]]]] = deque()
        try:
            while True:
                chunk = batch.next_chunk() if len(window) < self._window else None
                if chunk is not None:
                    window.append((chunk, asyncio.ensure_future(self._send_chunk(chunk, batch))))
                    continue
                if not window:
                    break
                done, task = window.popleft()
                try:
                    result: list[PushTicket] | BaseException = await task
                except Exception as exc:
                    result = exc
                for ticket in batch.settle(done, result):
                    yield ticket
            batch.finish()
        finally:
            if window:  # the caller stopped early (break, an exception, cancellation): nothing more goes out
                batch.abandon()
                _warn_abandoned(chunk for chunk, task in window if task.done() and not task.cancelled())
                for _, task in window:
                    if task.done() and not task.cancelled():
                        task.exception()  # retrieved, so asyncio does not report it as lost
                    task.cancel()

    async def _send_chunk(self, chunk: Chunk, batch: SendBatch) -> list[PushTicket]:
        async with self._slots:
            batch.check_start()
            try:
                return await self._drive(send_flow(chunk, self._context))
            except ChunkFailed:
                batch.chunk_failed()
                raise

    async def _limited(self, flow: Generator[Action, Result, T]) -> T:
        async with self._slots:
            return await self._drive(flow)

    async def _drive(self, flow: Generator[Action, Result, T]) -> T:
        result: Result = None
        try:
            while True:
                action = flow.send(result)
                result = None
                delay = self._delay_for(action)
                while delay > 0:
                    await asyncio.sleep(delay)
                    delay = self._delay_for(action) if isinstance(action, Post) else 0.0
                if isinstance(action, Post):
                    try:
                        response = await self._http.post(
                            self.base_url + action.path,
                            content=action.body,
                            headers=self._request_headers(action),
                            timeout=self.timeout,
                        )
                        result = _response(response)
                    except httpx.HTTPError as exc:
                        result = self._transport_failure(exc)
        except StopIteration as stop:
            value: T = stop.value
            return value
        finally:
            flow.close()
