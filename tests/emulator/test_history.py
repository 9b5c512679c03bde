"""The emulator's memory is bounded: the latest ``history`` notifications are kept, older ones evicted,
their receipts still answered; the inbox can be cleared without forgetting scripts and settings."""

from __future__ import annotations

import httpx
import pytest

from expo_push.emulator import Emulator
from expo_push.emulator._history import KEPT_EXCHANGES

from .conftest import RECEIPTS, SEND, token

CONTROL = "/--/emulator"


def _send(http: httpx.Client, first: int, count: int) -> list[str]:
    answer = http.post(SEND, json=[{"to": token(i % 3), "title": f"n{i}"} for i in range(first, first + count)])
    return [ticket["id"] for ticket in answer.json()["data"]]


def test_the_default_history_is_documented_and_bounded() -> None:
    assert Emulator().history == 10_000


def test_only_the_latest_notifications_are_kept_and_older_receipts_are_still_answered() -> None:
    with Emulator(rate_limit=None, history=5) as emu, httpx.Client(base_url=emu.url) as http:
        ids = _send(http, 0, 8)
        assert [d.message["title"] for d in emu.inbox(token(0))] == ["n3", "n6"]  # n0 was evicted
        assert [m["title"] for m in emu.messages(token(2))] == ["n5"]
        feed = http.get(f"{CONTROL}/feed").json()
        assert [d["seq"] for d in feed["data"]] == [4, 5, 6, 7, 8]
        assert (feed["kept"], feed["accepted"]) == (5, 8)
        assert emu.stats.notifications == 8
        receipts = http.post(RECEIPTS, json={"ids": ids}).json()["data"]
        assert sorted(receipts) == sorted(ids)  # evicted from the inbox, not from the service


def test_duplicates_are_judged_among_the_kept_notifications() -> None:
    with Emulator(rate_limit=None, history=2) as emu, httpx.Client(base_url=emu.url) as http:
        same = {"to": token(1), "title": "same"}
        http.post(SEND, json=[same, same])
        assert emu.stats.duplicates == 1
        http.post(SEND, json=[{"to": token(2)}, {"to": token(3)}])  # both "same" evicted
        http.post(SEND, json=same)
        assert emu.stats.duplicates == 1


def test_the_history_can_be_changed_while_running_and_the_oldest_go_at_once(emu: Emulator, http: httpx.Client) -> None:
    _send(http, 0, 6)
    assert http.post(f"{CONTROL}/config", json={"history": 2}).json()["history"] == 2
    assert [d["message"]["title"] for d in http.get(f"{CONTROL}/feed").json()["data"]] == ["n4", "n5"]
    emu.history = 10
    _send(http, 6, 3)
    assert len(http.get(f"{CONTROL}/feed").json()["data"]) == 5
    with pytest.raises(ValueError, match="history must be a positive number"):
        emu.history = 0


def test_exchanges_are_kept_whole_for_the_latest_thousand_only(emu: Emulator, http: httpx.Client) -> None:
    emu.rate_limit = None
    for _ in range(KEPT_EXCHANGES + 2):
        http.post(SEND, json={"to": token(1)})
    assert emu.request(1) is None
    assert emu.request(2) is None
    assert emu.request(3) is not None
    missing = http.get(f"{CONTROL}/requests/1")
    assert missing.status_code == 404
    assert "only the latest 1000 are kept" in missing.json()["errors"][0]["message"]


def test_clearing_the_inbox_keeps_scripts_projects_settings_and_receipts(emu: Emulator, http: httpx.Client) -> None:
    emu.script_token(token(9), receipt_error="DeviceNotRegistered")
    emu.set_project(token(8), "@acme/other")
    emu.receipt_delay = 5
    ids = _send(http, 0, 3)
    assert http.post(f"{CONTROL}/clear").json() == {"ok": True}
    assert emu.tokens() == []
    assert http.get(f"{CONTROL}/feed").json()["data"] == []
    assert http.get(f"{CONTROL}/traffic").json()["data"] == []
    assert emu.receipt_delay == 5
    emu.advance(5)
    assert sorted(http.post(RECEIPTS, json={"ids": ids}).json()["data"]) == sorted(ids)
    (ticket,) = [http.post(SEND, json={"to": token(9)}).json()["data"]["id"]]
    emu.advance(5)
    assert (
        http.post(RECEIPTS, json={"ids": [ticket]}).json()["data"][ticket]["details"]["error"] == "DeviceNotRegistered"
    )
    refused = http.post(SEND, json=[{"to": token(8)}, {"to": token(1)}]).json()
    assert refused["errors"][0]["code"] == "PUSH_TOO_MANY_EXPERIENCE_IDS"
    assert [d["seq"] for d in http.get(f"{CONTROL}/feed").json()["data"]] == [4]  # numbering goes on


def test_one_notification_can_be_deleted(emu: Emulator, http: httpx.Client) -> None:
    _send(http, 0, 3)
    assert http.delete(f"{CONTROL}/notifications/2").json() == {"ok": True}
    assert [d["seq"] for d in http.get(f"{CONTROL}/feed").json()["data"]] == [1, 3]
    assert http.get(f"{CONTROL}/notifications/2").status_code == 404
    assert http.get(f"{CONTROL}/notifications/3").json()["message"]["title"] == "n2"
    assert http.delete(f"{CONTROL}/notifications/2").status_code == 404
