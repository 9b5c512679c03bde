"""What the two clients share: configuration, pacing, the choice of transport, and its failures for the core.

``PushClient`` (``_client``) and ``AsyncPushClient`` (``_async_client``)
carry out the flows of the sans-I/O core over a transport (``_transport``)
and differ only where I/O differs: how they wait, and how they run requests
side by side.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import sys
import time
from collections.abc import Generator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from ._batch import SendBatch
from ._chunks import Chunk
from ._errors import shown_text
from ._flows import Action, ChunkFailed, FlowContext, Hold, NotStarted, Pace, Post, Refund, Result, Sleep
from ._message import PushMessage
from ._models import PushTicket
from ._observer import NO_METRICS, SendObserver, endpoint_of, retry_reason
from ._pacing import Pacer, PacerProtocol
from ._retry import RetryPolicy
from ._service import MAX_RESPONSE_BYTES, RATE_LIMIT
from ._transport import (
    DEFAULT_TIMEOUT,
    AnswerTooLarge,
    AsyncTransport,
    AttemptTimedOut,
    Timeout,
    Transport,
    TransportError,
    as_timeout,
)
from ._version import __version__
from ._wire import HttpResponse, TransportFailure

if TYPE_CHECKING:
    import ssl

    import httpx
    from typing_extensions import Self

__all__ = [
    "AnswerTooLarge",
    "AttemptTimedOut",
    "BaseClient",
    "DEFAULT_ATTEMPT_TIMEOUT",
    "DEFAULT_BASE_URL",
    "DEFAULT_INTERRUPT_GRACE",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "Messages",
    "abandon",
    "shared_ssl_context",
]

DEFAULT_BASE_URL = "https://exp.host"
DEFAULT_ATTEMPT_TIMEOUT = 40.0
"""Seconds one attempt may take in all, from connecting to the last byte of the answer."""
DEFAULT_MAX_RETRIES = 5
"""Retries per request. With the default backoff (0.5 s doubling to 8 s) a request gives up after ~15 s of waiting."""
DEFAULT_INTERRUPT_GRACE = 2.0
"""Seconds the requests in flight get to come back when a send is cancelled or interrupted."""

logger = logging.getLogger("expo_push")

Messages = PushMessage | Mapping[str, Any] | Iterable[PushMessage | Mapping[str, Any]]
"""One message (a ``PushMessage`` or a camelCase dict), or any iterable of them, generators included."""

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


@functools.cache
def shared_ssl_context(alpn: tuple[str, ...] = ()) -> ssl.SSLContext:
    """One TLS context for every connection expo-push makes, trusting what httpx trusts by default.

    ``$SSL_CERT_FILE`` or ``$SSL_CERT_DIR`` where set, else certifi's CA bundle.
    Loading it costs ~45 ms and a client without it ~0.3 ms, so code that makes
    a client per notification (a web request handler, say) stays cheap. It is
    loaded only for an ``https://`` base URL. ``alpn``: the protocols it offers
    (h11's connections offer ``http/1.1`` alone; httpx sets its own).
    """
    import ssl

    if os.environ.get("SSL_CERT_FILE"):
        context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    elif os.environ.get("SSL_CERT_DIR"):
        context = ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    else:
        import certifi

        context = ssl.create_default_context(cafile=certifi.where())
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


@functools.cache
def _trusting(ca_file: str, alpn: tuple[str, ...]) -> ssl.SSLContext:
    """A TLS context that trusts the certificates of the PEM file ``ca_file`` (an emulator's CA, a proxy's)."""
    import ssl

    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"verify: cannot read the CA file {ca_file!r}: {exc}") from None
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


def _proxied() -> bool:
    """Whether the environment names a proxy (httpx's transport then goes through it, as before).

    On macOS and Windows the system's proxy settings count too, as httpx reads them (``getproxies`` falls back
    to the System Configuration or the registry); elsewhere the variables are all there is, and ``urllib.request``
    stays out of a cold start.
    """
    if any(os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES):
        return True
    if sys.platform in ("darwin", "win32"):
        import urllib.request

        return any(urllib.request.getproxies().get(scheme) for scheme in ("http", "https", "all"))
    return False


@functools.cache
def _h2_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("h2") is not None


def abandon(flow: Generator[Action, Result, Any], action: Action) -> NoReturn:
    """Give up a flow before carrying out ``action``; a ``Post`` is told it never went out."""
    if isinstance(action, Post):
        flow.throw(NotStarted())
    raise NotStarted


TransportT = TypeVar("TransportT", Transport, AsyncTransport)
HttpClient = TypeVar("HttpClient", "httpx.Client", "httpx.AsyncClient")


class BaseClient(Generic[TransportT, HttpClient]):
    """Configuration and everything the two clients share but the I/O itself.

    The one constructor of both clients: each says only how it makes its
    transport (``_new_transport``, ``_over_httpx``) and what it keeps for its
    I/O (``_init_io``).
    """

    def __init__(
        self,
        access_token: str | None = None,
        *,
        base_url: str | None = None,
        max_concurrency: int = 6,
        rate_limit: float | None = RATE_LIMIT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float | Timeout | httpx.Timeout | None = DEFAULT_TIMEOUT,
        attempt_timeout: float = DEFAULT_ATTEMPT_TIMEOUT,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        interrupt_grace: float = DEFAULT_INTERRUPT_GRACE,
        split_projects: bool = True,
        http2: bool = True,
        retry_policy: RetryPolicy | None = None,
        pacer: PacerProtocol | None = None,
        project: str | None = None,
        metrics: SendObserver | None = None,
        strict_fields: bool = False,
        verify: ssl.SSLContext | str | None = None,
        http_client: HttpClient | None = None,
        transport: TransportT | None = None,
    ) -> None:
        if verify is True:  # httpx's spelling of the default
            verify = None
        self._options: dict[str, Any] = {
            "access_token": access_token,
            "base_url": base_url,
            "max_concurrency": max_concurrency,
            "rate_limit": rate_limit,
            "max_retries": max_retries,
            "timeout": timeout,
            "attempt_timeout": attempt_timeout,
            "max_response_bytes": max_response_bytes,
            "interrupt_grace": interrupt_grace,
            "split_projects": split_projects,
            "http2": http2,
            "retry_policy": retry_policy,
            "pacer": pacer,
            "project": project,
            "metrics": metrics,
            "strict_fields": strict_fields,
            "verify": verify,
        }
        if verify is not None and not isinstance(verify, str):
            import ssl  # only here: whoever passes a context has imported it already

            if not isinstance(verify, ssl.SSLContext):  # verify=False must not turn certificate checks off
                raise TypeError(
                    f"verify must be a CA file's path or an ssl.SSLContext (None or True: the default CAs), "
                    f"not {verify!r}; certificate checks cannot be turned off"
                )
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ValueError(f"max_concurrency must be a positive integer, not {max_concurrency!r}")
        for name, seconds in (("attempt_timeout", attempt_timeout), ("interrupt_grace", interrupt_grace)):
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
                raise ValueError(f"{name} must be a finite number of seconds, not {seconds!r}")
            if seconds < 0 or (name == "attempt_timeout" and seconds == 0):
                raise ValueError(f"{name} must be {'positive' if name == 'attempt_timeout' else '0 or more'}")
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int) or max_response_bytes < 1:
            raise ValueError(f"max_response_bytes must be a positive integer, not {max_response_bytes!r}")
        if access_token == "":
            access_token = None  # an empty token means no token, as in the older SDK (EXPO_TOKEN set but empty)
        if access_token is not None and (
            not isinstance(access_token, str)
            or not access_token.isascii()
            or not all(c.isprintable() and not c.isspace() for c in access_token)
        ):
            # Never echo the value: it is a secret.
            raise ValueError(
                "access_token must be a string of printable ASCII without spaces or line breaks "
                "(a token read from a file often ends with a newline: strip it)"
            )
        self.base_url = (base_url or os.environ.get("EXPO_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.max_concurrency = max_concurrency
        self.rate_limit = rate_limit
        self.timeout = as_timeout(timeout)
        self.attempt_timeout = float(attempt_timeout)
        self.max_response_bytes = max_response_bytes
        self.interrupt_grace = float(interrupt_grace)
        self.split_projects = split_projects
        self.project = project
        self.strict_fields = strict_fields
        self._http2 = http2
        self._pacer: PacerProtocol = pacer if pacer is not None else Pacer(rate_limit)
        self._metrics: SendObserver = metrics if metrics is not None else NO_METRICS
        self._secret = access_token
        retry = retry_policy if retry_policy is not None else RetryPolicy(max_retries=max_retries)
        self._context = FlowContext(retry, split_projects=split_projects, project=project, redact=self._redact)
        self._window = 2 * max_concurrency  # chunks submitted ahead, so a slow one does not idle the others
        self._headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": f"expo-push-python/{__version__}",
        }
        if access_token is not None:
            self._headers["Authorization"] = f"Bearer {access_token}"
        self._closed = False
        if http_client is not None and transport is not None:
            raise TypeError("give http_client or transport, not both")
        self._owns_transport = http_client is None and transport is None
        if transport is None:
            transport = self._over_httpx(http_client) if http_client is not None else self._new_transport()
        self._transport: TransportT = transport
        self._init_io()

    def _new_transport(self) -> TransportT:
        """The transport this client makes when none is handed in."""
        raise NotImplementedError

    def _over_httpx(self, http: HttpClient | None) -> TransportT:
        """A transport over the httpx client ``http``, or over one made here (``None``), for HTTP/2 or a proxy."""
        raise NotImplementedError

    def _needs_httpx(self) -> bool:
        """Whether this client's own transport must be httpx's: HTTP/2 (the ``http2`` extra) or a proxy."""
        return self._use_http2() or _proxied()

    def _init_io(self) -> None:
        """Set up what the client keeps for its I/O (thread pool, semaphore, ...)."""
        raise NotImplementedError

    def _httpx_options(self) -> dict[str, Any]:
        """What an httpx client made by expo-push is configured with."""
        from ._httpx_transport import httpx_options

        return httpx_options(self.timeout, self._ssl_verify() or False, self._use_http2(), self.max_concurrency)

    def with_options(self, **changes: Any) -> Self:
        """A copy of this client with some options changed, e.g. ``client.with_options(max_retries=0)``.

        The copy shares this client's connection pool and its pacing (one rate
        budget for both), so it is cheap to make per call; closing it leaves
        this client's connections open. ``http_client`` cannot be changed, and
        a copy for another base URL gets a connection pool of its own.
        """
        if "http_client" in changes or "transport" in changes:
            raise TypeError("with_options cannot change http_client or transport; make a new client instead")
        unknown = set(changes) - set(self._options)
        if unknown:
            raise TypeError(f"unknown options {sorted(unknown)}; allowed: {', '.join(self._options)}")
        policy = self._options["retry_policy"]
        if "max_retries" in changes and "retry_policy" not in changes and policy is not None:
            changes["retry_policy"] = dataclasses.replace(policy, max_retries=changes["max_retries"])
        options = {**self._options, **changes}
        if changes.get("rate_limit", self.rate_limit) == self.rate_limit and "pacer" not in changes:
            options["pacer"] = self._pacer
        same_service = (options["base_url"] or self.base_url).rstrip("/") == self.base_url
        if same_service:
            options["transport"] = self._transport
        return type(self)(**options)

    @property
    def max_retries(self) -> int:
        """Retries per request after the first attempt."""
        return self._context.retry.max_retries

    @property
    def max_request_seconds(self) -> float:
        """The longest one request can take with all its attempts and the waits between them (not pacing).

        A lease on work that one request carries out (the ledger's outbox) must be longer than this.
        """
        retry = self._context.retry
        longest_wait = max(retry.max_delay, retry.max_retry_after)
        return (retry.max_retries + 1) * self.attempt_timeout + retry.max_retries * longest_wait

    def __repr__(self) -> str:
        token = ", access_token=<set>" if self._secret is not None else ""
        project = f", project={self.project!r}" if self.project is not None else ""
        return (
            f"expo_push.{type(self).__name__}(base_url={self.base_url!r}{token}{project}, "
            f"max_concurrency={self.max_concurrency}, rate_limit={self.rate_limit!r}, max_retries={self.max_retries})"
        )

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"this {type(self).__name__} is closed; make a new one")

    def _ssl_verify(self, alpn: tuple[str, ...] = ()) -> ssl.SSLContext | None:
        """The TLS context for the service, offering ``alpn`` (a context handed in is used as it is); ``None``
        for an ``http://`` service."""
        verify = self._options["verify"]
        if isinstance(verify, str):
            return _trusting(verify, alpn)
        if verify is not None:
            return verify  # type: ignore[no-any-return]
        # The CA bundle is loaded only when the service is reached over TLS: a cold start against an
        # http:// service (the emulator, a test) does not pay for it. (httpx loads it for verify=True; every
        # request goes to base_url, so with an http:// one no TLS is ever spoken and there is nothing to verify.)
        return shared_ssl_context(alpn) if self.base_url.startswith("https:") else None

    def _use_http2(self) -> bool:
        # HTTP/2 is negotiated in the TLS handshake: an http:// service is spoken to in HTTP/1.1 whatever the
        # setting, and without h2 installed (the http2 extra) so is an https:// one, over h11.
        return self._http2 and self.base_url.startswith("https:") and _h2_installed()

    def _request_headers(self, post: Post) -> dict[str, str]:
        return {**self._headers, **post.headers}

    def _redact(self, text: str) -> str:
        """``text`` without the access token (the service may echo it back in an error message)."""
        if self._secret is not None and self._secret in text:
            return text.replace(self._secret, "<access token>")
        return text

    def _transport_failure(self, exc: TransportError, url: str) -> TransportFailure:
        """What a failure to get an answer means for the flow; its text names the URL, never the access token."""
        if isinstance(exc, AnswerTooLarge):
            return TransportFailure(
                f"the answer from {url} is larger than max_response_bytes={self.max_response_bytes}",
                retryable=False,
                malformed=True,
            )
        if isinstance(exc, AttemptTimedOut):
            return TransportFailure(
                f"no whole answer from {url} within attempt_timeout={self.attempt_timeout:g} s",
                maybe_delivered=exc.sent,
            )
        return TransportFailure(
            self._redact(f"{exc} ({url})"), retryable=exc.retryable, maybe_delivered=exc.sent, malformed=exc.malformed
        )

    def _deadline(self) -> float:
        return time.monotonic() + self.attempt_timeout

    def _delay_for(self, action: Action) -> float:
        """Do the pacer's bookkeeping for ``action``; return how long to wait before going on.

        For a ``Post`` it is the rest of a hold, checked just before sending, so
        that a request booked before a 429 arrived waits for the hold too.
        """
        pacer = self._pacer
        if isinstance(action, Post):
            return pacer.held_for(action.project)
        if isinstance(action, Pace):
            wait = pacer.reserve(action.notifications, action.project)
            if action.notifications:
                self._metrics.pacer_wait(wait)
            return wait
        if isinstance(action, Refund):
            pacer.refund(action.notifications, action.project)
            return 0.0
        if isinstance(action, Hold):
            pacer.hold(action.seconds, action.project)
            return 0.0
        return action.seconds

    # -- what the metrics observer is told (``metrics=``, see expo_push.metrics) ---------------------

    def _observe_attempt(self, action: Post, result: HttpResponse | TransportFailure, started: float) -> None:
        """Report one attempt: its endpoint, status (None: no answer) and seconds since ``started``."""
        status = result.status_code if isinstance(result, HttpResponse) else None
        self._metrics.request(endpoint_of(action.path), status, time.monotonic() - started)

    def _observe_step(self, action: Action, previous: Result) -> None:
        """Report a retry: the flow backs off (``Sleep``) or holds (``Hold``) after the attempt ``previous``."""
        if isinstance(action, (Sleep, Hold)):
            status = previous.status_code if isinstance(previous, HttpResponse) else None
            why = f"HTTP {status}" if status is not None else getattr(previous, "description", "no answer")
            logger.info("expo-push: retrying a request in %.2f s (%s)", action.seconds, shown_text(why))
            self._metrics.retry(retry_reason(status))

    def _chunk_raised(self, chunk: Chunk, batch: SendBatch, exc: Exception) -> None:
        """A chunk's flow raised: unless the chunk never went out, no further chunk of the send starts."""
        if not isinstance(exc, NotStarted):
            self._observe_chunk(chunk.tickets, chunk.count, exc)
            batch.chunk_failed()

    def _observe_chunk(self, answered: list[PushTicket], count: int, failure: Exception | None = None) -> None:
        """Report a chunk's tickets, and its notifications not accepted when it failed."""
        self._metrics.tickets(answered)
        if failure is not None:
            error = failure.error if isinstance(failure, ChunkFailed) else failure
            code = getattr(error, "code", None)
            self._metrics.failed(count - len(answered), code or type(error).__name__)
