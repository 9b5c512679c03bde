"""``AsyncPushClient``: the asyncio client, running the core's flows as tasks over one ``AsyncTransport``."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Generator, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from ._account import SendAccount
from ._base_client import BaseClient, Messages, abandon
from ._batch import SendBatch, check_receipt_ids, merge_receipts, receipt_groups
from ._chunks import Chunk
from ._errors import SendInterrupted
from ._flows import Action, NotStarted, Post, Result, receipts_flow, send_flow
from ._models import PushReceipt, PushTicket
from ._transport import AsyncTransport, TransportError
from ._wire import HttpResponse, TransportFailure

if TYPE_CHECKING:
    import httpx

__all__ = ["AsyncPushClient"]

T = TypeVar("T")


class AsyncPushClient(BaseClient[AsyncTransport, "httpx.AsyncClient"]):
    """The asyncio twin of ``PushClient``: the same options, with ``await`` and ``async with``.

    ``send``, ``get_receipts`` and ``aclose`` are coroutines; ``iter_send`` is
    an async iterator. Requests run as tasks, at most ``max_concurrency`` at
    once. Pass ``http_client=`` an ``httpx.AsyncClient`` (or ``transport=`` an
    ``AsyncTransport``) to use your own. A
    client belongs to the event loop it is first used on.

    A send that is cancelled (``asyncio.wait_for``, a ``TaskGroup`` failing)
    starts no new request, gives those in flight ``interrupt_grace`` seconds
    to come back, closes its ``account``, and then lets the cancellation through.
    """

    def _new_transport(self) -> AsyncTransport:
        if self._needs_httpx():
            return self._over_httpx(None)
        from ._h11_async_transport import AsyncH11Transport
        from ._h11_transport import H11_ALPN

        return AsyncH11Transport(
            timeout=self.timeout, ssl_context=self._ssl_verify(H11_ALPN), max_connections=self.max_concurrency
        )

    def _over_httpx(self, http: httpx.AsyncClient | None) -> AsyncTransport:
        import httpx

        from ._httpx_transport import AsyncHttpxTransport

        if http is None:
            return AsyncHttpxTransport(httpx.AsyncClient(**self._httpx_options()), self.timeout, owned=True)
        return AsyncHttpxTransport(http, self.timeout)

    def _init_io(self) -> None:
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sends: dict[SendBatch, asyncio.Event] = {}  # running sends, and the event set when each ends

    async def send(self, messages: Messages, *, account: SendAccount | None = None) -> list[PushTicket]:
        """Send notifications; return one ticket per recipient, in input order. See ``PushClient.send``."""
        batch = SendBatch(messages, whole=True, account=account, strict=self.strict_fields)
        return [ticket async for ticket in self._send_chunks(batch)]

    def iter_send(self, messages: Messages, *, account: SendAccount | None = None) -> AsyncIterator[PushTicket]:
        """Send lazily, yielding tickets in input order as requests complete. See ``PushClient.iter_send``."""
        return self._send_chunks(SendBatch(messages, whole=False, account=account, strict=self.strict_fields))

    async def get_receipts(self, ids: str | Iterable[str]) -> dict[str, PushReceipt]:
        """Fetch the receipts of ticket ids. See ``PushClient.get_receipts``."""
        self._enter_loop()
        results = await asyncio.gather(
            *(self._limited(receipts_flow(group, self._context)) for group in receipt_groups(check_receipt_ids(ids))),
            return_exceptions=True,
        )
        return merge_receipts(results)

    async def aclose(self) -> None:
        """Close the client: running sends start no new request and end with ``SendInterrupted`` once those in
        flight are back; then the connections (unless handed in) are closed."""
        self._closed = True
        for batch in list(self._sends):
            batch.stop()
        ends = [ended.wait() for ended in self._sends.values()]
        if ends:
            await asyncio.gather(*ends)
        if self._owns_transport:
            await self._transport.aclose()

    close = aclose

    async def __aenter__(self) -> AsyncPushClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- driving the core --

    def _enter_loop(self) -> asyncio.Semaphore:
        """The concurrency slots of this client's event loop; a clear error on another loop."""
        self._check_open()
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise RuntimeError(
                "this AsyncPushClient was first used on another event loop (each asyncio.run() makes a new one); "
                "its connections belong to that loop: make one client per event loop"
            )
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrency)
        return self._slots

    async def _send_chunks(self, batch: SendBatch) -> AsyncIterator[PushTicket]:
        self._enter_loop()
        ended = asyncio.Event()
        self._sends[batch] = ended
        window: deque[tuple[Chunk, asyncio.Task[list[PushTicket]]]] = deque()
        try:
            while True:
                chunk = batch.next_chunk() if len(window) < self._window else None
                if chunk is not None:
                    window.append((chunk, asyncio.ensure_future(self._send_chunk(chunk, batch))))
                    continue
                if not window:
                    break
                done, task = window[0]
                # Waited on, not awaited: a cancellation of this send must not cancel the request with it.
                await asyncio.wait((task,))
                window.popleft()
                result: list[PushTicket] | BaseException = (
                    NotStarted() if task.cancelled() else task.exception() or task.result()
                )
                for ticket in batch.settle(done, result):
                    yield ticket
            if batch.stopped and self._closed:
                batch.interrupt(())
                raise SendInterrupted("the client was closed during the send", account=batch.account)
            batch.finish()
        except BaseException:
            # Cancelled, the caller stopping (GeneratorExit), or anything unexpected: no new request starts;
            # those in flight get a grace to come back, then the account is closed.
            if not batch.account.done:
                batch.stop()
                await self._grace(window)
                batch.interrupt(chunk for chunk, _ in window)
            raise
        finally:
            del self._sends[batch]
            ended.set()

    async def _grace(self, window: Iterable[tuple[Chunk, asyncio.Task[list[PushTicket]]]]) -> None:
        """Cancel what has no request out; give the requests out ``interrupt_grace`` seconds, then cancel them."""
        tasks = [task for _, task in window]
        posting = []
        for chunk, task in window:
            if task.done():
                continue
            if chunk.in_flight:
                posting.append(task)
            else:
                task.cancel()
        try:
            if posting and self.interrupt_grace > 0:
                await asyncio.wait(posting, timeout=self.interrupt_grace)
        except asyncio.CancelledError:
            pass  # cancelled again: stop waiting; what is still out is in doubt
        finally:
            for task in tasks:
                if task.done():
                    if not task.cancelled():
                        task.exception()  # retrieved, so asyncio does not report it as lost
                else:
                    task.cancel()

    async def _send_chunk(self, chunk: Chunk, batch: SendBatch) -> list[PushTicket]:
        slots = self._enter_loop()
        async with slots:
            batch.check_start()
            try:
                tickets = await self._drive(send_flow(chunk, self._context), batch)
            except Exception as exc:
                self._chunk_raised(chunk, batch, exc)
                raise
            self._observe_chunk(tickets, chunk.count)
            return tickets

    async def _limited(self, flow: Generator[Action, Result, T]) -> T:
        async with self._enter_loop():
            return await self._drive(flow, None)

    async def _drive(self, flow: Generator[Action, Result, T], batch: SendBatch | None) -> T:
        result: Result = None
        try:
            while True:
                action = flow.send(result)
                self._observe_step(action, result)
                result = None
                delay = self._delay_for(action)
                while delay > 0:
                    await asyncio.sleep(delay)
                    if batch is not None and batch.stopped:
                        abandon(flow, action)
                    delay = self._delay_for(action) if isinstance(action, Post) else 0.0
                if isinstance(action, Post):
                    if batch is not None and batch.stopped:
                        abandon(flow, action)
                    action.sending()  # from here on the request may reach the service
                    started = time.monotonic()
                    result = await self._post(action)
                    self._observe_attempt(action, result, started)
        except StopIteration as stop_iteration:
            value: T = stop_iteration.value
            return value
        finally:
            flow.close()

    async def _post(self, action: Post) -> HttpResponse | TransportFailure:
        url = self.base_url + action.path
        try:
            return await self._transport.post(
                url, action.body, self._request_headers(action), self._deadline(), self.max_response_bytes
            )
        except TransportError as exc:
            return self._transport_failure(exc, url)
