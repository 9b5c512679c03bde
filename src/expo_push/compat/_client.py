"""``PushClient`` and ``AsyncPushClient`` with the older SDKs' methods, carried out by expo-push's clients.

Every send goes through ``expo_push.PushClient.send`` (or the async one):
chunked by recipients, paced, retried, over HTTP/2. What is left here is
translation: older messages to payloads, tickets and receipts back to the
older namedtuples, and expo-push errors to the older exceptions.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

import expo_push
from expo_push._client import DEFAULT_TIMEOUT, shared_ssl_context

from ._errors import PushServerError, translate_server_error
from ._models import PushMessage, PushReceipt, PushTicket

__all__ = ["AsyncPushClient", "PushClient", "receipts_from_response"]

_CLIENT_OPTIONS = ("access_token", "max_concurrency", "rate_limit", "max_retries", "split_projects", "http2")
"""Options of expo-push's clients that the compat clients pass on from their keyword arguments."""

_LEGACY_SESSION_HEADERS = {
    "accept": "application/json",
    "accept-encoding": "gzip, deflate",
    "content-type": "application/json",
}
_UNCOPIED_HEADERS = frozenset(
    {
        # set per request by the client, from the body it sends
        "content-type",
        "content-encoding",
        "content-length",
        "accept-encoding",
        # connection-level headers, which HTTP/2 forbids
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
        "te",
        "host",
    }
)


class _DefaultSession:
    """What ``PushClient.session`` is when no session was given: headers only, like the older SDK's default session.

    Headers added to it later (``client.session.headers.update(...)``) are sent with every later request.
    """

    def __init__(self) -> None:
        self.headers = httpx.Headers(_LEGACY_SESSION_HEADERS)


def _timeout(value: Any) -> httpx.Timeout:
    """An httpx timeout from the older SDK's ``timeout`` (seconds, ``(connect, read)`` or ``None``)."""
    if value is None:
        return httpx.Timeout(**DEFAULT_TIMEOUT._asdict())
    if isinstance(value, httpx.Timeout):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        connect, read = value
        return httpx.Timeout(read, connect=connect)
    return httpx.Timeout(value)


class _Route:
    """Where requests go: ``host`` + ``api_url`` (+ ``?useFcmV1=`` on sends), mapped onto expo-push's fixed paths."""

    def __init__(self, host: str, api_url: str, force_fcm_v1: bool | None) -> None:
        host = host.rstrip("/")
        default = _CompatClient.DEFAULT_BASE_API_URL
        self.rewrite: tuple[str, str] | None = None
        if api_url.rstrip("/").endswith(default):
            self.base_url = host + api_url.rstrip("/")[: -len(default)]
        else:
            self.base_url = host
            self.rewrite = (host + default, host + api_url.rstrip("/"))
        self.fcm_v1 = None if force_fcm_v1 is None else ("true" if force_fcm_v1 else "false")

    @property
    def needs_hook(self) -> bool:
        """Whether requests must be changed on their way out (a custom ``api_url`` or ``force_fcm_v1``)."""
        return self.rewrite is not None or self.fcm_v1 is not None

    def apply(self, request: httpx.Request) -> None:
        """Point an expo-push request at the configured route."""
        url = str(request.url)
        if self.rewrite is not None and url.startswith(self.rewrite[0]):
            url = self.rewrite[1] + url[len(self.rewrite[0]) :]
        new_url = httpx.URL(url)
        if self.fcm_v1 is not None and new_url.path.endswith("/push/send"):
            new_url = new_url.copy_add_param("useFcmV1", self.fcm_v1)
        request.url = new_url


def _session_headers_hook(session: Any) -> Callable[[httpx.Request], None]:
    """A request hook that copies the session's current headers (Authorization, ...) onto each request."""
    try:
        ref: Callable[[], Any] = weakref.ref(session)
    except TypeError:
        ref = lambda: session  # noqa: E731  (not weak-referenceable: held for the client's life)

    def copy_headers(request: httpx.Request) -> None:
        headers = getattr(ref(), "headers", None)
        if not isinstance(headers, Mapping):
            return
        for name, value in headers.items():
            lower = str(name).lower()
            if lower in _UNCOPIED_HEADERS or value is None:
                continue
            if lower == "authorization" and _blank_bearer(value):
                continue  # "Bearer " from an unset $EXPO_TOKEN: no token, as the older SDK sent it
            if lower == "user-agent" and str(value).startswith("python-requests/"):
                continue  # requests' default; expo-push's own names the SDK that sends
            request.headers[name] = value

    return copy_headers


def _blank_bearer(value: object) -> bool:
    """Whether an Authorization value carries no token: empty, blank, or ``Bearer`` followed by nothing."""
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    words = text.split()
    return not words or (len(words) == 1 and words[0].lower() == "bearer")


def _recipients(to: object) -> list[Any]:
    return list(to) if isinstance(to, (list, tuple)) else [to]


class _Batch:
    """The messages of one ``publish_multiple``: their payloads, and which message each recipient came from."""

    def __init__(self, messages: Iterable[PushMessage]) -> None:
        self.messages = list(messages)
        self.payloads = []
        for index, message in enumerate(self.messages):
            try:
                self.payloads.append(message.get_payload())
            except expo_push.ValidationError as exc:
                raise expo_push.ValidationError(exc.reason, field=exc.field, index=index) from None
        # The message each recipient came from, by its position (message index, index in its ``to``).
        self.owners: dict[tuple[int, int], Any] = {}
        for index, (message, payload) in enumerate(zip(self.messages, self.payloads, strict=True)):
            listed = isinstance(payload.get("to"), (list, tuple))
            for recipient, token in enumerate(_recipients(payload.get("to"))):
                narrowed = message._replace(to=token) if listed and hasattr(message, "_replace") else message
                self.owners[index, recipient] = narrowed

    def _owner(self, ticket: expo_push.PushTicket) -> Any:
        return self.owners.get(ticket.position) if ticket.position is not None else None

    def tickets(self, tickets: Sequence[expo_push.PushTicket]) -> list[PushTicket]:
        """The compat tickets of a send that went through: one per recipient, in order."""
        return [_ticket(t, self._owner(t)) for t in tickets]

    def failure(self, exc: expo_push.PushServerError) -> PushServerError:
        """The compat error of a failed send, with a compat ticket for each recipient that was accepted."""
        error = translate_server_error(exc)
        error.push_tickets.extend(_ticket(t, self._owner(t)) for t in exc.tickets)
        return error


def _ticket(ticket: expo_push.PushTicket, message: Any) -> PushTicket:
    return PushTicket(
        push_message=message,
        status=ticket.status or PushTicket.ERROR_STATUS,
        message=ticket.message or "",
        details=ticket.details,
        id=ticket.id or "",
    )


def _receipt_ids(push_tickets: Iterable[Any]) -> list[str]:
    """Receipt ids of tickets (or of ids given as strings), without repeats; error tickets have none."""
    ids = (t if isinstance(t, str) else getattr(t, "id", None) for t in push_tickets)
    return list(dict.fromkeys(i for i in ids if isinstance(i, str) and i))


def _receipts(found: Mapping[str, expo_push.PushReceipt], ids: Sequence[str]) -> list[PushReceipt]:
    return [
        PushReceipt(
            id=i,
            status=found[i].status or PushReceipt.ERROR_STATUS,
            message=found[i].message or "",
            details=found[i].details,
        )
        for i in ids
        if i in found
    ]


def receipts_from_response(response: Any) -> list[PushReceipt]:
    """Read a receipts answer the way the older SDK did; ``response`` has ``json()`` (and maybe ``raise_for_status()``).

    A body that is not JSON raises the response's own HTTP error if it has one,
    else ``PushServerError("Invalid server response")``; an ``errors`` body
    raises ``PushServerError("Request failed")``; a body without ``data``
    raises ``PushServerError("Invalid server response")``.
    """
    raise_for_status = getattr(response, "raise_for_status", None)
    try:
        body = response.json()
    except ValueError:
        if callable(raise_for_status):
            raise_for_status()
        raise PushServerError("Invalid server response", response) from None
    if not isinstance(body, dict):
        raise PushServerError("Invalid server response", response)
    if "errors" in body:
        raise PushServerError("Request failed", response, response_data=body, errors=body["errors"])
    if not isinstance(body.get("data"), dict):
        raise PushServerError("Invalid server response", response, response_data=body)
    if callable(raise_for_status):
        raise_for_status()
    return [
        PushReceipt(
            id=receipt_id,
            status=value.get("status", PushReceipt.ERROR_STATUS),
            message=value.get("message", ""),
            details=value.get("details"),
        )
        for receipt_id, value in body["data"].items()
    ]


def _check_single(push_message: PushMessage) -> None:
    if isinstance(push_message.to, list) and len(push_message.to) > 1:
        raise ValueError(
            "publish() sends to one recipient and returns one ticket; use publish_multiple() for a list 'to'"
        )


class _CompatClient:
    """The configuration both older clients share."""

    DEFAULT_HOST = "https://exp.host"
    DEFAULT_BASE_API_URL = "/--/api/v2"
    DEFAULT_MAX_MESSAGE_COUNT = 100
    DEFAULT_MAX_RECEIPT_COUNT = 1000

    def __init__(
        self, host: str | None, api_url: str | None, force_fcm_v1: bool | None, kwargs: dict[str, Any]
    ) -> None:
        self.host: str = host or os.environ.get("EXPO_BASE_URL") or self.DEFAULT_HOST
        self.api_url: str = api_url or self.DEFAULT_BASE_API_URL
        self.force_fcm_v1 = force_fcm_v1
        self.max_message_count: int = kwargs.get("max_message_count", self.DEFAULT_MAX_MESSAGE_COUNT)
        self.max_receipt_count: int = kwargs.get("max_receipt_count", self.DEFAULT_MAX_RECEIPT_COUNT)
        self.timeout: Any = kwargs.get("timeout")
        self._options = {name: kwargs[name] for name in _CLIENT_OPTIONS if name in kwargs}
        if isinstance(self._options.get("access_token"), str) and not self._options["access_token"].strip():
            del self._options["access_token"]  # an empty token means "no token", as in the older SDK

    @classmethod
    def is_exponent_push_token(cls, token: object) -> bool:
        """Whether ``token`` is an Expo push token, or a non-empty list of them.

        Accepts ``ExponentPushToken[...]``, ``ExpoPushToken[...]`` and bare
        UUIDs, as the service does; the older SDK accepted any string starting
        with ``ExponentPushToken`` and refused the others.
        """
        if isinstance(token, list):
            return bool(token) and all(expo_push.is_expo_push_token(t) for t in token)
        return expo_push.is_expo_push_token(token)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(host={self.host!r}, api_url={self.api_url!r})"


class _Shared:
    """One expo-push client and the httpx client under it, with the PushClients using them."""

    def __init__(self, client: expo_push.PushClient, http: httpx.Client) -> None:
        self.client = client
        self.http = http
        self.users: weakref.WeakSet[PushClient] = weakref.WeakSet()
        """PushClients that used it and were not closed since (one garbage-collected stops counting)."""

    def close(self) -> None:
        self.client.close()
        self.http.close()


_SHARED: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], _Shared]] = weakref.WeakKeyDictionary()
"""expo-push clients by session, then by configuration: PushClients made with one session share connections."""
_SHARED_LOCK = threading.Lock()


class PushClient(_CompatClient):
    """The ``exponent_server_sdk.PushClient`` API, sending through ``expo_push.PushClient``.

    ``host`` (default ``$EXPO_BASE_URL``, else ``https://exp.host``),
    ``api_url``, ``session``, ``force_fcm_v1`` and the keyword arguments
    ``max_message_count``, ``max_receipt_count`` and ``timeout`` are kept as
    attributes. ``session`` is anything with ``headers`` (a
    ``requests.Session``, as in the older quickstart): its headers, such as
    ``Authorization: Bearer <access token>``, are read at every request,
    receipts included; its other settings (proxies, certificates, mounted
    adapters) are not used. Without one, ``session`` is a stand-in with the
    older default headers. PushClients given the same session share one
    connection pool, closed when the last of them is closed. The keyword arguments ``access_token``,
    ``max_concurrency``, ``rate_limit``, ``max_retries``, ``split_projects``
    and ``http2`` are passed on to ``expo_push.PushClient``; others are
    ignored, as before.

    Where this differs from the older SDK, on purpose:

    - requests hold at most 100 *recipients* (a message with a list ``to``
      counts once per token), go out side by side, paced to the service's
      rate limit, over HTTP/2, and are retried on connection errors,
      timeouts, 429 and 5xx; ``max_message_count`` does not change that;
    - a message with a list ``to`` gets one ticket per recipient, whose
      ``push_message`` is the message addressed to that recipient;
    - ``check_receipts`` uses the session's headers like every other request
      (the older one sent its own, without the access token), and cuts ids
      into requests of 1000;
    - ``ExpoPushToken[...]`` tokens are accepted; tokens and fields are
      checked before anything is sent (``ValueError``);
    - ``timeout=None`` means expo-push's default timeouts, not waiting forever.
    """

    def __init__(
        self,
        host: str | None = None,
        api_url: str | None = None,
        session: Any = None,
        force_fcm_v1: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(host, api_url, force_fcm_v1, kwargs)
        self.session: Any = session if session is not None else _DefaultSession()
        self._own: dict[tuple[Any, ...], _Shared] = {}
        self._used: list[tuple[dict[tuple[Any, ...], _Shared], tuple[Any, ...], _Shared]] = []
        """Every pool this client joined since it was last closed: where it is registered, its key, itself."""

    def publish(self, push_message: PushMessage) -> PushTicket:
        """Send one message to one recipient; return its ticket.

        ``ValueError`` for a list ``to`` of more than one token (use
        ``publish_multiple``). Raises ``PushServerError`` when the request
        fails for good; the ticket itself is checked with ``validate_response()``.
        """
        _check_single(push_message)
        return self.publish_multiple([push_message])[0]

    def publish_multiple(self, push_messages: Iterable[PushMessage]) -> list[PushTicket]:
        """Send messages; return one ticket per recipient, in order.

        If a request fails for good, ``PushServerError`` is raised once the
        others have finished, with ``push_tickets`` (accepted recipients) and
        ``unsent`` (the rest), so nothing accepted is lost.
        """
        batch = _Batch(push_messages)
        try:
            tickets = self._shared().client.send(batch.payloads)
        except expo_push.PushServerError as exc:
            raise batch.failure(exc) from None
        return batch.tickets(tickets)

    def check_receipts(self, push_tickets: Iterable[Any]) -> list[PushReceipt]:
        """Fetch the receipts of tickets (or of ticket ids); those not ready yet are absent.

        Receipts come in the order of the tickets. Error tickets, which have no
        id, are skipped. Uses the session's headers (the older SDK did not).
        """
        ids = _receipt_ids(push_tickets)
        if not ids:
            return []
        try:
            found = self._shared().client.get_receipts(ids)
        except expo_push.PushServerError as exc:
            raise translate_server_error(exc) from None
        return _receipts(found, ids)

    def check_receipts_multiple(self, push_tickets: Iterable[Any]) -> list[PushReceipt]:
        """The same as ``check_receipts``: both cut ids into requests of 1000."""
        return self.check_receipts(push_tickets)

    def validate_and_get_receipts(self, response: Any) -> list[PushReceipt]:
        """Read a receipts answer (a ``requests``/``httpx`` response) into receipts, raising as the older SDK did."""
        return receipts_from_response(response)

    def close(self) -> None:
        """Let go of this client's connections (new ones open if it is used again).

        PushClients made with the same session share a pool: it is closed when
        the last of them that used it is closed (or garbage-collected).
        """
        closing: list[_Shared] = []
        with _SHARED_LOCK:
            used, self._used = self._used, []
            for clients, key, entry in used:
                entry.users.discard(self)
                if entry.users:
                    continue
                if clients.get(key) is entry:
                    del clients[key]
                closing.append(entry)
        for entry in closing:
            entry.close()

    def __enter__(self) -> PushClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _shared(self) -> _Shared:
        """The expo-push client for the current session and settings, made on first use."""
        session = self.session
        key = (self.host, self.api_url, self.force_fcm_v1, repr(self.timeout), tuple(sorted(self._options.items())))
        with _SHARED_LOCK:
            try:
                clients = _SHARED.setdefault(session, {})
            except TypeError:  # a session that cannot be weakly referenced or hashed: this client's own
                clients = self._own
            entry = clients.get(key)
            if entry is None:
                entry = clients[key] = self._connect(session)
            if self not in entry.users:
                entry.users.add(self)
                self._used.append((clients, key, entry))
            return entry

    def _connect(self, session: Any) -> _Shared:
        route = _Route(self.host, self.api_url, self.force_fcm_v1)
        hooks: list[Callable[[httpx.Request], None]] = [_session_headers_hook(session)]
        if route.needs_hook:
            hooks.append(route.apply)
        timeout = _timeout(self.timeout)
        concurrency = self._options.get("max_concurrency", 6)
        http = httpx.Client(
            verify=shared_ssl_context(),
            http2=self._options.get("http2", True),
            timeout=timeout,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            event_hooks={"request": hooks},
        )
        try:
            client = expo_push.PushClient(base_url=route.base_url, timeout=timeout, http_client=http, **self._options)
        except BaseException:
            http.close()
            raise
        return _Shared(client, http)


class AsyncPushClient(_CompatClient):
    """The async client of async-expo-push-notifications, sending through ``expo_push.AsyncPushClient``.

    ``http_client`` is an ``httpx.AsyncClient`` of yours (its headers, such as
    ``Authorization``, and its transport are used; you close it) or, by
    default, one made on first use and closed by ``async with`` or
    ``aclose()``. ``max_concurrent_requests`` bounds the requests in flight.
    ``max_message_count``, ``max_receipt_count``, ``timeout`` and the
    expo-push options (as for ``PushClient``) come as keyword arguments.
    With your own ``http_client``, ``api_url`` must end with ``/--/api/v2``
    and ``force_fcm_v1`` is not sent. The differences from the older client
    are those listed on ``PushClient``; in addition, a failed request no
    longer loses the tickets of the others sent alongside it.
    """

    def __init__(
        self,
        host: str | None = None,
        api_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        force_fcm_v1: bool | None = None,
        max_concurrent_requests: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(host, api_url, force_fcm_v1, kwargs)
        self.max_concurrent_requests = max_concurrent_requests
        self._route = _Route(self.host, self.api_url, force_fcm_v1)
        if http_client is not None and self._route.rewrite is not None:
            raise ValueError(
                f"api_url={self.api_url!r} needs expo-push to make the HTTP client: "
                "with http_client=, api_url must end with /--/api/v2"
            )
        self._http_client = http_client
        self._owns_http_client = http_client is None
        self._client: expo_push.AsyncPushClient | None = None

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The ``httpx.AsyncClient`` requests go through (made on first use unless one was given)."""
        if self._http_client is None:
            concurrency = self._options.get("max_concurrency", self.max_concurrent_requests)
            hooks = []
            if self._route.needs_hook:
                route = self._route

                async def apply_route(request: httpx.Request) -> None:
                    route.apply(request)

                hooks.append(apply_route)
            self._http_client = httpx.AsyncClient(
                verify=shared_ssl_context(),
                http2=self._options.get("http2", True),
                timeout=_timeout(self.timeout),
                limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
                event_hooks={"request": hooks},
            )
        return self._http_client

    async def publish(self, push_message: PushMessage) -> PushTicket:
        """Send one message to one recipient; return its ticket. See ``PushClient.publish``."""
        _check_single(push_message)
        return (await self.publish_multiple([push_message]))[0]

    async def publish_multiple(self, push_messages: Iterable[PushMessage]) -> list[PushTicket]:
        """Send messages; return one ticket per recipient, in order. See ``PushClient.publish_multiple``."""
        batch = _Batch(push_messages)
        try:
            tickets = await self._expo_client().send(batch.payloads)
        except expo_push.PushServerError as exc:
            raise batch.failure(exc) from None
        return batch.tickets(tickets)

    async def check_receipts(self, push_tickets: Iterable[Any]) -> list[PushReceipt]:
        """Fetch the receipts of tickets (or ids), in ticket order. See ``PushClient.check_receipts``."""
        ids = _receipt_ids(push_tickets)
        if not ids:
            return []
        try:
            found = await self._expo_client().get_receipts(ids)
        except expo_push.PushServerError as exc:
            raise translate_server_error(exc) from None
        return _receipts(found, ids)

    async def check_receipts_multiple(self, push_tickets: Iterable[Any]) -> list[PushReceipt]:
        """The same as ``check_receipts``: ids go in requests of 1000, side by side."""
        return await self.check_receipts(push_tickets)

    async def validate_and_get_receipts(self, response: Any) -> list[PushReceipt]:
        """Read a receipts answer into receipts, raising as the older SDK did."""
        return receipts_from_response(response)

    async def aclose(self) -> None:
        """Close the HTTP client if this client made it (a later call makes a new one)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        if self._owns_http_client and self._http_client is not None:
            http, self._http_client = self._http_client, None
            await http.aclose()

    async def __aenter__(self) -> AsyncPushClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _expo_client(self) -> expo_push.AsyncPushClient:
        if self._client is None:
            options = {"max_concurrency": self.max_concurrent_requests, **self._options}
            self._client = expo_push.AsyncPushClient(
                base_url=self._route.base_url,
                timeout=_timeout(self.timeout),
                http_client=self.http_client,
                **options,
            )
        return self._client
