"""The send endpoint: answer shapes, validation, request limits, projects, access tokens, inboxes."""

from __future__ import annotations

import gzip
import json
import uuid
import zlib

import httpx
import pytest

from expo_push.emulator import Emulator

from .conftest import SEND, token


def _is_uuid4(value: str) -> bool:
    return uuid.UUID(value).version == 4


def test_single_message_to_one_token_is_answered_with_one_ticket_object(http: httpx.Client) -> None:
    response = http.post(SEND, json={"to": token(1), "title": "Hi"})
    assert response.status_code == 200
    ticket = response.json()["data"]
    assert ticket["status"] == "ok"
    assert _is_uuid4(ticket["id"])


def test_array_body_is_answered_with_a_ticket_list_in_request_order(emu: Emulator, http: httpx.Client) -> None:
    response = http.post(SEND, json=[{"to": token(i), "body": str(i)} for i in range(3)])
    tickets = response.json()["data"]
    assert [t["status"] for t in tickets] == ["ok", "ok", "ok"]
    for i, ticket in enumerate(tickets):
        assert [d.ticket_id for d in emu.inbox(token(i))] == [ticket["id"]]


def test_single_message_with_a_list_to_gets_one_ticket_per_recipient(emu: Emulator, http: httpx.Client) -> None:
    response = http.post(SEND, json={"to": [token(1), token(2)], "title": "Hi", "data": {"k": 1}})
    tickets = response.json()["data"]
    assert isinstance(tickets, list)
    assert len(tickets) == 2
    assert emu.messages(token(1)) == [{"to": token(1), "title": "Hi", "data": {"k": 1}}]
    assert emu.messages(token(2)) == [{"to": token(2), "title": "Hi", "data": {"k": 1}}]
    assert emu.inbox(token(2))[0].ticket_id == tickets[1]["id"]


def test_inbox_keeps_the_message_as_received_in_order(emu: Emulator, http: httpx.Client) -> None:
    http.post(SEND, json={"to": token(1), "title": "first", "someFutureField": [1, 2]})
    http.post(SEND, json=[{"to": token(1), "title": "second", "priority": "high"}])
    assert emu.messages(token(1)) == [
        {"to": token(1), "title": "first", "someFutureField": [1, 2]},
        {"to": token(1), "title": "second", "priority": "high"},
    ]
    delivery = emu.inbox(token(1))[0]
    assert delivery.project == "@test/app"
    assert delivery.delivered
    assert emu.tokens() == [token(1)]
    assert emu.inbox(token(99)) == []


def test_gzip_request_bodies_are_accepted_and_counted_compressed(emu: Emulator, http: httpx.Client) -> None:
    raw = json.dumps([{"to": token(i), "body": "x" * 200} for i in range(50)]).encode()
    body = gzip.compress(raw)
    response = http.post(SEND, content=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert response.status_code == 200
    assert len(response.json()["data"]) == 50
    assert emu.stats.bytes_received == len(body) < len(raw)


def test_deflate_request_bodies_are_accepted(emu: Emulator, http: httpx.Client) -> None:
    body = zlib.compress(json.dumps({"to": token(1)}).encode())
    response = http.post(SEND, content=body, headers={"Content-Encoding": "deflate"})
    assert response.json()["data"]["status"] == "ok"


def _error(response: httpx.Response) -> dict[str, object]:
    errors = response.json()["errors"]
    assert len(errors) == 1
    error: dict[str, object] = errors[0]
    return error


def test_malformed_json_is_a_validation_error(emu: Emulator, http: httpx.Client) -> None:
    response = http.post(SEND, content=b'{"to": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert _error(response)["code"] == "VALIDATION_ERROR"
    assert "not valid JSON" in str(_error(response)["message"])
    assert _error(response)["isTransient"] is False
    assert emu.stats.errors == 1


def test_corrupt_gzip_is_a_validation_error(http: httpx.Client) -> None:
    response = http.post(SEND, content=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert _error(response)["code"] == "VALIDATION_ERROR"


def test_body_that_is_neither_object_nor_array_is_a_validation_error(http: httpx.Client) -> None:
    for body in ("just a string", 42, [], ["not an object"]):
        response = http.post(SEND, json=body)
        assert response.status_code == 400, body
        assert _error(response)["code"] == "VALIDATION_ERROR"


def test_invalid_message_is_refused_whole_with_a_message_naming_the_field(emu: Emulator, http: httpx.Client) -> None:
    response = http.post(SEND, json=[{"to": token(1)}, {"to": token(2), "badge": "three"}])
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert str(error["message"]) == '"[1].badge" must be a number'
    assert error["isTransient"] is False
    assert emu.inbox(token(1)) == []
    assert emu.stats.notifications == 0


def test_a_recipient_that_is_no_expo_token_gets_an_error_ticket_and_the_others_go_through(
    emu: Emulator, http: httpx.Client
) -> None:
    response = http.post(SEND, json={"to": ["a" * 64, token(1)]})
    assert response.status_code == 200
    bad, good = response.json()["data"]
    assert bad["status"] == "error"
    assert bad["details"] == {"error": "DeviceNotRegistered", "expoPushToken": "a" * 64}
    assert "not a valid Expo push token" in bad["message"]
    assert good["status"] == "ok"
    assert emu.tokens() == [token(1)]


def test_missing_to_is_refused(http: httpx.Client) -> None:
    response = http.post(SEND, json={"title": "nobody"})
    assert response.status_code == 400
    assert _error(response)["message"] == '"to" is required'


def test_one_hundred_notifications_are_accepted(emu: Emulator, http: httpx.Client) -> None:
    response = http.post(SEND, json={"to": [token(i) for i in range(100)]})
    assert response.status_code == 200
    assert emu.stats.notifications == 100


def test_list_recipients_count_toward_the_100_limit(emu: Emulator, http: httpx.Client) -> None:
    body = [{"to": [token(i) for i in range(60)]}, {"to": [token(i) for i in range(60, 101)]}]
    response = http.post(SEND, json=body)
    assert response.status_code == 400
    assert _error(response)["code"] == "PUSH_TOO_MANY_NOTIFICATIONS"
    assert emu.stats.notifications == 0


def test_tokens_of_several_projects_are_refused_with_the_tokens_of_each(emu: Emulator, http: httpx.Client) -> None:
    emu.set_project([token("b1"), token("b2")], "@acme/other")
    body = [{"to": [token("a1"), token("b1")]}, {"to": token("b2")}, {"to": token("a1")}]
    response = http.post(SEND, json=body)
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "PUSH_TOO_MANY_EXPERIENCE_IDS"
    assert error["details"] == {"@test/app": [token("a1")], "@acme/other": [token("b1"), token("b2")]}
    assert emu.stats.notifications == 0


def test_tokens_of_one_other_project_are_accepted(emu: Emulator, http: httpx.Client) -> None:
    emu.set_project(token(1), "@acme/other")
    response = http.post(SEND, json={"to": token(1)})
    assert response.status_code == 200
    assert emu.inbox(token(1))[0].project == "@acme/other"


def test_default_project_is_configurable() -> None:
    with Emulator(default_project="@me/mine") as emulator, httpx.Client(base_url=emulator.url) as http:
        emulator.set_project(token(2), "@me/other")
        response = http.post(SEND, json=[{"to": token(1)}, {"to": token(2)}])
        assert response.json()["errors"][0]["details"] == {"@me/mine": [token(1)], "@me/other": [token(2)]}


def test_access_tokens_are_required_when_configured() -> None:
    with Emulator(access_tokens=["s3cret", "other"]) as emulator, httpx.Client(base_url=emulator.url) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            response = http.post(SEND, json={"to": token(1)}, headers=headers)
            assert response.status_code == 401
            error = _error(response)
            assert error["code"] == "UNAUTHORIZED"
            assert "s3cret" not in response.text
        assert emulator.stats.errors == 3
        ok = http.post(SEND, json={"to": token(1)}, headers={"Authorization": "Bearer other"})
        assert ok.status_code == 200
        assert http.post(SEND, json={"to": token(1)}, headers={"Authorization": "bearer s3cret"}).status_code == 200
        assert emulator.stats.notifications == 2
        assert "s3cret" not in repr(emulator)


def test_access_tokens_can_be_turned_on_and_off(emu: Emulator, http: httpx.Client) -> None:
    emu.set_access_tokens(["t"])
    assert http.post(SEND, json={"to": token(1)}).status_code == 401
    emu.set_access_tokens(None)
    assert http.post(SEND, json={"to": token(1)}).status_code == 200


def test_identical_notifications_to_the_same_token_count_as_duplicates(emu: Emulator, http: httpx.Client) -> None:
    http.post(SEND, json={"to": [token(1), token(2)], "title": "same"})
    http.post(SEND, json={"to": token(1), "title": "same"})
    http.post(SEND, json={"to": token(1), "title": "different"})
    stats = emu.stats
    assert stats.notifications == 4
    assert stats.duplicates == 1
    assert len(emu.inbox(token(1))) == 3


def test_scripted_device_not_registered_ticket(emu: Emulator, http: httpx.Client) -> None:
    dead = token("dead")
    emu.script_token(dead, ticket_error="DeviceNotRegistered")
    tickets = http.post(SEND, json={"to": [token(1), dead]}).json()["data"]
    assert tickets[0]["status"] == "ok"
    assert tickets[1] == {
        "status": "error",
        "message": f'"{dead}" is not a registered push notification recipient',
        "details": {"error": "DeviceNotRegistered", "expoPushToken": dead},
    }
    assert emu.inbox(dead) == []
    assert emu.stats.ticket_errors == 1
    assert emu.stats.notifications == 1


def test_single_message_to_a_scripted_dead_token_gets_one_error_object(emu: Emulator, http: httpx.Client) -> None:
    emu.script_token(token(1), ticket_error="DeviceNotRegistered")
    ticket = http.post(SEND, json={"to": token(1)}).json()["data"]
    assert ticket["status"] == "error"
    assert ticket["details"]["error"] == "DeviceNotRegistered"


def test_unscripting_a_token_restores_normal_delivery(emu: Emulator, http: httpx.Client) -> None:
    emu.script_token(token(1), ticket_error="DeviceNotRegistered")
    emu.script_token(token(1))
    assert http.post(SEND, json={"to": token(1)}).json()["data"]["status"] == "ok"


def test_latency_delays_every_answer(emu: Emulator) -> None:
    emu.latency = 0.2
    assert emu.latency == 0.2
    with httpx.Client(base_url=emu.url) as http:
        response = http.post(SEND, json={"to": token(1)})
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.2


def test_large_answers_are_gzip_compressed_for_clients_that_accept_it(http: httpx.Client) -> None:
    body = {"to": [token(i) for i in range(100)]}
    compressed = http.post(SEND, json=body, headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["Content-Encoding"] == "gzip"
    assert len(compressed.json()["data"]) == 100
    plain = http.post(SEND, json=body, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert len(plain.json()["data"]) == 100
    small = http.post(SEND, json={"to": token(1)}, headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers


def test_error_codes_must_be_non_empty_strings(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="ticket_error"):
        emu.script_token(token(1), ticket_error="")
    with pytest.raises(ValueError, match="receipt_error"):
        emu.script_token(token(1), receipt_error=3)  # type: ignore[arg-type]


def test_ticket_ids_are_distinct_canonical_uuid4_strings(http: httpx.Client) -> None:
    tickets = http.post(SEND, json={"to": [token(i) for i in range(100)]}).json()["data"]
    ids = [t["id"] for t in tickets]
    assert len(set(ids)) == 100
    for ticket_id in ids:
        parsed = uuid.UUID(ticket_id)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, ticket_id)
