"""The plugin's client fixtures as a user's test suite would use them."""

from __future__ import annotations

from expo_push import AsyncPushClient, PushClient
from expo_push.emulator import Emulator

from .conftest import token


def test_sync_fixture_sends_to_the_emulator(expo_emulator: Emulator, expo_push_client: PushClient) -> None:
    (ticket,) = expo_push_client.send({"to": token("user-1"), "title": "Your order shipped"})
    assert ticket.ok
    assert expo_emulator.messages(token("user-1")) == [{"to": token("user-1"), "title": "Your order shipped"}]


async def test_async_fixture_sends_to_the_emulator(
    expo_emulator: Emulator, async_expo_push_client: AsyncPushClient
) -> None:
    tickets = [t async for t in async_expo_push_client.iter_send({"to": token(i)} for i in range(150))]
    assert [t.to for t in tickets] == [token(i) for i in range(150)]
    receipts = await async_expo_push_client.get_receipts(t.id or "" for t in tickets)
    assert len(receipts) == 150
    assert expo_emulator.stats.notifications == 150
