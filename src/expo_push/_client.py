"""``PushClient``: the blocking client, running the core's flows on a pool of threads over one ``Transport``."""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from ._account import SendAccount
from ._base_client import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    BaseClient,
    Messages,
    _proxied,
    abandon,
    shared_ssl_context,
)
from ._batch import SendBatch, check_receipt_ids, merge_receipts, receipt_groups
from ._chunks import Chunk
from ._errors import SendInterrupted
from ._flows import Action, NotStarted, Post, Result, receipts_flow, send_flow
from ._models import PushReceipt, PushTicket
from ._transport import Transport, TransportError
from ._wire import HttpResponse, TransportFailure

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "PushClient", "shared_ssl_context"]

T = TypeVar("T")


class _Pump:
    """One sync send's bookkeeping thread, and the hand-over of its tickets to the caller's thread.

    The caller's thread (where Ctrl-C lands) touches no lock the pump also takes: a KeyboardInterrupt can
    leave a lock of Python's threading module held (raised just after ``Condition.__enter__`` acquired
    it), and the pump would then wait on it for ever. So the caller takes tickets from a
    ``SimpleQueue`` (its ``get`` is C code, safe to interrupt) and speaks to the pump through plain
    attributes, which the pump polls; ``stop`` is set by the pump itself.
    """

    _POLL = 0.02  # seconds between looks at the caller's word, and at a full hand-over

    def __init__(self, client: PushClient, batch: SendBatch) -> None:
        self.batch = batch
        self.stop = threading.Event()
        """Set: start no new request (the caller stopped, or the client is closing). Waited on by requests."""
        self.caller_stopped = False
        """The caller's word: stop (Ctrl-C, GeneratorExit, ...)."""
        self.caller_hurries = False
        """The caller's word: do not wait for the requests out either (a second Ctrl-C)."""
        self.outcome: BaseException | None = None
        self.over = False
        """The pump has finished: the account is closed."""
        self._room = client._window
        self._tickets: queue.SimpleQueue[list[PushTicket] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, args=(client,), name="expo-push-send", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self, client: PushClient) -> None:
        try:
            client._run_pump(self.batch, self)
        finally:
            self.over = True
            self._tickets.put(None)

    def stopping(self) -> bool:
        """Whether the send is to stop (the pump's side: it turns the caller's word into ``stop``)."""
        if self.caller_stopped and not self.stop.is_set():
            self.stop.set()
        return self.stop.is_set()

    def give(self, tickets: list[PushTicket]) -> bool:
        """Hand tickets to the caller, waiting while the caller is behind; ``False`` once stopped."""
        while self._tickets.qsize() >= self._room:
            if self.stopping():
                return False  # nobody takes them any more; they are in the account
            time.sleep(self._POLL)
        self._tickets.put(tickets)
        return True

    def wait_for(self, future: Future[list[PushTicket]]) -> bool:
        """Wait until ``future`` is done; ``False`` if the send was stopped first."""
        while not self.stopping():
            try:
                future.exception(timeout=self._POLL)
                return True
            except concurrent.futures.TimeoutError:
                continue
        return future.done()

    def take(self) -> list[PushTicket] | None:
        """The next tickets for the caller, or ``None`` when the send is over."""
        return self._tickets.get()

    def raise_outcome(self) -> None:
        if self.outcome is not None:
            raise self.outcome

    def wind_down(self) -> None:
        """Unless the send is over: start no new request, and wait for the pump to finish.

        A KeyboardInterrupt met here (Ctrl-C pressed again) only hurries the pump: the account is closed
        before this returns, whatever is pressed meanwhile.
        """
        while not self.over:
            try:
                self.caller_stopped = True
                if self._thread.ident is None:  # stopped before the pump could start: nothing went out
                    self.batch.interrupt(())
                    return
                time.sleep(self._POLL)
            except KeyboardInterrupt:
                self.caller_hurries = True


class PushClient(BaseClient[Transport, "httpx.Client"]):
    """Sends notifications and fetches receipts, blocking; safe to share between threads.

    Requests run side by side on a pool of ``max_concurrency`` threads over
    one pool of keep-alive connections (HTTP/2 where the service offers it and
    the ``http2`` extra is installed), paced to
    ``rate_limit`` notifications per second, each retried up to
    ``max_retries`` times on connection errors, timeouts, 429 and 5xx.

    Args:
        access_token: Expo access token, sent as ``Authorization: Bearer``
            (needed when push security is on; ``None`` or ``""``: none).
            Never shown in reprs, logs or errors.
        base_url: The service; ``None`` takes ``$EXPO_BASE_URL``, else
            ``https://exp.host``.
        max_concurrency: Requests in flight at once (Expo asks for at most 6).
        rate_limit: Notifications per second and project, paced on the
            client; ``None`` turns pacing off. The service allows 600.
        max_retries: Retries per request after the first attempt.
        timeout: Seconds for each connect, read and write, or a ``Timeout``
            (an ``httpx.Timeout`` is taken too).
        attempt_timeout: Seconds one attempt may take in all, from
            connecting to the answer's last byte (a server that dribbles
            its answer cannot hold a request longer).
        max_response_bytes: The largest answer read (after decompression);
            a larger one fails the request with ``PushResponseError``.
        interrupt_grace: Seconds the requests in flight get to come back
            when a send is interrupted (Ctrl-C, the caller stopping).
        split_projects: Split a request the service refuses for mixing
            projects into one request per project.
        http2: Use HTTP/2 when the service offers it over TLS (with the
            ``http2`` extra installed; HTTP/1.1 otherwise).
        retry_policy: A ``RetryPolicy`` for finer control of retries and
            backoff; it overrides ``max_retries``.
        pacer: Who paces the requests: by default an in-process ``Pacer``
            of ``rate_limit``; ``Ledger.shared_pacer()`` shares one budget
            between processes and machines.
        project: The Expo project (``@owner/slug``) the notifications
            belong to, for pacing each project under its own budget.
        metrics: Told of every attempt, retry, pacer wait and ticket
            (``expo_push.metrics``: ``PrometheusMetrics()``); default: nothing.
        strict_fields: Refuse (``ValidationError``) a key of a dict message
            that is no field of the service, naming the nearest known one;
            by default such keys are sent (the service ignores them). A known
            field in another spelling (``channel_id``) is refused either way.
        verify: How to check the service's TLS certificate: ``None`` or
            ``True`` (``$SSL_CERT_FILE`` / ``$SSL_CERT_DIR`` where set, else
            certifi's CA bundle), the path of a PEM file of CAs to trust (an
            emulator's ``ca_file``), or an ``ssl.SSLContext``. Checks cannot
            be turned off.
        http_client: Your own ``httpx.Client`` (its headers, proxies and
            certificates are used; you close it).
        transport: Your own ``Transport`` (requests go through its
            ``post``; you close it), instead of ``http_client``.
    """

    def _new_transport(self) -> Transport:
        if self._use_http2() and not _proxied():
            from ._httpcore_transport import HttpcoreTransport

            return HttpcoreTransport(
                timeout=self.timeout, ssl_context=self._ssl_verify(), max_connections=self.max_concurrency
            )
        if self._needs_httpx():
            return self._over_httpx(None)
        from ._h11_transport import H11_ALPN, H11Transport

        return H11Transport(
            timeout=self.timeout, ssl_context=self._ssl_verify(H11_ALPN), max_connections=self.max_concurrency
        )

    def _over_httpx(self, http: httpx.Client | None) -> Transport:
        import httpx

        from ._httpx_transport import HttpxTransport

        if http is None:
            return HttpxTransport(httpx.Client(**self._httpx_options()), self.timeout, owned=True)
        return HttpxTransport(http, self.timeout)

    def _init_io(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._sends: set[threading.Event] = set()  # the stop signals of the sends running now

    # -- public API --

    def send(self, messages: Messages, *, account: SendAccount | None = None) -> list[PushTicket]:
        """Send notifications; return one ticket per recipient, in input order.

        Every message is validated before the first request (``ValidationError``
        names the message and field). A message to many recipients is split
        across requests of at most 100; small messages share requests. If a
        request fails for good, ``PushServerError`` is raised once the requests
        in flight have finished, with ``.tickets`` (everything answered),
        ``.unsent`` (every recipient never sent, as messages to resend) and
        ``.in_doubt`` (those whose answer never came). Pass an ``account`` to
        keep that same record however the send ends (Ctrl-C included).
        """
        return list(self._send_chunks(SendBatch(messages, whole=True, account=account, strict=self.strict_fields)))

    def iter_send(self, messages: Messages, *, account: SendAccount | None = None) -> Iterator[PushTicket]:
        """Send notifications lazily; yield one ticket per recipient, in input order, as requests complete.

        Messages are read and validated as they are needed, so a generator of
        millions goes out in bounded memory. A malformed message stops the
        reading: every earlier recipient's ticket is yielded, then
        ``ValidationError`` is raised. A request that fails for good raises
        ``PushServerError`` after the requests in flight finish; its
        ``.tickets`` holds the tickets not yet yielded, ``.unsent`` and
        ``.in_doubt`` the recipients read but not accepted. Stopping the
        iteration early lets the requests in flight come back (up to
        ``interrupt_grace``); ``account`` then says what became of each.
        """
        return self._send_chunks(SendBatch(messages, whole=False, account=account, strict=self.strict_fields))

    def get_receipts(self, ids: str | Iterable[str]) -> dict[str, PushReceipt]:
        """Fetch the receipts of ticket ids, in requests of at most 1000, side by side.

        Returns receipts by id; ids with no receipt (not ready yet, or expired)
        are absent. If a request fails for good, ``PushServerError`` is raised
        with ``.receipts`` holding those fetched.
        """
        self._check_open()
        pool = self._executor()
        futures = [
            pool.submit(self._drive, receipts_flow(group, self._context), None)
            for group in receipt_groups(check_receipt_ids(ids))
        ]
        return merge_receipts([future.exception() or future.result() for future in futures])

    def close(self) -> None:
        """Close the client: sends running now start no new request, let those in flight finish, then raise
        ``SendInterrupted``; the thread pool and the connections (unless handed in) are closed."""
        with self._lock:
            self._closed = True
            for stop in self._sends:
                stop.set()
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        if self._owns_transport:
            self._transport.close()

    def __enter__(self) -> PushClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- driving the core --

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            self._check_open()
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="expo-push")
            return self._pool

    def _submit(self, chunk: Chunk, batch: SendBatch, pump: _Pump) -> Future[list[PushTicket]]:
        try:
            return self._executor().submit(self._send_chunk, chunk, batch, pump)
        except RuntimeError:  # closed meanwhile: the chunk never starts
            batch.stop()
            future: Future[list[PushTicket]] = Future()
            future.set_exception(NotStarted())
            return future

    def _send_chunks(self, batch: SendBatch) -> Iterator[PushTicket]:
        # The bookkeeping runs on a thread of its own (the pump), so that a KeyboardInterrupt, which Python
        # raises in the main thread only, always lands here, between two batches of tickets, never in the
        # middle of the bookkeeping; the pump then winds the send down and closes the account.
        self._check_open()
        pump = _Pump(self, batch)
        with self._lock:
            self._check_open()
            self._sends.add(pump.stop)
        try:
            pump.start()
            while (tickets := pump.take()) is not None:
                yield from tickets
            pump.raise_outcome()
        finally:
            # However this ends (Ctrl-C, the caller stopping with GeneratorExit, what the send raised): no new
            # request starts, those out get their grace, and the account is closed before anything goes on.
            pump.wind_down()
            with self._lock:
                self._sends.discard(pump.stop)

    def _run_pump(self, batch: SendBatch, pump: _Pump) -> None:
        """The send's bookkeeping: start chunks, settle them in input order, hand tickets to ``pump``."""
        window: deque[tuple[Chunk, Future[list[PushTicket]]]] = deque()
        try:
            while True:
                if pump.stopping():
                    batch.stop()
                    break
                chunk = batch.next_chunk() if len(window) < self._window else None
                if chunk is not None:
                    window.append((chunk, self._submit(chunk, batch, pump)))
                    continue
                if not window:
                    break
                done, future = window[0]
                if not pump.wait_for(future):
                    continue  # stopped meanwhile
                window.popleft()
                error = future.exception()
                tickets = batch.settle(done, error if error is not None else future.result())
                if tickets and not pump.give(tickets):
                    continue
            if pump.stopping():
                self._grace([future for _, future in window], pump)
                batch.interrupt(chunk for chunk, _ in window)
                if self._closed and not pump.caller_stopped:
                    raise SendInterrupted("the client was closed during the send", account=batch.account)
                return
            batch.finish()
        except BaseException as exc:
            if not batch.account.done:  # a fault of our own: still close the account
                batch.interrupt(chunk for chunk, _ in window)
            pump.outcome = exc

    def _grace(self, futures: list[Future[list[PushTicket]]], pump: _Pump) -> None:
        """Wait up to ``interrupt_grace`` for the requests out to come back, or until the caller hurries."""
        deadline = time.monotonic() + self.interrupt_grace
        pending = [future for future in futures if not future.done()]
        while pending and not pump.caller_hurries:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            _, still = concurrent.futures.wait(pending, timeout=min(left, _Pump._POLL))
            pending = list(still)

    def _send_chunk(self, chunk: Chunk, batch: SendBatch, pump: _Pump) -> list[PushTicket]:
        if pump.stopping():
            raise NotStarted
        batch.check_start()
        try:
            tickets = self._drive(send_flow(chunk, self._context), pump)
        except Exception as exc:
            self._chunk_raised(chunk, batch, exc)
            raise
        self._observe_chunk(tickets, chunk.count)
        return tickets

    def _drive(self, flow: Generator[Action, Result, T], pump: _Pump | None) -> T:
        result: Result = None
        try:
            while True:
                action = flow.send(result)
                self._observe_step(action, result)
                result = None
                delay = self._delay_for(action)
                until = time.monotonic() + delay
                while delay > 0:
                    if pump is None:
                        time.sleep(delay)
                    else:  # the caller's word is looked at every _POLL
                        pump.stop.wait(min(delay, _Pump._POLL))
                        if pump.stopping():
                            abandon(flow, action)
                    # before a Post, the rest of a hold, which may have grown meanwhile
                    delay = self._delay_for(action) if isinstance(action, Post) else until - time.monotonic()
                if isinstance(action, Post):
                    if pump is not None and pump.stopping():
                        abandon(flow, action)
                    action.sending()  # from here on the request may reach the service
                    started = time.monotonic()
                    result = self._post(action)
                    self._observe_attempt(action, result, started)
        except StopIteration as stop_iteration:
            value: T = stop_iteration.value
            return value
        finally:
            flow.close()

    def _post(self, action: Post) -> HttpResponse | TransportFailure:
        url = self.base_url + action.path
        try:
            return self._transport.post(
                url, action.body, self._request_headers(action), self._deadline(), self.max_response_bytes
            )
        except TransportError as exc:
            return self._transport_failure(exc, url)
