"""How the ledger keeps messages: as stored JSON, narrowed to some recipients, and packed in the receipt queue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, overload

import msgspec

from .._errors import ValidationError
from .._message import PushMessage, message_from_dict, recipients_of
from .._models import PushTicket
from .._service import DEVICE_NOT_REGISTERED

__all__ = [
    "NULL",
    "QueuedTickets",
    "all_recipients",
    "batch_and_keys",
    "decode_message",
    "decode_queue",
    "encode",
    "message_json",
    "narrow",
    "normalized",
    "payload_text",
    "resend_payload",
    "skipped_ticket",
    "with_skipped",
]

encode = msgspec.json.Encoder().encode
decode_message = msgspec.json.Decoder(PushMessage).decode


class QueuedTickets(msgspec.Struct):
    """The accepted tickets of one receipt queue row, by column (few objects to build on the send path).

    ``message`` holds each ticket's message as stored (decoded as raw JSON),
    ``retries`` the resends after ``MessageRateExceeded`` that came before it.
    """

    key: list[str | None]
    to: list[str]
    id: list[str]
    message: list[msgspec.Raw]
    retries: list[int]


decode_queue = msgspec.json.Decoder(QueuedTickets).decode

NULL = msgspec.Raw(b"null")


def message_json(message: PushMessage | Mapping[str, Any]) -> str:
    """A message as the JSON text the ledger stores."""
    return encode(message).decode()


def all_recipients(batch: list[Any]) -> list[str]:
    """Every recipient token of well-formed messages, flat (the hot path of the dead-token check)."""
    out: list[str] = []
    for message in batch:
        to = message.get("to") if type(message) is dict else recipients_of(message)
        if type(to) is str:
            out.append(to)
        elif type(to) is list:
            out.extend(t for t in to if type(t) is str)
    return out


@overload
def narrow(message: PushMessage, kept: list[str]) -> PushMessage: ...
@overload
def narrow(message: Mapping[str, Any], kept: list[str]) -> Mapping[str, Any]: ...
def narrow(message: PushMessage | Mapping[str, Any], kept: list[str]) -> PushMessage | Mapping[str, Any]:
    """``message`` sent to ``kept`` only (a single-string ``to`` stays a string, given one token): the one way
    the ledger narrows a message, for dead tokens, rows sent in part and resends."""
    to = message.to if isinstance(message, PushMessage) else message.get("to")
    new_to: str | list[str] = kept[0] if isinstance(to, str) else kept
    if isinstance(message, PushMessage):
        return msgspec.structs.replace(message, to=new_to)
    return {**message, "to": new_to}


def resend_payload(message: Any, count: int) -> Any:
    """What to keep of a message to resend it to one of its ``count`` recipients: the message itself, or,
    when it has several recipients, the message without them (``to`` is set again on resend)."""
    if count <= 1:
        return message
    if isinstance(message, msgspec.Raw):
        message = decode_message(bytes(message))
    if isinstance(message, PushMessage):
        return msgspec.Raw(encode(msgspec.structs.replace(message, to=[])))
    return {**message, "to": []}


def payload_text(message: Any) -> str | None:
    """The stored JSON text of a kept message (``None`` when none was kept)."""
    if message is None or message == NULL:
        return None
    return bytes(message).decode() if isinstance(message, msgspec.Raw) else encode(message).decode()


def batch_and_keys(messages: Any, keys: Sequence[str | None] | None) -> tuple[list[Any], list[str | None] | None]:
    """The messages of a send as a list, and their keys, checked to be one per message."""
    batch = [messages] if isinstance(messages, (PushMessage, Mapping)) else list(messages)
    if keys is None:
        return batch, None
    keys = list(keys)
    if len(keys) != len(batch):
        raise ValidationError(f"keys has {len(keys)} items for {len(batch)} messages", field="keys")
    return batch, keys


def normalized(messages: list[Any]) -> list[Any]:
    """``messages`` with each dict made the ``PushMessage`` the client sends (fields it does not know kept in
    ``extra``), so what is stored to resend decodes to the same notification."""
    return [message_from_dict(m, i) if isinstance(m, Mapping) else m for i, m in enumerate(messages)]


def skipped_ticket(token: str) -> PushTicket:
    """The error ticket handed out for a recipient not sent to because its token is dead."""
    return PushTicket(
        status="error",
        message=f"not sent: the ledger knows {token!r} is not registered",
        details={"error": DEVICE_NOT_REGISTERED, "expoPushToken": token, "skipped": True},
        to=token,
    )


def with_skipped(tickets: list[PushTicket], skipped: list[tuple[int, str]]) -> list[PushTicket]:
    """``tickets`` with an error ticket inserted at the position of each recipient skipped as dead."""
    for position, token in skipped:
        tickets.insert(position, skipped_ticket(token))
    return tickets
