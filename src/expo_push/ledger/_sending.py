"""One send recorded in the ledger, whoever drives it (``Ledger.send``, ``send_async``, ``expo-push send``): what
goes out (recipients known dead taken out), and every ticket recorded under its own message, by position, as
it comes and however the send ends."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .._account import Position, SendAccount
from .._message import recipients_of
from .._models import PushTicket
from ._messages import (
    all_recipients,
    batch_and_keys,
    message_json,
    narrow,
    normalized,
    resend_payload,
    skipped_ticket,
)

__all__ = ["RecordedSend", "SendPlan", "plan_send"]


class SendPlan:
    """One recorded send: the messages that go out (dead recipients removed), and the key of each; tickets
    are then attributed to their message by position, never by token."""

    def __init__(
        self,
        inputs: list[Any],
        origin: list[int],
        keys: Sequence[str | None],
        skipped: list[tuple[int, str]],
    ) -> None:
        self.inputs = inputs
        """The messages that go out as given (narrowed to their live recipients)."""
        self.origin = origin
        """The index in the caller's messages of each of ``inputs``."""
        self.outgoing = normalized(inputs)
        """``inputs``, each made the ``PushMessage`` the client sends (so what is stored decodes the same)."""
        self.keys = keys
        self.skipped = skipped
        """(ticket position, token) of each recipient not sent to because its token is dead."""
        self._counts = [len(recipients_of(m) or ()) for m in self.outgoing]
        self._recipients = sum(self._counts)
        self._payloads: dict[int, Any] = {}

    def _payload(self, index: int) -> Any:
        payload = self._payloads.get(index)
        if payload is None:
            payload = self._payloads[index] = resend_payload(self.outgoing[index], self._counts[index])
        return payload

    def attribute(self, tickets: Sequence[PushTicket]) -> tuple[Sequence[str | None], Sequence[Any]]:
        """The key and message (as kept to resend) of each ticket, by the ticket's position."""
        if len(tickets) == self._recipients and len(tickets) == len(self.outgoing):
            return self.keys, self.outgoing  # every recipient answered, one per message: in input order
        keys: list[str | None] = []
        payloads: list[Any] = []
        for ticket in tickets:
            position = ticket.position
            if position is None or not 0 <= position.message < len(self.outgoing):
                raise ValueError(f"a ticket without a position in this send: {ticket!r}")
            keys.append(self.keys[position.message])
            payloads.append(self._payload(position.message))
        return keys, payloads



def plan_send(
    messages: Any, keys: Sequence[str | None] | None, dead_among: Callable[[list[str]], set[str]] | None
) -> SendPlan:
    """The plan of a recorded send: ``dead_among`` (None: send to every token) says which tokens are dead."""
    batch, keys = batch_and_keys(messages, keys)
    out_keys: Sequence[str | None] = keys if keys is not None else [None] * len(batch)
    dead = dead_among(all_recipients(batch)) if dead_among is not None else set()
    if not dead:
        return SendPlan(batch, list(range(len(batch))), out_keys, [])
    inputs: list[Any] = []
    origin: list[int] = []
    kept_keys: list[str | None] = []
    skipped: list[tuple[int, str]] = []
    position = 0
    for index, (message, key) in enumerate(zip(batch, out_keys, strict=True)):
        tokens = recipients_of(message)
        if tokens is None or dead.isdisjoint(tokens):
            inputs.append(message)
            origin.append(index)
            kept_keys.append(key)
            position += len(tokens or ())
            continue
        for token in tokens:
            if token in dead:
                skipped.append((position, token))
            position += 1
        kept = [t for t in tokens if t not in dead]
        if kept:
            inputs.append(narrow(message, kept))
            origin.append(index)
            kept_keys.append(key)
    return SendPlan(inputs, origin, kept_keys, skipped)


class RecordedSend:
    """A send on its way, recorded as it goes: ``record`` the tickets as they come (any number of times: a
    ticket is recorded once), then ``finish`` with the send's account however it ended."""

    def __init__(
        self,
        plan: SendPlan,
        record: Callable[[Sequence[PushTicket], Sequence[str | None], Sequence[Any]], None],
        record_in_doubt: Callable[[Sequence[tuple[str | None, str, str]]], None],
        learn_projects: Callable[[SendAccount], None],
    ) -> None:
        self.plan = plan
        self._record = record
        self._record_in_doubt = record_in_doubt
        self._learn_projects = learn_projects
        self._recorded: set[Position | None] = set()

    @property
    def outgoing(self) -> list[Any]:
        """What the client is to send."""
        return self.plan.outgoing

    def skipped_tickets(self) -> list[PushTicket]:
        """The error ticket of each recipient not sent to because its token is dead, in input order."""
        return [skipped_ticket(token) for _, token in self.plan.skipped]

    def record(self, tickets: Sequence[PushTicket]) -> None:
        """Record ``tickets`` of this send not recorded yet, each under its own message's key (by position)."""
        new = [t for t in tickets if t.position not in self._recorded]
        if new:
            self._record(new, *self.plan.attribute(new))
            self._recorded.update(t.position for t in new)

    def finish(self, account: SendAccount) -> None:
        """However the send ended: record every ticket of ``account`` not recorded yet, and its recipients in
        doubt (status ``in_doubt``, with their message); remember the projects the service named."""
        self.record(account.tickets)
        self._record_in_doubt(
            [
                (self.plan.keys[part.index], token, message_json(narrow(part.message, [token])))
                for part in account.in_doubt
                for token in recipients_of(part.message) or ()
            ]
        )
        self._learn_projects(account)
