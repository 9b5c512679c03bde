"""The inbox: the page at ``/`` showing every accepted notification as a phone would, kept live by server-sent events.

The page is plain HTML, CSS and JavaScript shipped in the package (``inbox/``): no build step,
no CDN, nothing fetched from elsewhere. Its data comes from the guarded control routes
``GET /--/emulator/events`` (server-sent events), ``GET /--/emulator/feed`` and
``GET /--/emulator/requests/{n}`` (the raw send request a notification came in).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import importlib.resources
import urllib.parse
from typing import TYPE_CHECKING, Any

from ._asgi import Reply, Request, json_reply, not_found
from ._service import encode_json
from ._state import Delivery

if TYPE_CHECKING:
    from ._app import EmulatorApp

__all__ = ["InboxRoutes", "delivery_view"]

_ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/--/inbox/inbox.css": ("inbox.css", "text/css; charset=utf-8"),
    "/--/inbox/inbox.js": ("inbox.js", "text/javascript; charset=utf-8"),
    "/--/inbox/icon.svg": ("icon.svg", "image/svg+xml"),
}
_PAGE_HEADERS = {
    # The page loads only its own files; notification images (richContent) may come from anywhere.
    "content-security-policy": "default-src 'self'; img-src * data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
    "referrer-policy": "no-referrer",
}
_FIRST_BATCH = 500
"""How many of the latest notifications a page gets when it connects."""
_KEEPALIVE = 15.0
_COALESCE = 0.05
"""Seconds to let a burst of changes gather before the next event is written."""


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    """A delivery as the page and ``GET feed`` show it (camelCase, as the service's JSON)."""
    return {
        "seq": delivery.seq,
        "token": delivery.token or delivery.message.get("to"),
        "project": delivery.project,
        "ticketId": delivery.ticket_id,
        "message": delivery.message,
        "receiptError": delivery.receipt_error,
        "receiptLost": delivery.receipt_lost,
        "acceptedAt": delivery.accepted_at,
        "receiptAt": delivery.receipt_at,
        "expiresAt": delivery.expires_at,
        "request": delivery.request,
    }


class InboxRoutes:
    """The inbox page, its assets, and the feed it reads."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app
        self._assets: dict[str, bytes] = {}

    def serves(self, path: str) -> bool:
        """Whether ``path`` is one of the page's files."""
        return path in _ASSETS

    async def handle(self, request: Request) -> None:
        """Serve one of the page's files."""
        name, content_type = _ASSETS[request.path]
        body = self._assets.get(name)
        if body is None:
            body = self._assets[name] = (importlib.resources.files(__package__) / "inbox" / name).read_bytes()
        await request.reply(Reply(200, body, content_type, _PAGE_HEADERS))

    def _snapshot(self) -> dict[str, Any]:
        app = self.app
        state = app.state
        settings = state.settings
        return {
            "generation": state.generation,
            "now": state.now(),
            "stats": state.stats().as_dict(),
            "faults": [fault.as_dict() for fault in app.faults.pending()],
            "settings": {
                "rateLimit": settings.rate_limit,
                "receiptDelay": settings.receipt_delay,
                "latency": settings.latency,
                "registeredOnly": settings.registered_only,
                "defaultProject": settings.default_project,
                "accessTokens": settings.access_tokens is not None,
            },
        }

    async def control(self, request: Request, name: str) -> None:
        """Serve ``feed``, ``events`` or ``requests/{n}`` (already past the guard)."""
        query = urllib.parse.parse_qs(request.query)
        if name == "feed":
            after = _int(query.get("after", ["0"])[0])
            limit = _int(query.get("limit", [str(_FIRST_BATCH)])[0])
            deliveries = self.app.state.feed(after, max(limit, 0))
            await request.reply(json_reply({**self._snapshot(), "data": [delivery_view(d) for d in deliveries]}))
        elif name == "events":
            await self._events(request)
        else:
            found = self.app.state.request(_int(name[len("requests/") :]))
            reply = json_reply(found) if found is not None else not_found(request.path)
            await request.reply(reply)

    async def _events(self, request: Request) -> None:
        """A stream of server-sent events: one ``update`` each time something changes, until the page goes."""
        app = self.app
        state = app.state
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()

        def poke() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the emulator stopped
                loop.call_soon_threadsafe(changed.set)

        unsubscribe = state.subscribe(poke)
        gone = asyncio.ensure_future(_disconnected(request))
        closing = app.closing or asyncio.Event()
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        try:
            await request.send({"type": "http.response.start", "status": 200, "headers": headers})
            generation: int | None = None
            last = 0
            due: list[float] = []  # emulator times at which receipts shown as "not yet" become due
            while True:
                changed.clear()
                update = self._snapshot()
                if update["generation"] != generation:
                    generation, last, due = update["generation"], 0, []
                    update["reset"] = True
                    deliveries = state.feed(0, _FIRST_BATCH)
                else:
                    deliveries = state.feed(last)
                if deliveries:
                    last = deliveries[-1].seq
                now = update["now"]
                for delivery in deliveries:
                    if delivery.receipt_at > now:
                        heapq.heappush(due, delivery.receipt_at)
                while due and due[0] <= now:
                    heapq.heappop(due)
                update["deliveries"] = [delivery_view(d) for d in deliveries]
                chunk = b"event: update\ndata: " + encode_json(update) + b"\n\n"
                await request.send({"type": "http.response.body", "body": chunk, "more_body": True})
                wait = min(_KEEPALIVE, max(due[0] - now, _COALESCE)) if due else _KEEPALIVE
                waiters = {asyncio.ensure_future(changed.wait()), asyncio.ensure_future(closing.wait())}
                try:
                    await asyncio.wait({gone, *waiters}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
                if gone.done() or closing.is_set():
                    break
                await asyncio.sleep(_COALESCE)
            if not gone.done():
                await request.send({"type": "http.response.body", "body": b"", "more_body": False})
        except (ConnectionError, OSError):
            pass
        finally:
            unsubscribe()
            gone.cancel()


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
