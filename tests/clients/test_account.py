"""The send account: however a send ends, every recipient read is accepted, unsent or in doubt, exactly once,
and everything the service accepted is in the caller's tickets or counted in doubt."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable

import pytest

from expo_push import (
    AsyncPushClient,
    Pacer,
    PushClient,
    PushServerError,
    RetryPolicy,
    SendAccount,
    SendInterrupted,
)
from expo_push.emulator import Emulator

FAST = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.02)


def token(i: int) -> str:
    return f"ExponentPushToken[account-{i}]"


def messages(n: int) -> list[dict[str, object]]:
    return [{"to": token(i), "body": str(i)} for i in range(n)]


class TriggerPacer(Pacer):
    """No pacing, but runs ``action`` when the ``at``-th request is booked (from the thread that books it)."""

    def __init__(self, at: int, action: Callable[[], None]) -> None:
        super().__init__(None)
        self._at = at
        self._action = action
        self._booked = 0
        self._lock2 = threading.Lock()

    def reserve(self, notifications: int, project: str | None) -> float:
        if notifications:
            with self._lock2:
                self._booked += 1
                fire = self._booked == self._at
            if fire:
                self._action()
        return super().reserve(notifications, project)


def check_against_the_service(account: SendAccount, emulator: Emulator, total: int) -> None:
    """The account balances, and agrees with what the emulator accepted."""
    assert emulator.wait_idle(10)
    assert account.done
    assert account.balanced(), account
    accepted = {token(i) for i in range(total) if emulator.messages(token(i))}
    ticketed = {t.to for t in account.tickets if t.ok}
    doubt = {m.to for part in account.in_doubt for m in [part.message]}
    unsent = {part.message.to for part in account.unsent}
    assert ticketed <= accepted
    assert accepted <= ticketed | doubt  # nothing the service took is unaccounted for
    assert not (unsent & accepted)  # nothing called unsent was delivered
    for ticket in account.tickets:
        assert ticket.position is not None
        assert ticket.to == token(ticket.position.message)


def send_with(kind: str, options: dict[str, object], count: int, account: SendAccount) -> None:
    """Send ``count`` messages with a client of ``kind`` (sync or async) made with ``options``."""

    async def main() -> None:
        async with AsyncPushClient(**options) as client:
            await client.send(messages(count), account=account)

    if kind == "async":
        asyncio.run(main())
        return
    with PushClient(**options) as client:
        client.send(messages(count), account=account)


def test_tickets_carry_positions_even_when_one_token_has_two_messages(expo_emulator):
    with PushClient(base_url=expo_emulator.url) as client:
        tickets = client.send([{"to": token(0), "title": "a"}, {"to": [token(1), token(0)], "title": "b"}])
    assert [(t.to, t.position) for t in tickets] == [(token(0), (0, 0)), (token(1), (1, 0)), (token(0), (1, 1))]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_an_unexpected_exception_in_a_send_keeps_what_was_accepted(expo_emulator, kind):
    def boom() -> None:
        raise RuntimeError("the pacer broke")

    account = SendAccount()
    options = {"base_url": expo_emulator.url, "pacer": TriggerPacer(3, boom), "max_concurrency": 1}
    with pytest.raises(RuntimeError, match="the pacer broke"):
        send_with(kind, options, 500, account)
    assert len(account.tickets) == 200  # the two requests before the failure
    assert account.unsent_count == 300
    check_against_the_service(account, expo_emulator, 500)


class BrokenHoldPacer(Pacer):
    """No pacing, but its last look before a request goes out (``held_for``) fails, as a shared pacer's
    database going away does."""

    def __init__(self) -> None:
        super().__init__(None)

    def held_for(self, project: str | None) -> float:
        raise RuntimeError("the pacer's database went away")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_pacer_failing_just_before_a_request_counts_nothing_in_doubt(expo_emulator, kind):
    account = SendAccount()
    options = {"base_url": expo_emulator.url, "pacer": BrokenHoldPacer(), "max_concurrency": 1}
    with pytest.raises(RuntimeError, match="database went away"):
        send_with(kind, options, 250, account)
    assert expo_emulator.stats.requests == 0
    assert account.in_doubt_count == 0  # in doubt means a request may have reached the service
    assert account.unsent_count == 250
    check_against_the_service(account, expo_emulator, 250)


def test_a_cancelled_async_send_closes_its_account_and_lets_the_cancellation_through(expo_emulator):
    expo_emulator.latency = 0.05
    account = SendAccount()

    async def main() -> None:
        current = asyncio.current_task()
        assert current is not None
        pacer = TriggerPacer(6, current.cancel)  # as asyncio.wait_for's timeout does, at a known moment
        async with AsyncPushClient(base_url=expo_emulator.url, pacer=pacer, max_concurrency=2) as client:
            with pytest.raises(asyncio.CancelledError):
                await client.send(messages(3000), account=account)

    asyncio.run(main())
    assert account.tickets  # some went out before the cancellation
    assert account.unsent  # and the rest never started
    check_against_the_service(account, expo_emulator, 3000)


def test_ctrl_c_during_a_sync_send_lets_the_requests_out_come_back_then_raises(expo_emulator, caplog):
    main = threading.main_thread().ident
    assert main is not None
    account = SendAccount()
    pacer = TriggerPacer(5, lambda: signal.pthread_kill(main, signal.SIGINT))
    expo_emulator.latency = 0.05
    with (
        PushClient(base_url=expo_emulator.url, pacer=pacer, max_concurrency=3) as client,
        caplog.at_level("WARNING", logger="expo_push"),
        pytest.raises(KeyboardInterrupt),
    ):
        client.send(messages(2000), account=account)
    assert len(account.tickets) >= 200  # two requests had come back when the fifth was booked
    assert account.in_doubt == []
    assert account.summary() in caplog.text
    check_against_the_service(account, expo_emulator, 2000)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_closing_the_client_during_a_send_ends_it_with_the_account(expo_emulator, kind):
    if kind == "sync":
        client = PushClient(base_url=expo_emulator.url, max_concurrency=2)
        client._pacer = TriggerPacer(4, lambda: threading.Thread(target=client.close).start())
        with pytest.raises(SendInterrupted) as info:
            client.send(messages(2000))
        account = info.value.account
    else:

        async def main() -> SendAccount:
            client = AsyncPushClient(base_url=expo_emulator.url, max_concurrency=2)
            loop = asyncio.get_running_loop()
            client._pacer = TriggerPacer(4, lambda: loop.call_soon(lambda: asyncio.ensure_future(client.aclose())))
            with pytest.raises(SendInterrupted) as info:
                await client.send(messages(2000))
            return info.value.account

        account = asyncio.run(main())
    assert 200 <= len(account.tickets) < 2000  # two requests had come back when the fourth was booked
    check_against_the_service(account, expo_emulator, 2000)


def test_a_closed_client_refuses_new_sends_clearly(expo_emulator):
    client = PushClient(base_url=expo_emulator.url)
    client.close()
    with pytest.raises(RuntimeError, match="this PushClient is closed"):
        client.send(messages(1))


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_request_failing_for_good_puts_the_account_in_the_error(expo_emulator, kind):
    expo_emulator.add_fault("server_error", after=2, count=None)
    account = SendAccount()
    options = {"base_url": expo_emulator.url, "retry_policy": FAST, "max_concurrency": 1}
    if kind == "sync":
        with PushClient(**options) as client, pytest.raises(PushServerError) as info:
            client.send(messages(500), account=account)
    else:

        async def main() -> None:
            async with AsyncPushClient(**options) as client:
                await client.send(messages(500), account=account)

        with pytest.raises(PushServerError) as info:
            asyncio.run(main())
    assert info.value.account is account
    assert [t.position for t in info.value.tickets] == [(i, 0) for i in range(200)]
    check_against_the_service(account, expo_emulator, 500)
