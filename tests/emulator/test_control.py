"""The control routes under /--/emulator/: the same scripting, faults and inspection over HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
import pytest

from expo_push.emulator import Emulator

from .conftest import RECEIPTS, SEND, token

CONTROL = "/--/emulator"


def test_stats_over_http(emu: Emulator, http: httpx.Client) -> None:
    http.post(SEND, json={"to": [token(1), token(2)]})
    http.post(SEND, json={"to": token(1)})
    stats = http.get(f"{CONTROL}/stats").json()
    assert stats == emu.stats.as_dict()
    assert stats["requests"] == 2
    assert stats["notifications"] == 3
    assert stats["duplicates"] == 1
    assert stats["bytes_received"] > 0


def test_inbox_over_http(emu: Emulator, http: httpx.Client) -> None:
    ticket = http.post(SEND, json={"to": [token(1), token(2)], "title": "Hi"}).json()["data"][0]
    inbox = http.get(f"{CONTROL}/inbox/{quote(token(1))}").json()["data"]
    assert len(inbox) == 1
    assert {name: inbox[0][name] for name in ("message", "ticket_id", "project", "receipt_error", "token")} == {
        "message": {"to": token(1), "title": "Hi"},
        "ticket_id": ticket["id"],
        "project": "@test/app",
        "receipt_error": None,
        "token": token(1),
    }
    assert http.get(f"{CONTROL}/inbox/{quote(token(3))}").json() == {"data": []}


def test_faults_over_http(emu: Emulator, http: httpx.Client) -> None:
    added = http.post(f"{CONTROL}/faults", json=[{"kind": "server_error", "status": 503}, {"kind": "rate_limit"}])
    assert added.status_code == 200
    assert [f["kind"] for f in http.get(f"{CONTROL}/faults").json()["data"]] == ["server_error", "rate_limit"]
    assert http.post(SEND, json={"to": token(1)}).status_code == 503
    assert http.delete(f"{CONTROL}/faults").status_code == 200
    assert emu.faults == []
    assert http.post(SEND, json={"to": token(1)}).status_code == 200
    single = http.post(f"{CONTROL}/faults", json={"kind": "drop", "accept": True})
    assert single.json()["data"][0]["accept"] is True
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(SEND, json={"to": token(2)})
    assert len(emu.inbox(token(2))) == 1


@pytest.mark.parametrize(
    "body", [{"kind": "nope"}, {"status": 500}, {"kind": "drop", "colour": "red"}, "not an object", [1]]
)
def test_invalid_faults_over_http_are_refused(emu: Emulator, http: httpx.Client, body: object) -> None:
    response = http.post(f"{CONTROL}/faults", json=body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "VALIDATION_ERROR"
    assert emu.faults == []


def test_release_over_http(emu: Emulator, http: httpx.Client) -> None:
    http.post(f"{CONTROL}/faults", json={"kind": "stall"})
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=emu.url, timeout=10) as other:
        held = pool.submit(other.post, SEND, json={"to": token(1)})
        assert emu.wait_for_stalls(1)
        assert http.post(f"{CONTROL}/release").json() == {"released": 1}
        assert held.result(timeout=10).status_code == 200


def test_script_over_http(emu: Emulator, http: httpx.Client) -> None:
    assert http.post(f"{CONTROL}/script", json={"token": token(1), "ticket_error": "DeviceNotRegistered"}).is_success
    assert http.post(f"{CONTROL}/script", json={"tokens": [token(2)], "receipt_error": "InvalidCredentials"}).is_success
    tickets = http.post(SEND, json={"to": [token(1), token(2)]}).json()["data"]
    assert tickets[0]["details"]["error"] == "DeviceNotRegistered"
    receipt = http.post(RECEIPTS, json={"ids": [tickets[1]["id"]]}).json()["data"][tickets[1]["id"]]
    assert receipt["details"]["error"] == "InvalidCredentials"
    http.post(f"{CONTROL}/script", json={"token": token(1)})
    assert http.post(SEND, json={"to": token(1)}).json()["data"]["status"] == "ok"


def test_projects_over_http(emu: Emulator, http: httpx.Client) -> None:
    assert http.post(f"{CONTROL}/project", json={"tokens": [token(1)], "project": "@a/b"}).is_success
    assert http.post(f"{CONTROL}/script", json={"token": token(2), "project": "@c/d"}).is_success
    response = http.post(SEND, json=[{"to": token(1)}, {"to": token(2)}, {"to": token(3)}])
    assert response.json()["errors"][0]["details"] == {"@a/b": [token(1)], "@c/d": [token(2)], "@test/app": [token(3)]}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("script", {}),
        ("script", {"token": 5}),
        ("script", {"token": token(1), "ticket_error": 3}),
        ("script", {"token": token(1), "colour": "red"}),
        ("project", {"token": token(1)}),
        ("project", {"token": token(1), "project": ""}),
        ("script", {"token": token(1), "ticket_error": ""}),
        ("config", {"rate_limit": -1}),
        ("config", {"speed": 3}),
        ("advance", {}),
        ("advance", {"seconds": -1}),
    ],
)
def test_invalid_control_requests_are_refused(http: httpx.Client, path: str, body: object) -> None:
    response = http.post(f"{CONTROL}/{path}", json=body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "VALIDATION_ERROR"


def test_control_body_must_be_json(http: httpx.Client) -> None:
    assert http.post(f"{CONTROL}/script", content=b"{").status_code == 400


def test_config_and_advance_over_http(emu: Emulator, http: httpx.Client) -> None:
    config = http.post(f"{CONTROL}/config", json={"rate_limit": None, "receipt_delay": 30, "latency": 0}).json()
    assert http.get(f"{CONTROL}/config").json() == config
    assert config["rate_limit"] is None
    assert config["receipt_delay"] == 30
    assert emu.receipt_delay == 30
    ticket_id = http.post(SEND, json={"to": token(1)}).json()["data"]["id"]
    assert http.post(RECEIPTS, json={"ids": [ticket_id]}).json() == {"data": {}}
    assert http.post(f"{CONTROL}/advance", json={"seconds": 30}).is_success
    assert ticket_id in http.post(RECEIPTS, json={"ids": [ticket_id]}).json()["data"]


def test_reset_over_http_forgets_everything(emu: Emulator, http: httpx.Client) -> None:
    emu.rate_limit = 5
    emu.script_token(token(1), ticket_error="DeviceNotRegistered")
    emu.set_project(token(2), "@a/b")
    emu.add_fault("server_error", count=None)
    http.post(RECEIPTS, json={"ids": []})
    assert http.post(f"{CONTROL}/reset").is_success
    assert emu.stats.requests == 0
    assert emu.faults == []
    assert emu.rate_limit == 600
    tickets = http.post(SEND, json={"to": [token(1), token(2)]}).json()["data"]
    assert [t["status"] for t in tickets] == ["ok", "ok"]


def test_control_requests_are_not_counted_faulted_or_authorized() -> None:
    with Emulator(access_tokens=["t"]) as emu, httpx.Client(base_url=emu.url) as http:
        emu.add_fault("server_error", target="any", count=None)
        assert http.get(f"{CONTROL}/stats").json()["requests"] == 0
        assert http.get(f"{CONTROL}/stats").status_code == 200
