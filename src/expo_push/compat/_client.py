"""``PushClient`` and ``AsyncPushClient`` with the older SDKs' methods, carried out by expo-push's clients.

Every send goes through ``expo_push.PushClient.send`` (or the async one):
chunked by recipients, paced, retried, over keep-alive connections. What is left here is
translation: older messages to payloads, tickets and receipts back to the
older namedtuples, and expo-push errors to the older exceptions.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import expo_push
from expo_push._async_client import AsyncPushClient as _AsyncExpoClient
from expo_push._transport import DEFAULT_TIMEOUT, Timeout, as_timeout

from ._routing import DEFAULT_BASE_API_URL, _AsyncRoutedClient, _Route, _RoutedClient

if TYPE_CHECKING:
    import httpx

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


class _DefaultSession:
    """What ``PushClient.session`` is when no session was given: headers only, like the older SDK's default session.

    Headers added to it later (``client.session.headers.update(...)``) are sent with every later request.
    """

    def __init__(self) -> None:
        self.headers = dict(_LEGACY_SESSION_HEADERS)


def _timeout(value: Any) -> Timeout | None:
    """Timeouts from the older SDK's ``timeout`` (seconds, ``(connect, read)``); ``None``: expo-push's default."""
    if value is None:
        return None
    if isinstance(value, tuple) and len(value) == 2:
        connect, read = value
        return Timeout(connect, read, read, read)
    return as_timeout(value)


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
    DEFAULT_BASE_API_URL = DEFAULT_BASE_API_URL
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
    older default headers. Each PushClient keeps its own connections, made on
    first use and closed by ``close()`` (or when the client is garbage-collected).
    The keyword arguments ``access_token``,
    ``max_concurrency``, ``rate_limit``, ``max_retries``, ``split_projects``
    and ``http2`` are passed on to ``expo_push.PushClient``; others are
    ignored, as before.

    Where this differs from the older SDK, on purpose:

    - requests hold at most 100 *recipients* (a message with a list ``to``
      counts once per token), go out side by side, paced to the service's
      rate limit, over keep-alive connections (HTTP/2 with the http2 extra), and are retried on connection errors,
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
        self._client: tuple[tuple[Any, ...], _RoutedClient, weakref.finalize[Any, Any]] | None = None
        """The expo-push client made on first use, under the settings it was made for, and what closes it."""

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
            tickets = self._expo_client().send(batch.payloads)
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
            found = self._expo_client().get_receipts(ids)
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
        """Close this client's connections (new ones open if it is used again)."""
        made, self._client = self._client, None
        if made is not None:
            made[2]()

    def __enter__(self) -> PushClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _expo_client(self) -> _RoutedClient:
        """The expo-push client for the current session and settings, made on first use (and again if they change)."""
        key = (self.session, self.host, self.api_url, self.force_fcm_v1, repr(self.timeout), repr(self._options))
        made = self._client
        if made is not None and made[0] == key:
            return made[1]
        self.close()
        route = _Route(self.host, self.api_url, self.force_fcm_v1)
        timeout = _timeout(self.timeout)
        options = {**self._options, **({"timeout": timeout} if timeout is not None else {})}
        client = _RoutedClient(route, self.session, **options)
        # Code that makes a client per notification and never closes it must not keep its connections open.
        self._client = (key, client, weakref.finalize(self, client.close))
        return client


class AsyncPushClient(_CompatClient):
    """The async client of async-expo-push-notifications, sending through ``expo_push.AsyncPushClient``.

    ``http_client`` is an ``httpx.AsyncClient`` of yours (its headers, such as
    ``Authorization``, and its transport are used; you close it); without
    one, requests go through expo-push's own connections, closed by
    ``async with`` or ``aclose()``. ``max_concurrent_requests`` bounds the requests in flight.
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
        self._retired: list[expo_push.AsyncPushClient] = []
        """Clients made before ``http_client`` was asked for, closed by ``aclose()``."""

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The ``httpx.AsyncClient`` requests go through: the one given, or one made here when first asked for
        (until then requests go through expo-push's own connections, without httpx)."""
        if self._http_client is None:
            import httpx

            from expo_push._base_client import shared_ssl_context
            from expo_push._httpx_transport import httpx_options

            route = self._route

            async def apply_route(request: httpx.Request) -> None:
                request.url = httpx.URL(route.url(str(request.url)))

            options = self._client_options()
            configured = httpx_options(
                options.get("timeout") or DEFAULT_TIMEOUT,
                shared_ssl_context(),
                options.get("http2", True),
                options["max_concurrency"],
            )
            self._http_client = httpx.AsyncClient(**configured, event_hooks={"request": [apply_route]})
            if self._client is not None:
                self._retired.append(self._client)
                self._client = None
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
        """Close the connections and the HTTP client if this client made them (a later call makes new ones)."""
        clients, self._retired, self._client = [*self._retired, self._client], [], None
        for client in clients:
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
            options = self._client_options()
            if self._http_client is not None:
                self._client = _AsyncExpoClient(base_url=self._route.base_url, http_client=self._http_client, **options)
            else:
                self._client = _AsyncRoutedClient(self._route, **options)
        return self._client

    def _client_options(self) -> dict[str, Any]:
        timeout = _timeout(self.timeout)
        options = {"max_concurrency": self.max_concurrent_requests, **self._options}
        return {**options, "timeout": timeout} if timeout is not None else options
