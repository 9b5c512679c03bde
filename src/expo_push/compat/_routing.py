"""The older clients' routes (``host`` + ``api_url``, ``force_fcm_v1``) and session headers, laid over expo-push's
clients through their transport seam."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import Any

from expo_push._async_client import AsyncPushClient as _AsyncExpoClient
from expo_push._client import PushClient as _ExpoClient
from expo_push._transport import AsyncTransport, Transport
from expo_push._wire import HttpResponse

__all__ = ["DEFAULT_BASE_API_URL", "_AsyncRoutedClient", "_Route", "_RoutedClient", "_session_headers"]

DEFAULT_BASE_API_URL = "/--/api/v2"
"""Where the older SDKs' requests go under ``host``: expo-push's own paths start with it."""

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


class _Route:
    """Where requests go: ``host`` + ``api_url`` (+ ``?useFcmV1=`` on sends), mapped onto expo-push's fixed paths."""

    def __init__(self, host: str, api_url: str, force_fcm_v1: bool | None) -> None:
        host = host.rstrip("/")
        default = DEFAULT_BASE_API_URL
        self.rewrite: tuple[str, str] | None = None
        if api_url.rstrip("/").endswith(default):
            self.base_url = host + api_url.rstrip("/")[: -len(default)]
        else:
            self.base_url = host
            self.rewrite = (host + default, host + api_url.rstrip("/"))
        self.fcm_v1 = None if force_fcm_v1 is None else ("true" if force_fcm_v1 else "false")

    def url(self, url: str) -> str:
        """Where an expo-push request for ``url`` goes on the configured route."""
        if self.rewrite is not None and url.startswith(self.rewrite[0]):
            url = self.rewrite[1] + url[len(self.rewrite[0]) :]
        if self.fcm_v1 is not None and url.partition("?")[0].endswith("/push/send"):
            url += ("&" if "?" in url else "?") + f"useFcmV1={self.fcm_v1}"
        return url


def _session_headers(session: Any) -> Callable[[Mapping[str, str]], dict[str, str]]:
    """What adds the session's current headers (Authorization, ...) to a request's, read at every request."""
    try:
        ref: Callable[[], Any] = weakref.ref(session)
    except TypeError:
        ref = lambda: session  # noqa: E731  (not weak-referenceable: held for the client's life)

    def with_session_headers(own: Mapping[str, str]) -> dict[str, str]:
        headers = getattr(ref(), "headers", None)
        if not isinstance(headers, Mapping):
            return dict(own)
        merged = {name.lower(): (name, value) for name, value in own.items()}
        for name, value in headers.items():
            lower = str(name).lower()
            if lower in _UNCOPIED_HEADERS or value is None:
                continue
            if lower == "authorization" and _blank_bearer(value):
                continue  # "Bearer " from an unset $EXPO_TOKEN: no token, as the older SDK sent it
            if lower == "user-agent" and str(value).startswith("python-requests/"):
                continue  # requests' default; expo-push's own names the SDK that sends
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            merged[lower] = (str(name), text)
        return dict(merged.values())

    return with_session_headers


class _RoutedTransport:
    """A ``Transport`` that sends expo-push's requests on the older client's route, with its session's headers."""

    def __init__(self, inner: Transport, route: _Route, headers: Callable[[Mapping[str, str]], dict[str, str]]) -> None:
        self.inner = inner
        self._route = route
        self._headers = headers

    def post(self, url: str, body: bytes, headers: Mapping[str, str], deadline: float, limit: int) -> HttpResponse:
        """Send on the route, with the session's headers."""
        return self.inner.post(self._route.url(url), body, self._headers(headers), deadline, limit)

    def close(self) -> None:
        """Close the connections under it."""
        self.inner.close()


class _AsyncRoutedTransport:
    """``_RoutedTransport`` for the async client (a route only: it has no session)."""

    def __init__(self, inner: AsyncTransport, route: _Route) -> None:
        self.inner = inner
        self._route = route

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], deadline: float, limit: int
    ) -> HttpResponse:
        """Send on the route."""
        return await self.inner.post(self._route.url(url), body, headers, deadline, limit)

    async def aclose(self) -> None:
        """Close the connections under it."""
        await self.inner.aclose()


class _RoutedClient(_ExpoClient):
    """``expo_push.PushClient`` whose own transport goes through ``_RoutedTransport``."""

    def __init__(self, route: _Route, session: Any, **options: Any) -> None:
        self._route = route
        self._session_headers = _session_headers(session)
        super().__init__(base_url=route.base_url, **options)

    def _new_transport(self) -> Transport:
        return _RoutedTransport(super()._new_transport(), self._route, self._session_headers)


class _AsyncRoutedClient(_AsyncExpoClient):
    """``expo_push.AsyncPushClient`` whose own transport goes through ``_AsyncRoutedTransport``."""

    def __init__(self, route: _Route, **options: Any) -> None:
        self._route = route
        super().__init__(base_url=route.base_url, **options)

    def _new_transport(self) -> AsyncTransport:
        return _AsyncRoutedTransport(super()._new_transport(), self._route)


def _blank_bearer(value: object) -> bool:
    """Whether an Authorization value carries no token: empty, blank, or ``Bearer`` followed by nothing."""
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    words = text.split()
    return not words or (len(words) == 1 and words[0].lower() == "bearer")
