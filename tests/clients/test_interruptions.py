"""Sends stopped at random moments, in random ways, under random faults of the emulator: the account balances
exactly every time, and everything the emulator accepted is in the tickets or counted in doubt.

Each scenario is drawn from its seed, so a failure names the seed that reproduces it:
``pytest tests/clients/test_interruptions.py -k 'seed-17'``.
"""

from __future__ import annotations

import asyncio
import random
import signal
import threading
from typing import Any

import pytest

from expo_push import (
    AsyncPushClient,
    PushClient,
    PushServerError,
    RetryPolicy,
    SendAccount,
    SendInterrupted,
)
from expo_push.emulator import Emulator

from .test_account import TriggerPacer

SCENARIOS = 200
WAYS = ("signal", "close", "break", "raise", "none")


class Scenario:
    """One random send and how it is stopped."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.seed = seed
        self.kind = rng.choice(["sync", "async"])
        self.way = rng.choice(WAYS)
        self.messages: list[dict[str, Any]] = []
        self.tokens: list[str] = []
        for m in range(rng.randint(20, 300)):
            count = rng.choice([1, 1, 1, 2, 7])
            to = [f"ExponentPushToken[s{seed}-m{m}-r{r}]" for r in range(count)]
            self.tokens.extend(to)
            self.messages.append({"to": to[0] if count == 1 and rng.random() < 0.7 else to, "body": f"{m}"})
        self.at = rng.randint(1, max(1, len(self.tokens) // 100 + 1))
        self.after_tickets = rng.randint(0, len(self.tokens))
        self.options: dict[str, Any] = {
            "max_concurrency": rng.randint(1, 4),
            "rate_limit": None,
            "retry_policy": RetryPolicy(max_retries=rng.randint(0, 2), initial_delay=0.005, max_delay=0.01),
            "attempt_timeout": 2.0,
            "interrupt_grace": rng.choice([0.0, 0.05, 0.3]),
        }
        self.faults = [
            {"kind": kind, "probability": rng.choice([0.0, 0.05, 0.2]), "seed": seed, "count": None, **extra}
            for kind, extra in (
                ("server_error", {}),
                ("drop", {"accept": rng.random() < 0.5}),
                ("invalid_json", {"accept": rng.random() < 0.5}),
                ("stall", {"seconds": 0.1}),
            )
        ]


STOPS: dict[str, tuple[type[BaseException], ...]] = {
    "signal": (KeyboardInterrupt, asyncio.CancelledError),
    "close": (SendInterrupted,),
    "raise": (RuntimeError,),
}


def _expected(way: str) -> tuple[type[BaseException], ...]:
    return (*STOPS.get(way, ()), PushServerError)


def _run_sync(scenario: Scenario, url: str, account: SendAccount) -> None:
    client = PushClient(base_url=url, **scenario.options)
    main = threading.main_thread().ident
    assert main is not None
    action = {
        "signal": lambda: signal.pthread_kill(main, signal.SIGINT),
        "close": lambda: threading.Thread(target=client.close).start(),
        "raise": _raise,
    }.get(scenario.way)
    if action is not None:
        client._pacer = TriggerPacer(scenario.at, action)
    try:
        if scenario.way == "break":
            for count, _ in enumerate(client.iter_send(scenario.messages, account=account)):
                if count >= scenario.after_tickets:
                    break
        else:
            client.send(scenario.messages, account=account)
    finally:
        client.close()


def _raise() -> None:
    raise RuntimeError("raised inside the send")


async def _run_async(scenario: Scenario, url: str, account: SendAccount) -> None:
    client = AsyncPushClient(base_url=url, **scenario.options)
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    action = {
        "signal": task.cancel,  # what asyncio.run does on Ctrl-C, and asyncio.wait_for on its timeout
        "close": lambda: loop.call_soon(lambda: asyncio.ensure_future(client.aclose())),
        "raise": _raise,
    }.get(scenario.way)
    if action is not None:
        client._pacer = TriggerPacer(scenario.at, action)
    try:
        if scenario.way == "break":
            count = 0
            stream = client.iter_send(scenario.messages, account=account)
            async for _ in stream:
                count += 1
                if count > scenario.after_tickets:
                    break
            await stream.aclose()  # type: ignore[attr-defined]
        else:
            await client.send(scenario.messages, account=account)
    finally:
        await asyncio.shield(client.aclose())


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed-{s}") for s in range(SCENARIOS)])
def test_a_send_stopped_at_random_accounts_for_every_recipient(seed: int, expo_emulator: Emulator) -> None:
    scenario = Scenario(seed)
    for fault in scenario.faults:
        if fault["probability"]:
            expo_emulator.add_fault(**fault)
    account = SendAccount()
    try:
        if scenario.kind == "sync":
            _run_sync(scenario, expo_emulator.url, account)
        else:
            asyncio.run(_run_async(scenario, expo_emulator.url, account))
    except _expected(scenario.way):
        pass
    expo_emulator.release_stalls()
    assert expo_emulator.wait_idle(10)
    assert account.done, account
    assert account.balanced(), account
    if scenario.way == "break":
        # read is what the client had taken from the input; the rest was never read
        assert account.read <= len(scenario.tokens)
    else:
        assert account.read == len(scenario.tokens)
    accepted = {t for t in scenario.tokens if expo_emulator.messages(t)}
    ticketed = {t.to for t in account.tickets if t.ok}
    in_doubt = {r for part in account.in_doubt for r in _recipients(part.message.to)}
    unsent = {r for part in account.unsent for r in _recipients(part.message.to)}
    assert ticketed <= accepted
    assert accepted <= ticketed | in_doubt, sorted(accepted - ticketed - in_doubt)[:5]
    assert not unsent & accepted
    for ticket in account.tickets:
        assert ticket.position is not None
        message = scenario.messages[ticket.position.message]
        assert ticket.to == _recipients(message["to"])[ticket.position.recipient]


def _recipients(to: Any) -> list[str]:
    return [to] if isinstance(to, str) else list(to)
