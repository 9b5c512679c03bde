"""How the inbox page and the REST routes show notifications and exchanges (JSON-ready dicts), and search them.

A search is words and ``field:value`` filters, as in Mailpit: ``token:``, ``project:``, ``ticket:``,
``status:`` (``ok``, ``error``, ``pending``, ``never``, ``expired``), ``title:``, ``body:``, ``data:``,
``tag:`` (a whole tag); a bare word matches the title, subtitle, body, data, token or ticket id.
Every part must match.
"""

from __future__ import annotations

from typing import Any

from ._asgi import inflate
from ._history import Delivery, Exchange
from ._service import decode_json, encode_json

__all__ = ["SEARCH_FIELDS", "Search", "delivery_view", "exchange_view", "receipt_status"]

SEARCH_FIELDS = ("token", "project", "ticket", "status", "title", "body", "data", "tag")
_INFLATE_AT_MOST = 64 * 1024 * 1024
"""A kept body is inflated for viewing up to this many bytes (one that inflates further is not shown)."""


def receipt_status(delivery: Delivery, now: float) -> str:
    """``ok``, ``error``, ``pending`` (not yet due), ``never`` (lost) or ``expired``, at emulator time ``now``."""
    if delivery.receipt_lost:
        return "never"
    if now < delivery.receipt_at:
        return "pending"
    if now >= delivery.expires_at:
        return "expired"
    return "error" if delivery.receipt_error is not None else "ok"


def delivery_view(
    delivery: Delivery, fetched: tuple[float, int] | None = None, tags: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A notification as the page and ``GET feed`` show it (camelCase, as the service's JSON).

    ``fetched`` is when its receipt was first fetched and how many times, if it was; ``tags`` its tags.
    """
    return {
        "seq": delivery.seq,
        "token": delivery.token or delivery.message.get("to"),
        "project": delivery.project,
        "ticketId": delivery.ticket_id,
        "ticket": {"status": "ok", "id": delivery.ticket_id},
        "message": delivery.message,
        "receiptError": delivery.receipt_error,
        "receiptLost": delivery.receipt_lost,
        "receipt": delivery.receipt,
        "receiptFetchedAt": fetched[0] if fetched is not None else None,
        "receiptFetches": fetched[1] if fetched is not None else 0,
        "acceptedAt": delivery.accepted_at,
        "receiptAt": delivery.receipt_at,
        "expiresAt": delivery.expires_at,
        "request": delivery.request,
        "payloadBytes": delivery.payload_bytes,
        "accessToken": delivery.access_token,
        "tags": list(tags),
    }


def _json_or_text(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return decode_json(raw)
    except (ValueError, RecursionError):
        return raw.decode("utf-8", "replace")


def _outcome(exchange: Exchange, answer: Any) -> dict[str, Any]:
    """The error code of a refused request, or what an answered one held (tickets by outcome, receipts)."""
    outcome: dict[str, Any] = {"errorCode": None}
    if exchange.status is None:
        outcome["errorCode"] = "NO_ANSWER"
    elif isinstance(answer, dict) and isinstance(answer.get("errors"), list) and answer["errors"]:
        first = answer["errors"][0]
        outcome["errorCode"] = first.get("code") if isinstance(first, dict) else None
    elif exchange.status >= 400:
        outcome["errorCode"] = f"HTTP_{exchange.status}"
    data = answer.get("data") if isinstance(answer, dict) else None
    if exchange.kind == "send" and data is not None:
        tickets = data if isinstance(data, list) else [data]
        errors: dict[str, int] = {}
        for ticket in tickets:
            if isinstance(ticket, dict) and ticket.get("status") == "error":
                code = str((ticket.get("details") or {}).get("error") or "error")
                errors[code] = errors.get(code, 0) + 1
        outcome["tickets"] = len(tickets)
        outcome["ticketErrors"] = errors
    elif exchange.kind == "receipts" and isinstance(data, dict):
        outcome["receipts"] = len(data)
    return outcome


def exchange_view(exchange: Exchange, whole: bool = True) -> dict[str, Any]:
    """One push request and its answer; ``whole=False`` leaves the bodies out (the traffic list)."""
    answer = _json_or_text(exchange.answer)
    view: dict[str, Any] = {
        "id": exchange.number,
        "at": exchange.at,
        "kind": exchange.kind,
        "path": "/--/api/v2/push/send" if exchange.kind == "send" else "/--/api/v2/push/getReceipts",
        "httpVersion": exchange.http_version,
        "headers": exchange.headers,
        "bytes": exchange.sent_bytes,
        "status": exchange.status,
        "fault": exchange.fault,
        "accessToken": exchange.access_token,
        "notifications": list(exchange.notifications) if exchange.notifications else None,
        "recorded": exchange.recorded,
        **_outcome(exchange, answer),
    }
    if whole:
        encoding = exchange.headers.get("content-encoding", "").strip().lower()
        body = inflate(exchange.body, encoding, _INFLATE_AT_MOST) if exchange.body else b""
        view["body"] = _json_or_text(body) if isinstance(body, bytes) and body else None
        view["answer"] = answer
        view["answerType"] = exchange.answer_type
    return view


class Search:
    """A parsed search (see the module's docstring); ``matches`` judges one notification."""

    def __init__(self, query: str, now: float) -> None:
        self.now = now
        self.words: list[str] = []
        self.fields: list[tuple[str, str]] = []
        for part in query.split():
            name, colon, value = part.partition(":")
            if colon and name.lower() in SEARCH_FIELDS and value:
                self.fields.append((name.lower(), value.lower()))
            else:
                self.words.append(part.lower())

    def __bool__(self) -> bool:
        return bool(self.words or self.fields)

    def matches(self, delivery: Delivery, tags: tuple[str, ...] = ()) -> bool:
        """Whether every word and every field filter matches ``delivery`` (tagged ``tags``)."""
        message = delivery.message
        texts = {
            "token": delivery.token.lower(),
            "project": delivery.project.lower(),
            "ticket": delivery.ticket_id,
            "title": _text(message.get("title")),
            "body": _text(message.get("body")),
            "subtitle": _text(message.get("subtitle")),
            "data": encode_json(message["data"]).decode().lower() if "data" in message else "",
        }
        for name, value in self.fields:
            if name == "status":
                if receipt_status(delivery, self.now) != value:
                    return False
            elif name == "tag":
                if value not in (tag.lower() for tag in tags):
                    return False
            elif value not in texts[name]:
                return False
        return all(any(word in text for text in texts.values()) for word in self.words)


def _text(value: object) -> str:
    return value.lower() if isinstance(value, str) else ""
