"""Send a workload with expo-push: ``python expo_push_driver.py MODE '<workload JSON>'``.

Modes: ``sync`` (``PushClient.send`` of a list), ``async`` (``AsyncPushClient.send``),
``sync-stream`` / ``async-stream`` (``iter_send`` over a generator, tickets
counted and dropped, for bounded memory), ``compat`` (the
``exponent_server_sdk``-shaped layer, ``expo_push.compat``, used as that SDK's
README says: ``PushClient(host=...).publish_multiple``). Pacing is on (the
default 600/s) only when the emulator enforces the service's limit; otherwise
``rate_limit=None``, as the emulator has none.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import _workload

import expo_push


def _messages(workload: dict[str, Any]) -> Iterator[expo_push.PushMessage]:
    return (expo_push.PushMessage(**raw) for raw in _workload.message_dicts(workload))


def _options(workload: dict[str, Any]) -> dict[str, Any]:
    return {} if workload["paced"] else {"rate_limit": None}


def _unsent(exc: expo_push.PushServerError) -> list[str]:
    return [token for message in exc.unsent for token in message.recipients]


def _count(outcome: _workload.Outcome, tickets: list[expo_push.PushTicket]) -> None:
    for ticket in tickets:
        outcome.ticket(ticket.ok)


def _failed(outcome: _workload.Outcome, exc: expo_push.PushServerError, unread: list[str]) -> None:
    """Count the tickets a failed send kept, and record what it says (and the caller knows) was not sent."""
    _count(outcome, exc.tickets)
    outcome.error(exc, _unsent(exc) + unread)


def _unread(workload: dict[str, Any], read: int) -> list[str]:
    """Tokens of the messages a send never read (a stream stops reading at a failure): known not sent."""
    first = read * workload["per_message"]
    return [_workload.token(workload["run"], i) for i in range(first, workload["notifications"])]


class _Counted:
    """An iterator that counts how many messages were taken from it."""

    def __init__(self, messages: Iterator[expo_push.PushMessage]) -> None:
        self._messages = messages
        self.read = 0

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> expo_push.PushMessage:
        message = next(self._messages)
        self.read += 1
        return message


def run_sync(workload: dict[str, Any], outcome: _workload.Outcome, *, stream: bool) -> None:
    messages = _Counted(_messages(workload))
    with expo_push.PushClient(**_options(workload)) as client:
        source = messages if stream else list(messages)
        outcome.start()
        try:
            for ticket in client.iter_send(source) if stream else client.send(source):
                outcome.ticket(ticket.ok)
        except expo_push.PushServerError as exc:
            _failed(outcome, exc, _unread(workload, messages.read))
        outcome.stop()


async def run_async(workload: dict[str, Any], outcome: _workload.Outcome, *, stream: bool) -> None:
    messages = _Counted(_messages(workload))
    async with expo_push.AsyncPushClient(**_options(workload)) as client:
        source = messages if stream else list(messages)
        outcome.start()
        try:
            if stream:
                async for ticket in client.iter_send(source):
                    outcome.ticket(ticket.ok)
            else:
                _count(outcome, await client.send(source))
        except expo_push.PushServerError as exc:
            _failed(outcome, exc, _unread(workload, messages.read))
        outcome.stop()


def run_compat(workload: dict[str, Any], outcome: _workload.Outcome) -> None:
    compat: Any = importlib.import_module("expo_push.compat")
    messages = [compat.PushMessage(**raw) for raw in _workload.message_dicts(workload)]
    client = compat.PushClient(host=os.environ["EXPO_BASE_URL"], **_options(workload))
    outcome.start()
    try:
        for ticket in client.publish_multiple(messages):
            outcome.ticket(ticket.is_success())
    except compat.PushServerError as exc:  # keeps what went out: push_tickets, and unsent (expo-push messages)
        for ticket in exc.push_tickets:
            outcome.ticket(ticket.is_success())
        outcome.error(exc, _unsent(exc))
    outcome.stop()


def main() -> int:
    mode = sys.argv.pop(1)
    workload = _workload.load()
    outcome = _workload.Outcome(workload)
    stream = mode.endswith("-stream")
    if mode in ("sync", "sync-stream"):
        run_sync(workload, outcome, stream=stream)
    elif mode in ("async", "async-stream"):
        asyncio.run(run_async(workload, outcome, stream=stream))
    elif mode == "compat":
        run_compat(workload, outcome)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    _workload.report(outcome)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
