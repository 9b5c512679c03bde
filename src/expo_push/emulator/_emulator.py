"""``Emulator``: the emulated service on its own thread and event loop, driven from sync or async code."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

from ._app import EmulatorApp, Stalls
from ._control import is_loopback
from ._faults import Fault, FaultKind, FaultPlan, FaultTarget
from ._history import DEFAULT_HISTORY, History
from ._state import Delivery, EmulatorState, Settings, Stats
from ._tls import Certificate
from ._views import exchange_view

__all__ = ["Emulator"]

_STOP_GRACE = 2.0
"""Seconds a stop gives answers still being written (hypercorn's own grace is 1 s), then again after closing them."""


def _as_tokens(token_or_tokens: str | Iterable[str]) -> list[str]:
    return [token_or_tokens] if isinstance(token_or_tokens, str) else list(token_or_tokens)


def _quiet_about_cut_connections(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """While stopping: a connection cut mid-request (its task cancelled), or one abandoned to a client that never
    reads (its task destroyed pending), is how a bounded stop ends it, not an error to print."""
    cut = isinstance(context.get("exception"), asyncio.CancelledError)
    abandoned = "task" in context and "exception" not in context
    if cut or abandoned:
        return
    loop.default_exception_handler(context)


class Emulator:
    """A local Expo Push service, served on ``url`` over HTTP/1.1 and HTTP/2.

    The server runs on a thread of its own with its own event loop, so the same
    object serves sync tests, async tests and scripts alike::

        with Emulator() as emu:
            client = PushClient(base_url=emu.url)
            ...
            assert [d.message for d in emu.inbox(token)] == [{"to": token, "title": "Hi"}]

    In the clear it takes HTTP/1.1 and HTTP/2 with prior knowledge (h2c); with
    ``tls=True`` it serves ``https://`` (HTTP/2 or HTTP/1.1 by ALPN) with a
    certificate made at start by a throwaway CA, whose file is ``ca_file``
    (``ssl_context()`` gives a client context trusting it). Its inbox page is at ``url``.

    ``clock`` (a callable returning seconds) drives receipt delays, retention
    and the rate limit; ``advance(seconds)`` moves it forward without sleeping.
    ``registered_only=True`` answers every token not given to ``register`` with
    ``DeviceNotRegistered``. ``control_token`` guards the control routes (give
    one when binding beyond loopback). ``access_tokens`` and ``control_token``
    are never shown in reprs or messages. ``history`` is how many of the latest
    notifications are kept for ``inbox``, ``messages`` and the inbox page (older
    ones are forgotten; their receipts are still answered).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate_limit: float | None = 600,
        receipt_delay: float = 0.0,
        receipt_retention: float = 86400.0,
        latency: float = 0.0,
        access_tokens: Iterable[str] | None = None,
        default_project: str = "@test/app",
        registered_only: bool = False,
        max_body_bytes: int = 4 * 1024 * 1024,
        history: int = DEFAULT_HISTORY,
        tls: bool = False,
        control_token: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = Settings(
            rate_limit=None if rate_limit is None else float(rate_limit),
            receipt_delay=receipt_delay,
            receipt_retention=receipt_retention,
            latency=latency,
            access_tokens=None if access_tokens is None else frozenset(access_tokens),
            default_project=default_project,
            registered_only=registered_only,
            max_body_bytes=max_body_bytes,
            history=history,
        )
        self.host = host
        self.port = port
        self.tls = tls
        self._state = EmulatorState(settings, clock)
        self._plan = FaultPlan(self._state.changed)
        self._stalls = Stalls()
        self._control_token = control_token
        self._app = EmulatorApp(
            self._state, self._plan, self._stalls, control_token=control_token, loopback=is_loopback(host)
        )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._shutdown: asyncio.Event | None = None
        self._certificate: Certificate | None = None
        self._url: str | None = None

    def __repr__(self) -> str:
        where = self._url if self._url is not None else "not started"
        return f"<Emulator {where}>"

    # -- lifecycle ----------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to give clients (``EXPO_BASE_URL``), e.g. ``"http://127.0.0.1:8123"``."""
        if self._url is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return self._url

    @property
    def running(self) -> bool:
        """Whether the server is accepting requests."""
        return self._url is not None

    @property
    def ca_file(self) -> str | None:
        """Path of the PEM file of the CA that signed the TLS certificate (``tls=True``, while running)."""
        return self._certificate.ca_file if self._certificate is not None else None

    def ssl_context(self) -> ssl.SSLContext:
        """A client ``SSLContext`` trusting this emulator's certificate (``tls=True``, while running)."""
        if self._certificate is None:
            raise RuntimeError("the emulator serves TLS only when made with tls=True and started")
        return ssl.create_default_context(cafile=self._certificate.ca_file)

    def start(self) -> Emulator:
        """Start serving on a background thread; return once it accepts connections. Returns ``self``.

        Binding happens here, in the caller's thread: a port in use raises ``OSError`` at once.
        """
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        listener = socket.create_server(
            (self.host, self.port),
            family=socket.AF_INET6 if ":" in self.host else socket.AF_INET,
            backlog=1024,
        )
        try:
            bound = listener.getsockname()
            certificate = Certificate.make(self.host) if self.tls else None
        except BaseException:
            listener.close()
            raise
        self._certificate = certificate
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()
        app = self._app
        app.started.clear()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve(listener))
            except BaseException as exc:
                failure.append(exc)
            finally:
                app.started.set()
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="expo-push-emulator", daemon=True)
        self._thread.start()
        app.started.wait()
        if failure or not self._thread.is_alive():
            self._thread.join()
            self._thread = None
            self._loop = None
            self._drop_certificate()
            raise failure[0] if failure else RuntimeError("the emulator's server ended as it started")
        self.port = bound[1]
        host = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self._url = f"{'https' if self.tls else 'http'}://{host}:{self.port}"
        return self

    async def _serve(self, listener: socket.socket) -> None:
        self._shutdown = asyncio.Event()
        config = Config()
        config.bind = [f"fd://{listener.detach()}"]  # hypercorn owns the socket from here on, and closes it
        config.accesslog = None
        config.loglevel = "WARNING"
        config.graceful_timeout = 1.0
        config.backlog = 1024
        # hypercorn closes a connection after 1,000 requests by default (an HTTP/2 GOAWAY that fails the streams
        # in flight on it); the service keeps its connections, and a long send must not meet that here.
        config.keep_alive_max_requests = 2**31
        # and keeps an idle connection 5 s: a client reusing one just then sees it dropped under its request
        config.keep_alive_timeout = 75.0
        if self._certificate is not None:
            config.certfile = config.keyfile = self._certificate.server_file
        serving = asyncio.ensure_future(serve(self._app, config, shutdown_trigger=self._shutdown.wait))  # type: ignore[arg-type]
        stopping = asyncio.ensure_future(self._shutdown.wait())
        try:
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            asyncio.get_running_loop().set_exception_handler(_quiet_about_cut_connections)
            # hypercorn waits for every answer to be written, even to a client that never reads: past the grace
            # period the connections are closed under it, and past another its serving task is abandoned.
            for last_resort in (self._app.abort_connections, serving.cancel):
                if (await asyncio.wait({serving}, timeout=_STOP_GRACE))[0]:
                    break
                last_resort()
        finally:
            stopping.cancel()
        if serving.done() and not serving.cancelled():
            serving.result()

    def stop(self) -> None:
        """Stop serving (held stalls are dropped, inbox pages closed) and wait for the thread to end. Idempotent."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        self._stalls.release(proceed=False)

        def shut() -> None:
            if self._app.closing is not None:
                self._app.closing.set()
            if self._shutdown is not None:
                self._shutdown.set()

        with contextlib.suppress(RuntimeError):  # the loop already ended
            loop.call_soon_threadsafe(shut)
        thread.join()
        self._thread = None
        self._loop = None
        self._url = None
        self._drop_certificate()

    def _drop_certificate(self) -> None:
        if self._certificate is not None:
            self._certificate.remove()
            self._certificate = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Emulator:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- settings -----------------------------------------------------------

    @property
    def rate_limit(self) -> float | None:
        """Notifications per second per project; ``None``: no limit. Settable."""
        return self._state.settings.rate_limit

    @rate_limit.setter
    def rate_limit(self, value: float | None) -> None:
        self._state.configure(rate_limit=None if value is None else float(value))

    @property
    def latency(self) -> float:
        """Seconds added to every send and receipts request. Settable."""
        return self._state.settings.latency

    @latency.setter
    def latency(self, value: float) -> None:
        self._state.configure(latency=value)

    @property
    def receipt_delay(self) -> float:
        """Seconds after acceptance before a receipt is available. Settable."""
        return self._state.settings.receipt_delay

    @receipt_delay.setter
    def receipt_delay(self, value: float) -> None:
        self._state.configure(receipt_delay=value)

    @property
    def receipt_retention(self) -> float:
        """Seconds after acceptance after which a receipt is gone. Settable."""
        return self._state.settings.receipt_retention

    @receipt_retention.setter
    def receipt_retention(self, value: float) -> None:
        self._state.configure(receipt_retention=value)

    @property
    def registered_only(self) -> bool:
        """Whether only tokens given to ``register`` receive (others: ``DeviceNotRegistered`` tickets). Settable."""
        return self._state.settings.registered_only

    @registered_only.setter
    def registered_only(self, value: bool) -> None:
        self._state.configure(registered_only=value)

    @property
    def max_body_bytes(self) -> int:
        """The largest request body taken, as sent and once decompressed; larger ones get 413. Settable."""
        return self._state.settings.max_body_bytes

    @max_body_bytes.setter
    def max_body_bytes(self, value: int) -> None:
        self._state.configure(max_body_bytes=value)

    @property
    def history(self) -> int:
        """How many of the latest accepted notifications are kept (the oldest go first). Settable."""
        return self._state.settings.history

    @history.setter
    def history(self, value: int) -> None:
        self._state.configure(history=value)

    def clear_inbox(self) -> None:
        """Forget the notifications and requests kept, as the inbox page's Clear does.

        Scripted tokens, projects, settings, faults, counters and receipts stay; numbering goes on.
        """
        self._state.edit(History.clear_notifications)

    def set_access_tokens(self, tokens: Iterable[str] | None) -> None:
        """Require ``Authorization: Bearer <one of tokens>`` on every request (``None``: no requirement)."""
        self._state.configure(access_tokens=None if tokens is None else frozenset(tokens))

    def now(self) -> float:
        """The emulator's time in seconds: its clock plus every ``advance``."""
        return self._state.now()

    def advance(self, seconds: float) -> None:
        """Move the emulator's time forward: receipts become due or expire, rate buckets refill."""
        self._state.advance(seconds)

    # -- scripting ----------------------------------------------------------

    def script_token(
        self,
        token_or_tokens: str | Iterable[str],
        *,
        ticket_error: str | None = None,
        receipt_error: str | None = None,
        details: dict[str, Any] | None = None,
        receipt_lost: bool = False,
    ) -> None:
        """Script the outcome of every later notification to these tokens.

        ``ticket_error="DeviceNotRegistered"`` (or any code: ``"MessageTooBig"``...)
        refuses them at send time with an error ticket; ``receipt_error=`` any code
        (``"DeviceNotRegistered"``, ``"MessageTooBig"``, ``"MessageRateExceeded"``,
        ``"MismatchSenderId"``, ``"InvalidCredentials"``, or your own) accepts
        them and gives their receipt that error. ``details`` adds provider
        specifics to the error's ``details`` (e.g. ``{"apns": {"reason":
        "InvalidProviderToken"}}``). ``receipt_lost=True`` accepts them but their
        receipt never appears. None of these: back to normal.
        """
        self._state.script_token(
            _as_tokens(token_or_tokens), ticket_error, receipt_error, details=details, receipt_lost=receipt_lost
        )

    def register(self, token_or_tokens: str | Iterable[str], *, registered: bool = True) -> None:
        """Say these tokens belong to installed apps (``registered=False``: no longer); see ``registered_only``."""
        self._state.register(_as_tokens(token_or_tokens), registered)

    def set_project(self, token_or_tokens: str | Iterable[str], project: str) -> None:
        """Say which project (``"@owner/slug"``) these tokens belong to; others are in the default project."""
        self._state.set_project(_as_tokens(token_or_tokens), project)

    # -- faults -------------------------------------------------------------

    def add_fault(
        self,
        kind: FaultKind | Fault,
        *,
        count: int | None = 1,
        probability: float = 1.0,
        after: int = 0,
        seed: int = 0,
        target: FaultTarget = "send",
        status: int = 500,
        retry_after: float | None = None,
        html: bool = False,
        seconds: float | None = None,
        accept: bool = False,
        ticket_delta: int = -1,
    ) -> Fault:
        """Make upcoming requests fail; see ``Fault`` for the kinds and options. Returns the fault."""
        if isinstance(kind, Fault):
            return self._plan.add(kind)
        fault = Fault(
            kind,
            count=count,
            probability=probability,
            after=after,
            seed=seed,
            target=target,
            status=status,
            retry_after=retry_after,
            html=html,
            seconds=seconds,
            accept=accept,
            ticket_delta=ticket_delta,
        )
        return self._plan.add(fault)

    def clear_faults(self) -> None:
        """Remove every fault still waiting (held stalls stay held: see ``release_stalls``)."""
        self._plan.clear()

    @property
    def faults(self) -> list[Fault]:
        """The faults still waiting, in order."""
        return self._plan.pending()

    def release_stalls(self) -> int:
        """Let every request held by a stall fault go on normally; return how many were held."""
        return self._stalls.release(proceed=True)

    def wait_for_stalls(self, count: int = 1, timeout: float | None = 10.0) -> bool:
        """Block until ``count`` requests are held by stall faults; return ``False`` on timeout.

        From async code: ``await asyncio.to_thread(emu.wait_for_stalls)``.
        """
        return self._stalls.wait_held(count, timeout)

    # -- inspection ---------------------------------------------------------

    def wait_idle(self, timeout: float | None = 10.0) -> bool:
        """Block until no send or receipts request is being handled; return ``False`` on timeout.

        Useful after a client gave up on a request the emulator is still handling.
        """
        return self._state.wait_idle(timeout)

    def inbox(self, token: str) -> list[Delivery]:
        """What ``token`` received, oldest first: each kept notification (see ``history``) with its ticket id."""
        return self._state.inbox(token)

    def messages(self, token: str) -> list[dict[str, Any]]:
        """The messages ``token`` received, oldest first, as sent with ``to`` narrowed to ``token``."""
        return [delivery.message for delivery in self._state.inbox(token)]

    def request(self, number: int) -> dict[str, Any] | None:
        """Push request ``number`` (send or receipts, from 1 since the last reset, refused ones too) and its answer.

        A dict with ``kind`` (``"send"`` or ``"receipts"``), ``httpVersion`` (``"1.1"`` or ``"2"``),
        ``headers`` (user-agent, content-type, content-encoding, accept-encoding), ``bytes`` (the
        body's size as sent), ``body`` (decoded), ``status`` (``None``: no answer), ``errorCode``,
        ``answer`` (decoded), ``fault``, ``accessToken`` (whether one was sent, never which) and
        ``notifications`` (the first and last ``seq`` it brought); ``None`` once it is no longer
        among the latest 1000 kept.
        """
        exchange = self._state.request(number)
        return exchange_view(exchange) if exchange is not None else None

    def tokens(self) -> list[str]:
        """Every token that received something, in order of first notification."""
        return self._state.tokens()

    @property
    def stats(self) -> Stats:
        """A snapshot of the counters since the last reset."""
        return self._state.stats()

    def reset(self) -> None:
        """Forget everything: inboxes, receipts, counters, scripts, projects, faults, settings changes, time.

        Requests held by a stall are dropped without accepting anything.
        """
        self._app.reset()
