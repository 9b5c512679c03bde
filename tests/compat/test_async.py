"""``expo_push.compat.AsyncPushClient``: the surface of async-expo-push-notifications, over expo-push's async client."""

from __future__ import annotations

import httpx
import pytest

import expo_push
from expo_push.compat import AsyncPushClient, DeviceNotRegisteredError, PushMessage, PushServerError, PushTicket
from expo_push.emulator import Emulator

from .conftest import tokens

ACCESS_TOKEN = "async-access-token"


def test_attributes_follow_the_older_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPO_BASE_URL", "http://127.0.0.1:9")
    push = AsyncPushClient(max_concurrent_requests=4, timeout=5, max_message_count=50)
    assert (push.host, push.api_url, push.max_concurrent_requests) == ("http://127.0.0.1:9", "/--/api/v2", 4)
    assert (push.timeout, push.max_message_count, push.max_receipt_count) == (5, 50, 1000)
    assert AsyncPushClient(host="http://h").max_concurrent_requests == 10


async def test_publish_and_receipts_in_async_with(emu: Emulator) -> None:
    good, dead = tokens(2)
    emu.script_token(dead, receipt_error="DeviceNotRegistered")
    async with AsyncPushClient(host=emu.url) as push:
        ticket = await push.publish(PushMessage(to=good, title="Hi"))
        tickets = await push.publish_multiple([PushMessage(to=dead, title="Hi")])
        receipts = await push.check_receipts_multiple([ticket, *tickets])
        http = push.http_client
    assert isinstance(ticket, PushTicket)
    assert ticket.is_success()
    assert [r.id for r in receipts] == [ticket.id, tickets[0].id]
    receipts[0].validate_response()
    with pytest.raises(DeviceNotRegisteredError):
        receipts[1].validate_response()
    assert http.is_closed  # the client it made is closed on exit


async def test_list_to_is_chunked_by_recipients_and_requests_run_side_by_side(emu: Emulator) -> None:
    recipients = tokens(250)
    async with AsyncPushClient(host=emu.url, max_concurrent_requests=3) as push:
        tickets = await push.publish_multiple([PushMessage(to=recipients)])
    assert [t.push_message.to for t in tickets if t.push_message] == recipients
    assert emu.stats.send_requests == 3
    assert 1 <= emu.stats.max_in_flight <= 3


async def test_an_injected_http_client_is_used_with_its_headers_and_left_open(emu: Emulator) -> None:
    emu.set_access_tokens([ACCESS_TOKEN])
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {ACCESS_TOKEN}"}) as http:
        async with AsyncPushClient(host=emu.url, http_client=http) as push:
            assert push.http_client is http
            tickets = await push.publish_multiple([PushMessage(to=tokens(1)[0])])
            assert len(await push.check_receipts(tickets)) == 1
        assert not http.is_closed


async def test_failures_raise_the_legacy_server_error(emu: Emulator) -> None:
    emu.set_access_tokens([ACCESS_TOKEN])
    async with AsyncPushClient(host=emu.url) as push:
        with pytest.raises(PushServerError) as caught:
            await push.publish(PushMessage(to=tokens(1)[0]))
        with pytest.raises(expo_push.UnauthorizedError):
            await push.check_receipts(["some-id"])
    assert caught.value.message == "Request failed"
    assert caught.value.errors is not None
    assert caught.value.errors[0]["code"] == "UNAUTHORIZED"


async def test_a_client_closed_by_async_with_can_be_used_again(emu: Emulator) -> None:
    push = AsyncPushClient(host=emu.url)
    async with push:
        await push.publish(PushMessage(to=tokens(1)[0]))
    async with push:
        assert (await push.publish(PushMessage(to=tokens(1)[0]))).is_success()


def test_a_custom_api_url_needs_a_client_made_by_expo_push() -> None:
    with pytest.raises(ValueError, match="api_url"):
        AsyncPushClient(host="http://h", api_url="/push-api", http_client=httpx.AsyncClient())


async def test_force_fcm_v1_requests_still_reach_the_service(emu: Emulator) -> None:
    async with AsyncPushClient(host=emu.url, force_fcm_v1=False) as push:
        assert (await push.publish(PushMessage(to=tokens(1)[0]))).is_success()
    assert emu.stats.notifications == 1
