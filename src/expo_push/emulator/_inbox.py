"""The inbox: the page at ``/`` showing every exchange, and every notification as a phone would, kept live (SSE).

The page is plain HTML, CSS and JavaScript shipped in the package (``inbox/``): no build step,
no CDN, nothing fetched from elsewhere. Its data comes from guarded control routes, which are the
REST API of everything it shows: ``GET events`` (server-sent events), ``GET feed`` (notifications,
searchable), ``GET|DELETE notifications/{seq}``, ``PUT notifications/{seq}/tags``, ``POST clear``,
``GET traffic`` and ``GET requests/{n}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import importlib.resources
import urllib.parse
from typing import TYPE_CHECKING, Any

from ._asgi import Reply, Request, error_reply, json_reply
from ._history import KEPT_EXCHANGES, History
from ._service import decode_json, encode_json, request_error, validation_error
from ._views import Search, delivery_view, exchange_view

if TYPE_CHECKING:
    from ._app import EmulatorApp

__all__ = ["InboxRoutes"]

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
_BATCH = 200
"""At most this many of the newest notifications (and exchanges) go to a page in one update: a burst is
summed up by its latest, and the page says how many it did not draw."""
_KEEPALIVE = 15.0
_COALESCE = 0.25
"""Seconds to let a burst of changes gather before the next event is written."""
_ROUTES = {"feed": ("GET",), "events": ("GET",), "traffic": ("GET",), "clear": ("POST",)}


def _not_kept(what: str) -> Reply:
    return error_reply(request_error(404, "NOT_FOUND", what))


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

    def allowed(self, name: str) -> tuple[str, ...] | None:
        """The methods control route ``name`` takes if it is one of the inbox's, else ``None``."""
        if name.startswith("requests/"):
            return ("GET",)
        if name.startswith("notifications/"):
            return ("PUT",) if name.endswith("/tags") else ("GET", "DELETE")
        return _ROUTES.get(name)

    def _snapshot(self) -> dict[str, Any]:
        app = self.app
        state = app.state
        settings = state.settings
        history = state.history()
        with state.locked():
            counts = {"kept": len(history.feed), "accepted": history.accepted, "revision": history.revision}
            counts["tokens"] = len(history.inboxes)
        return {
            "generation": state.generation,
            "now": state.now(),
            "stats": state.stats().as_dict(),
            **counts,
            "faults": [fault.as_dict() for fault in app.faults.pending()],
            "settings": {
                "rateLimit": settings.rate_limit,
                "receiptDelay": settings.receipt_delay,
                "latency": settings.latency,
                "registeredOnly": settings.registered_only,
                "defaultProject": settings.default_project,
                "accessTokens": settings.access_tokens is not None,
                "history": settings.history,
            },
        }

    async def control(self, request: Request, name: str) -> None:
        """Serve one of the inbox's control routes (already past the guard, with a method it takes)."""
        query = urllib.parse.parse_qs(request.query)

        def number(key: str, default: int) -> int:
            return _int(query.get(key, [str(default)])[0])

        state = self.app.state
        if name == "events":
            await self._events(request)
            return
        if name == "feed":
            reply = json_reply({**self._snapshot(), **self.search(query.get("q", [""])[0], number("after", 0),
                                                                    number("limit", _BATCH))})  # fmt: skip
        elif name == "traffic":
            reply = json_reply({"data": self.traffic(number("after", 0), number("limit", _BATCH))})
        elif name == "clear":
            state.edit(History.clear_notifications)
            reply = json_reply({"ok": True})
        elif name.startswith("requests/"):
            exchange = state.request(_int(name[len("requests/") :]))
            reply = (
                json_reply(exchange_view(exchange))
                if exchange is not None
                else _not_kept(
                    f"No request {name[len('requests/') :]!r} is kept: push requests are numbered from 1 since the "
                    f"last reset, and only the latest {KEPT_EXCHANGES} are kept."
                )
            )
        elif name.endswith("/tags"):
            seq = _int(name[len("notifications/") : -len("/tags")])
            reply = await self._tag(request, seq)
        else:
            seq = _int(name[len("notifications/") :])
            if request.method == "DELETE":
                deleted = state.edit(lambda history: history.remove(seq))
                reply = json_reply({"ok": True}) if deleted else self._notification_not_kept(seq)
            else:
                found = self.notification(seq)
                reply = json_reply(found) if found is not None else self._notification_not_kept(seq)
        await request.reply(reply)

    async def _tag(self, request: Request, seq: int) -> Reply:
        try:
            body = decode_json(await request.body(64 * 1024))
        except Exception:  # not JSON, too large, nested too deep
            body = None
        tags = body.get("tags") if isinstance(body, dict) else None
        if not isinstance(tags, list):
            return error_reply(validation_error('the body must be {"tags": ["a-tag", ...]}'))
        try:
            tagged = self.app.state.edit(lambda history: history.tag(seq, tags))
        except ValueError as exc:
            return error_reply(validation_error(str(exc)))
        return json_reply({"ok": True, "tags": tags}) if tagged else self._notification_not_kept(seq)

    def _notification_not_kept(self, seq: int) -> Reply:
        return _not_kept(
            f"No notification {seq} is kept: the emulator keeps the latest {self.app.state.settings.history} "
            "(history), minus those deleted or cleared."
        )

    def search(self, query: str, after: int, limit: int) -> dict[str, Any]:
        """The newest ``limit`` kept notifications above ``after`` matching ``query``, and how many matched."""
        state = self.app.state
        search = Search(query, state.now())
        history = state.history()
        with state.locked():
            tags = history.tags
            found = [
                d for d in history.after(max(after, 0)) if not search or search.matches(d, tags.get(d.ticket_id, ()))
            ]
            shown = found[-limit:] if 0 < limit < len(found) else found if limit > 0 else []
            views = [delivery_view(d, history.fetched.get(d.ticket_id), tags.get(d.ticket_id, ())) for d in shown]
        return {"data": views, "matched": len(found)}

    def traffic(self, after: int, limit: int, *, ended_after: int = 0) -> list[dict[str, Any]]:
        """The newest ``limit`` kept exchanges numbered above ``after``, by number, without their bodies.

        ``ended_after`` keeps only those that ended after the one with that ``recorded`` place (the
        event stream's cursor: a request answered late ends after later ones, and must still be sent).
        """
        state = self.app.state
        with state.locked():
            kept = [e for e in state.history().exchanges.values() if e.number > after and e.recorded > ended_after]
        kept.sort(key=lambda e: e.number)
        return [exchange_view(e, whole=False) for e in kept[len(kept) - min(max(limit, 0), len(kept)) :]]

    def notification(self, seq: int) -> dict[str, Any] | None:
        """Notification ``seq`` in full: its view, and the exchange that brought it while kept."""
        state = self.app.state
        history = state.history()
        with state.locked():
            delivery = history.find(seq)
            if delivery is None:
                return None
            view = delivery_view(
                delivery, history.fetched.get(delivery.ticket_id), history.tags.get(delivery.ticket_id, ())
            )
            exchange = history.exchanges.get(delivery.request)
        view["exchange"] = exchange_view(exchange, whole=False) if exchange is not None else None
        return view

    async def _events(self, request: Request) -> None:
        """A stream of server-sent events: one ``update`` each time something changes, until the page goes.

        Each update holds what is new since the last: at most the newest ``_BATCH`` notifications and
        exchanges (``skipped`` says how many notifications were not sent), so a page keeps up with a burst.
        """
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
            start: tuple[int, int] | None = None
            last = last_exchange = 0
            due: list[float] = []  # emulator times at which receipts shown as "not yet" become due
            while True:
                changed.clear()
                update = self._snapshot()
                if (update["generation"], update["revision"]) != start:
                    start, last, last_exchange, due = (update["generation"], update["revision"]), 0, 0, []
                    update["reset"] = True
                found = self.search("", last, _BATCH)
                deliveries = found["data"]
                update["skipped"] = found["matched"] - len(deliveries)
                if deliveries:
                    last = deliveries[-1]["seq"]
                exchanges = self.traffic(0, _BATCH, ended_after=last_exchange)
                if exchanges:
                    last_exchange = max(e["recorded"] for e in exchanges)
                now = update["now"]
                for delivery in deliveries:
                    if delivery["receiptAt"] > now:
                        heapq.heappush(due, delivery["receiptAt"])
                while due and due[0] <= now:
                    heapq.heappop(due)
                update["deliveries"] = deliveries
                update["exchanges"] = exchanges
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
