"""Bytes on the wire: request bodies out, and answers read back into tickets, receipts or a failure."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import msgspec

from ._account import Position
from ._chunks import Entry
from ._errors import REQUEST_ERRORS, PushConnectionError, PushResponseError, PushServerError
from ._models import PushReceipt, PushTicket, ticket_problem
from ._retry import RETRYABLE_STATUS, parse_retry_after
from ._service import COMPRESS_OVER

__all__ = [
    "Failed",
    "HttpResponse",
    "TransportFailure",
    "encode_entries",
    "encode_receipt_ids",
    "read_receipts_response",
    "read_send_response",
    "request_body",
    "split_by_project",
    "transport_failed",
]

_GZIP_LEVEL = 1  # JSON of notifications compresses ~14:1 at level 1, at two thirds the CPU of level 6.
_ENCODER = msgspec.json.Encoder()


# --- requests -------------------------------------------------------------------------------------


def encode_entries(entries: Sequence[Entry]) -> bytes:
    """The JSON array of messages for a send request, assembled from each message's pre-encoded payload."""
    parts = []
    for entry in entries:
        prepared = entry.prepared
        to = _ENCODER.encode(list(entry.recipients) if prepared.to_is_list else entry.recipients[0])
        payload = prepared.payload
        parts.append(b'{"to":' + to + (b"}" if payload == b"{}" else b"," + payload[1:]))
    return b"[" + b",".join(parts) + b"]"


def encode_receipt_ids(ids: Sequence[str]) -> bytes:
    """The JSON body of a receipts request."""
    return _ENCODER.encode({"ids": list(ids)})


def request_body(payload: bytes) -> tuple[bytes, dict[str, str]]:
    """The body to send for a JSON ``payload``, gzip-compressed when larger than ``COMPRESS_OVER``."""
    if len(payload) > COMPRESS_OVER:
        return gzip.compress(payload, compresslevel=_GZIP_LEVEL, mtime=0), {
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        }
    return payload, {"Content-Type": "application/json"}


# --- what came back -------------------------------------------------------------------------------


class HttpResponse(msgspec.Struct, frozen=True, gc=False):
    """What came back: status, headers (case-insensitive mapping) and the decoded body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes


class TransportFailure(msgspec.Struct, frozen=True):
    """No usable answer: the connection failed, timed out, was dropped, or the answer could not be read.

    ``retryable`` is false for failures a retry cannot mend (a body that could
    not be decompressed, an answer over the size limit). ``maybe_delivered``
    is false only when the request certainly did not reach the service (the
    connection was never made); otherwise its recipients may have been delivered.
    """

    description: str
    retryable: bool = True
    maybe_delivered: bool = True
    malformed: bool = False
    """The answer came but breaks the protocol (too large, undecodable): a ``PushResponseError``."""


class Failed(msgspec.Struct, frozen=True):
    """Why an attempt failed: the error to raise if it is the last, and what the failure allows."""

    error: PushServerError
    retryable: bool
    retry_after: float | None = None
    maybe_delivered: bool = False


Redact = Callable[[str], str]


def _no_redaction(text: str) -> str:
    return text


class _SendBody(msgspec.Struct):
    data: list[PushTicket] | PushTicket | None = None
    errors: list[dict[str, Any]] | None = None


class _ReceiptsBody(msgspec.Struct):
    data: dict[str, PushReceipt] | None = None
    errors: list[dict[str, Any]] | None = None


_SEND_DECODER = msgspec.json.Decoder(_SendBody)
_RECEIPTS_DECODER = msgspec.json.Decoder(_ReceiptsBody)
_ERRORS_DECODER = msgspec.json.Decoder(dict[str, Any])


def _redacted(value: Any, redact: Redact) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, redact) for v in value]
    return value


def _request_error(
    status: int | None, errors: list[dict[str, Any]] | None, fallback: str, redact: Redact
) -> PushServerError:
    """The ``PushServerError`` (subclass by code) for a response carrying ``errors``; no secret in its text."""
    if redact is not _no_redaction and errors:
        errors = _redacted(errors, redact)
    first: dict[str, Any] = errors[0] if errors and isinstance(errors[0], dict) else {}
    code = first.get("code") if isinstance(first.get("code"), str) else None
    message = first.get("message") if isinstance(first.get("message"), str) else fallback
    cls = REQUEST_ERRORS.get(code or "", PushServerError)
    return cls(str(message), code=code, status_code=status, details=first.get("details"), errors=errors or ())


def _transient(errors: list[dict[str, Any]] | None) -> bool | None:
    """The service's own word on whether retrying can help (``isTransient``), where it gives one."""
    if errors and isinstance(errors[0], dict):
        flag = errors[0].get("isTransient")
        if isinstance(flag, bool):
            return flag
    return None


def _failed_status(response: HttpResponse, now_epoch: float, redact: Redact) -> Failed:
    """The failure of a response with a non-2xx status, JSON body or not."""
    errors: list[dict[str, Any]] | None = None
    try:
        body = _ERRORS_DECODER.decode(response.content)
        found = body.get("errors")
        errors = [e for e in found if isinstance(e, dict)] if isinstance(found, list) else None
    except msgspec.DecodeError:
        pass
    status = response.status_code
    fallback = f"the service answered HTTP {status}" + ("" if errors is not None else " without a JSON error body")
    error = _request_error(status, errors, fallback, redact)
    transient = _transient(errors)
    retryable = status in RETRYABLE_STATUS if transient is None else transient
    retry_after = parse_retry_after(response.headers.get("retry-after"), now_epoch) if retryable else None
    return Failed(error, retryable, retry_after)


def _malformed(message: str, status: int | None) -> Failed:
    # The service answered, so it may well have taken the notifications: never retried, and in doubt.
    return Failed(PushResponseError(message, status_code=status), retryable=False, maybe_delivered=True)


def transport_failed(failure: TransportFailure) -> Failed:
    """The failure of an attempt that got no usable answer."""
    if failure.malformed:
        return _malformed(failure.description, None)
    return Failed(
        PushConnectionError(failure.description), retryable=failure.retryable, maybe_delivered=failure.maybe_delivered
    )


Body = TypeVar("Body", _SendBody, _ReceiptsBody)


def _answer_body(
    response: HttpResponse, decoder: msgspec.json.Decoder[Body], what: str, now_epoch: float, redact: Redact
) -> Body | Failed:
    """The decoded body of a 2xx answer to ``what``, or why the request failed (status, malformed, refused)."""
    if not 200 <= response.status_code < 300:
        return _failed_status(response, now_epoch, redact)
    try:
        body = decoder.decode(response.content)
    except msgspec.DecodeError as exc:
        return _malformed(f"the service answered {what} with a malformed body: {exc}", response.status_code)
    if body.errors:
        refusal = _request_error(response.status_code, body.errors, "the service refused the request", redact)
        return Failed(refusal, False)
    return body


def read_send_response(
    response: HttpResponse, entries: Sequence[Entry], now_epoch: float, redact: Redact = _no_redaction
) -> list[PushTicket] | Failed:
    """Tickets for the recipients of ``entries`` (in order, each with ``.to`` and ``.position``), or why not."""
    body = _answer_body(response, _SEND_DECODER, "a send", now_epoch, redact)
    if isinstance(body, Failed):
        return body
    data = body.data
    tickets = [data] if isinstance(data, PushTicket) else (data or [])
    count = sum([len(entry.recipients) for entry in entries])
    if len(tickets) != count:
        return _malformed(
            f"the service answered {len(tickets)} tickets for {count} recipients; "
            "which were accepted is unknown, so all are in doubt",
            response.status_code,
        )
    for at, ticket in enumerate(tickets):
        if ticket.id is None or not ticket.id or ticket.id.isspace():  # the common good ticket costs one test
            problem = ticket_problem(ticket)
            if problem is not None:
                return _malformed(
                    f"the service answered a send with a malformed ticket at $.data[{at}]{problem}",
                    response.status_code,
                )
    answered = iter(tickets)
    for entry in entries:
        index = entry.prepared.index
        for token, position, ticket in zip(entry.recipients, entry.positions, answered, strict=False):  # counted above
            ticket.to = token
            ticket.position = _new_tuple(Position, (index, position))
    return tickets


_new_tuple = tuple.__new__
"""Makes a ``Position`` without the Python-level ``__new__`` of a NamedTuple (a third of reading a ticket)."""


def read_receipts_response(
    response: HttpResponse, now_epoch: float, redact: Redact = _no_redaction
) -> dict[str, PushReceipt] | Failed:
    """Receipts by id (ids without a receipt are absent), or why the request failed."""
    body = _answer_body(response, _RECEIPTS_DECODER, "a receipts request", now_epoch, redact)
    if isinstance(body, Failed):
        return body
    receipts = body.data or {}
    for receipt_id, receipt in receipts.items():
        receipt.id = receipt_id
    return receipts


def split_by_project(entries: Sequence[Entry], details: object) -> list[tuple[str | None, list[Entry]]] | None:
    """Split ``entries`` into one group per project, from ``PUSH_TOO_MANY_EXPERIENCE_IDS`` details.

    ``details`` maps ``@owner/slug`` to that project's tokens. Returns
    ``(project, entries)`` pairs; tokens it does not name form a group of
    their own with project ``None``. Returns ``None`` when the details do not
    allow a split into at least two groups.
    """
    if not isinstance(details, dict):
        return None
    project_of: dict[str, str] = {}
    for project, tokens in details.items():
        if isinstance(tokens, list) and isinstance(project, str):
            for token in tokens:
                if isinstance(token, str):
                    project_of.setdefault(token, project)
    groups: dict[str | None, list[Entry]] = {}
    for entry in entries:
        by_group: dict[str | None, list[int]] = {}
        for offset, token in enumerate(entry.recipients):
            by_group.setdefault(project_of.get(token), []).append(offset)
        for project, offsets in by_group.items():
            groups.setdefault(project, []).append(
                Entry(
                    entry.prepared,
                    tuple(entry.recipients[i] for i in offsets),
                    tuple(entry.positions[i] for i in offsets),
                )
            )
    if len(groups) < 2:
        return None
    return list(groups.items())
