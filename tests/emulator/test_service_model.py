"""The emulator's own model of the service, over real HTTP: what it accepts, how it refuses, what its errors carry."""

from __future__ import annotations

import ast
import gzip
import json
import resource
import zlib
from pathlib import Path

import httpx
import pytest

import expo_push.emulator
from expo_push.emulator import Emulator

from .conftest import RECEIPTS, SEND, token

CONTROL = "/--/emulator"


def _error(response: httpx.Response) -> dict[str, object]:
    errors = response.json()["errors"]
    assert len(errors) == 1
    error: dict[str, object] = errors[0]
    return error


# -- isTransient on request-level errors ---------------------------------------------------------------


def test_validation_errors_say_they_are_not_transient(http: httpx.Client) -> None:
    response = http.post(SEND, json={"to": token(1), "priority": "urgent"})
    assert response.status_code == 400
    assert _error(response) == {
        "code": "VALIDATION_ERROR",
        "message": '"priority" must be one of [default, normal, high]',
        "isTransient": False,
    }


def test_too_many_experience_ids_says_it_is_not_transient(emu: Emulator, http: httpx.Client) -> None:
    emu.set_project(token(2), "@acme/other")
    error = _error(http.post(SEND, json={"to": [token(1), token(2)]}))
    assert (error["code"], error["isTransient"]) == ("PUSH_TOO_MANY_EXPERIENCE_IDS", False)


def test_rate_limit_and_server_errors_say_they_are_transient(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault("server_error", status=503)
    error = _error(http.post(SEND, json={"to": token(1)}))
    assert (error["code"], error["isTransient"]) == ("SERVICE_UNAVAILABLE", True)
    emu.rate_limit = 1
    http.post(SEND, json={"to": token(1)})
    limited = http.post(SEND, json={"to": token(1)})
    assert limited.status_code == 429
    assert (_error(limited)["code"], _error(limited)["isTransient"]) == ("TOO_MANY_REQUESTS", True)


# -- what the service accepts, the emulator accepts -----------------------------------------------------


def test_json_numbers_written_with_a_fraction_are_numbers(emu: Emulator, http: httpx.Client) -> None:
    response = http.post(SEND, content=b'{"to": "%s", "ttl": 3600.0, "badge": 3.0}' % token(1).encode())
    assert response.json()["data"]["status"] == "ok"
    assert emu.messages(token(1)) == [{"to": token(1), "ttl": 3600.0, "badge": 3.0}]


def test_a_token_with_surrounding_whitespace_reaches_the_trimmed_token(emu: Emulator, http: httpx.Client) -> None:
    response = http.post(SEND, json={"to": token(1) + "\n", "title": "Hi"})
    assert response.json()["data"]["status"] == "ok"
    assert emu.tokens() == [token(1)]
    assert emu.messages(token(1)) == [{"to": token(1) + "\n", "title": "Hi"}]  # as received


def test_a_sound_object_with_keys_beyond_the_documented_ones_is_passed_through(
    emu: Emulator, http: httpx.Client
) -> None:
    sound = {"name": "ping.wav", "critical": True, "volume": 0.5, "futureKey": 1}
    assert http.post(SEND, json={"to": token(1), "sound": sound}).status_code == 200
    assert emu.messages(token(1))[0]["sound"] == sound


def test_a_lone_surrogate_escape_is_valid_json_and_kept(emu: Emulator, http: httpx.Client) -> None:
    # What Node and Python write when a string is cut in the middle of an emoji.
    body = b'[{"to": "%s", "title": "cut \\ud83c", "body": "fine"}]' % token(1).encode()
    response = http.post(SEND, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json()["data"][0]["status"] == "ok"
    assert emu.messages(token(1))[0]["title"] == "cut \ud83c"
    inbox = http.get(f"{CONTROL}/inbox/{token(1)}").json()["data"]
    assert inbox[0]["message"]["title"] == "cut \ud83c"


def test_unknown_fields_and_nulls_are_accepted(emu: Emulator, http: httpx.Client) -> None:
    message = {"to": token(1), "title": None, "channel_id": "orders", "interruptionLevel": "time-sensitive"}
    assert http.post(SEND, json=message).status_code == 200
    assert emu.messages(token(1)) == [message]


@pytest.mark.parametrize(
    ("message", "complaint"),
    [
        ({"to": token(1), "title": 5}, '"title" must be a string'),
        ({"to": token(1), "data": [1, 2]}, '"data" must be of type object'),
        ({"to": token(1), "ttl": "3600"}, '"ttl" must be a number'),
        ({"to": token(1), "badge": True}, '"badge" must be a number'),
        ({"to": token(1), "mutableContent": "yes"}, '"mutableContent" must be a boolean'),
        ({"to": token(1), "sound": 1}, '"sound" must be one of [string, object]'),
        ({"to": []}, '"to" must contain at least 1 items'),
        ({"to": [token(1), 7]}, '"to[1]" must be a string'),
        ({"to": 7}, '"to" must be one of [string, array]'),
    ],
)
def test_documented_field_types_are_enforced_with_a_message_naming_the_field(
    emu: Emulator, http: httpx.Client, message: dict[str, object], complaint: str
) -> None:
    response = http.post(SEND, json=message)
    assert response.status_code == 400
    assert _error(response)["message"] == complaint
    assert emu.stats.notifications == 0


# -- per-notification outcomes -----------------------------------------------------------------------


def test_registered_only_answers_unknown_tokens_as_the_docs_example_does(emu: Emulator, http: httpx.Client) -> None:
    emu.registered_only = True
    emu.register(token("real"))
    tickets = http.post(SEND, json=[{"to": token("made-up")}, {"to": token("real")}]).json()["data"]
    assert tickets[0] == {
        "status": "error",
        "message": f'"{token("made-up")}" is not a registered push notification recipient',
        "details": {"error": "DeviceNotRegistered", "expoPushToken": token("made-up")},
    }
    assert tickets[1]["status"] == "ok"
    assert emu.tokens() == [token("real")]
    emu.register(token("real"), registered=False)
    assert http.post(SEND, json={"to": token("real")}).json()["data"]["status"] == "error"


def test_registration_over_http(http: httpx.Client) -> None:
    assert http.post(f"{CONTROL}/config", json={"registered_only": True}).json()["registered_only"] is True
    assert http.post(f"{CONTROL}/register", json={"tokens": [token(1)]}).status_code == 200
    tickets = http.post(SEND, json={"to": [token(1), token(2)]}).json()["data"]
    assert [t["status"] for t in tickets] == ["ok", "error"]


def test_any_code_can_come_on_a_ticket_with_details_only_the_service_gives(emu: Emulator, http: httpx.Client) -> None:
    emu.script_token(token(1), ticket_error="MessageTooBig")
    ticket = http.post(SEND, json={"to": token(1)}).json()["data"]
    assert ticket["status"] == "error"
    assert ticket["details"] == {"error": "MessageTooBig"}  # expoPushToken is given on DeviceNotRegistered only
    assert "4096" in ticket["message"]


def test_provider_details_come_with_the_receipt(emu: Emulator, http: httpx.Client) -> None:
    apns = {"apns": {"reason": "InvalidProviderToken", "statusCode": 403}}
    emu.script_token(token(1), receipt_error="InvalidCredentials", details=apns)
    http.post(f"{CONTROL}/script", json={"token": token(2), "receipt_error": "ProviderError",
                                           "details": {"fcm": {"code": "messaging/internal-error"}}})  # fmt: skip
    ids = [t["id"] for t in http.post(SEND, json={"to": [token(1), token(2)]}).json()["data"]]
    receipts = http.post(RECEIPTS, json={"ids": ids}).json()["data"]
    assert receipts[ids[0]]["details"] == {"error": "InvalidCredentials", **apns}
    assert receipts[ids[1]]["details"] == {"error": "ProviderError", "fcm": {"code": "messaging/internal-error"}}


def test_a_lost_receipt_never_arrives(emu: Emulator, http: httpx.Client) -> None:
    emu.script_token(token(1), receipt_lost=True)
    ids = [t["id"] for t in http.post(SEND, json={"to": [token(1), token(2)]}).json()["data"]]
    emu.advance(15 * 60)
    assert set(http.post(RECEIPTS, json={"ids": ids}).json()["data"]) == {ids[1]}
    (delivery,) = emu.inbox(token(1))
    assert delivery.receipt_lost
    assert not delivery.delivered


def test_a_lost_receipt_cannot_also_carry_an_error(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="receipt_lost"):
        emu.script_token(token(1), receipt_error="MessageTooBig", receipt_lost=True)


# -- limits and hostile bodies -----------------------------------------------------------------------


def test_a_body_over_the_size_limit_is_answered_413(emu: Emulator, http: httpx.Client) -> None:
    emu.max_body_bytes = 10_000
    response = http.post(SEND, json=[{"to": token(i), "body": "x" * 200} for i in range(60)])
    assert response.status_code == 413
    assert _error(response)["code"] == "PAYLOAD_TOO_LARGE"
    assert emu.stats.notifications == 0
    assert http.post(SEND, json={"to": token(1)}).status_code == 200


def test_a_gzip_bomb_is_refused_without_being_inflated(emu: Emulator, http: httpx.Client) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"\0" * (1 << 20)
    bomb = b"".join(compressor.compress(zeros) for _ in range(128)) + compressor.flush()  # 128 MiB once inflated
    assert len(bomb) < 1 << 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    response = http.post(SEND, content=bomb, headers={"Content-Encoding": "gzip"})
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert response.status_code == 413
    assert _error(response)["code"] == "PAYLOAD_TOO_LARGE"
    assert grown_kib < 48 * 1024


def test_deep_nesting_is_refused_not_a_server_error(http: httpx.Client) -> None:
    deep = b'{"to": "%s", "data": {"x": ' % token(1).encode() + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    response = http.post(SEND, content=deep)
    assert response.status_code == 400
    assert _error(response)["code"] == "VALIDATION_ERROR"
    deep_gzip = gzip.compress(deep)
    assert http.post(SEND, content=deep_gzip, headers={"Content-Encoding": "gzip"}).status_code == 400


def test_unknown_paths_get_a_json_404(http: httpx.Client) -> None:
    response = http.post("/--/api/v2/push/sendd", json={})
    assert response.status_code == 404
    assert _error(response)["code"] == "NOT_FOUND"


def test_a_double_slash_says_the_base_url_ends_with_a_slash(emu: Emulator) -> None:
    response = httpx.post(emu.url + "/" + SEND, json={"to": token(1)})
    assert response.status_code == 404
    assert "base URL" in str(_error(response)["message"])


def test_a_wrong_method_gets_a_json_405(http: httpx.Client) -> None:
    response = http.get(SEND)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert _error(response)["code"] == "METHOD_NOT_ALLOWED"
    assert http.delete(f"{CONTROL}/stats").status_code == 405


def test_json_error_bodies_are_json(http: httpx.Client) -> None:
    for response in (http.get("/nothing"), http.put(SEND, content=b"{}")):
        assert response.headers["content-type"].startswith("application/json")
        json.loads(response.content)


def test_the_emulator_imports_nothing_of_the_clients_validation() -> None:
    # Tests of the client against the emulator must not agree by construction.
    allowed = {"expo_push._arguments", "expo_push._public", "expo_push._signals"}  # command lines, public names
    for path in Path(expo_push.emulator.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 2:
                assert f"expo_push.{node.module}" in allowed, (path.name, node.module)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert not node.module.startswith("expo_push") or node.module.startswith("expo_push.emulator"), (
                    path.name,
                    node.module,
                )


def test_a_gzip_body_of_several_members_is_read_whole(emu: Emulator, http: httpx.Client) -> None:
    raw = json.dumps([{"to": token(i), "body": "x"} for i in range(3)]).encode()
    body = gzip.compress(raw[:20]) + gzip.compress(raw[20:])  # what `gzip -c a b` writes
    response = http.post(SEND, content=body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert len(response.json()["data"]) == 3
