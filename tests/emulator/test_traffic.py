"""Every push request is visible with its answer, refused and faulted ones too, numbered across all requests;
a notification's detail holds the whole exchange; the feed is searched with field filters."""

from __future__ import annotations

import contextlib
import gzip
import json

import httpx

from expo_push.emulator import Emulator

from .conftest import RECEIPTS, SEND, token

CONTROL = "/--/emulator"


def test_every_request_is_numbered_and_kept_with_its_answer_refused_ones_too(emu: Emulator, http: httpx.Client) -> None:
    emu.set_project(token("other"), "@acme/other")
    emu.script_token(token("dead"), ticket_error="DeviceNotRegistered")
    emu.max_body_bytes = 2000
    http.post(SEND, json={"to": token(1), "badge": "three"})  # 1: 400 VALIDATION_ERROR
    http.post(SEND, json=[{"to": token(1)}, {"to": token("other")}])  # 2: 400 PUSH_TOO_MANY_EXPERIENCE_IDS
    http.post(SEND, json=[{"to": token(1), "title": "ok"}, {"to": token("dead")}, {"to": "not-a-token"}])  # 3
    http.post(SEND, json={"to": token(1), "body": "x" * 3000})  # 4: 413
    emu.add_fault("rate_limit", retry_after=1)
    http.post(SEND, json={"to": token(1)})  # 5: 429 by a fault
    emu.set_access_tokens(["secret"])
    http.post(SEND, json={"to": token(1)})  # 6: 401
    http.post(RECEIPTS, json={"ids": ["nope"]}, headers={"Authorization": "Bearer secret"})  # 7

    traffic = http.get(f"{CONTROL}/traffic").json()["data"]
    assert [(t["id"], t["kind"], t["status"], t["errorCode"]) for t in traffic] == [
        (1, "send", 400, "VALIDATION_ERROR"),
        (2, "send", 400, "PUSH_TOO_MANY_EXPERIENCE_IDS"),
        (3, "send", 200, None),
        (4, "send", 413, "PAYLOAD_TOO_LARGE"),
        (5, "send", 429, "TOO_MANY_REQUESTS"),
        (6, "send", 401, "UNAUTHORIZED"),
        (7, "receipts", 200, None),
    ]
    assert traffic[2]["ticketErrors"] == {"DeviceNotRegistered": 2}
    assert (traffic[2]["tickets"], traffic[2]["notifications"]) == (3, [1, 1])
    assert traffic[4]["fault"] == "rate_limit"
    assert [t["accessToken"] for t in traffic][-2:] == [False, True]
    assert "body" not in traffic[0]  # the list is light; each request is whole at its own route

    refused = http.get(f"{CONTROL}/requests/1").json()
    assert refused["body"] == {"to": token(1), "badge": "three"}
    assert refused["answer"]["errors"][0]["message"] == '"badge" must be a number'
    assert emu.request(2)["answer"]["errors"][0]["details"] == {
        "@test/app": [token(1)],
        "@acme/other": [token("other")],
    }  # type: ignore[index]
    tickets = http.get(f"{CONTROL}/requests/3").json()["answer"]["data"]
    assert [t["status"] for t in tickets] == ["ok", "error", "error"]
    assert "secret" not in json.dumps(http.get(f"{CONTROL}/requests/7").json())
    assert http.get(f"{CONTROL}/feed").json()["data"][0]["request"] == 3


def test_an_unknown_request_number_is_named_as_such_not_as_an_unknown_route(http: httpx.Client) -> None:
    answer = http.get(f"{CONTROL}/requests/2")
    assert answer.status_code == 404
    message = answer.json()["errors"][0]["message"]
    assert "No request '2' is kept" in message
    assert "no route" not in message


def test_a_compressed_request_is_kept_inflated_and_an_unanswered_one_as_such(emu: Emulator, http: httpx.Client) -> None:
    body = gzip.compress(json.dumps({"to": token(1), "title": "zipped"}).encode())
    http.post(SEND, content=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    kept = http.get(f"{CONTROL}/requests/1").json()
    assert (kept["body"]["title"], kept["bytes"], kept["headers"]["content-encoding"]) == ("zipped", len(body), "gzip")
    emu.add_fault("drop")
    with contextlib.suppress(httpx.RemoteProtocolError):
        http.post(SEND, json={"to": token(1)})
    dropped = http.get(f"{CONTROL}/requests/2").json()
    assert (dropped["status"], dropped["errorCode"], dropped["answer"], dropped["fault"]) == (
        None,
        "NO_ANSWER",
        None,
        "drop",
    )


def test_a_notification_detail_holds_the_ticket_the_receipt_and_whether_it_was_fetched(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.receipt_delay = 900
    emu.script_token(token(1), receipt_error="InvalidCredentials", details={"apns": {"reason": "InvalidProviderToken"}})
    message = {"to": token(1), "title": "t", "mutableContent": True, "_contentAvailable": True, "expiration": 99}
    ticket_id = http.post(SEND, json=message, headers={"Authorization": "Bearer x"}).json()["data"]["id"]
    detail = http.get(f"{CONTROL}/notifications/1").json()
    assert detail["ticket"] == {"status": "ok", "id": ticket_id}
    assert detail["receipt"]["details"] == {"error": "InvalidCredentials", "apns": {"reason": "InvalidProviderToken"}}
    assert (detail["receiptFetchedAt"], detail["receiptFetches"], detail["accessToken"]) == (None, 0, True)
    assert detail["payloadBytes"] == len(
        json.dumps({k: v for k, v in message.items() if k != "to"}, separators=(",", ":"))
    )
    assert detail["exchange"]["id"] == 1
    http.post(RECEIPTS, json={"ids": [ticket_id]})  # too early: not answered, so not fetched
    emu.advance(900)
    http.post(RECEIPTS, json={"ids": [ticket_id]})
    http.post(RECEIPTS, json={"ids": [ticket_id]})
    fetched = http.get(f"{CONTROL}/notifications/1").json()
    assert (fetched["receiptFetchedAt"], fetched["receiptFetches"]) == (emu.now(), 2)


def test_the_feed_is_searched_in_data_token_and_ticket_with_field_filters(emu: Emulator, http: httpx.Client) -> None:
    emu.script_token(token("dead"), receipt_error="DeviceNotRegistered")
    answer = http.post(SEND, json=[
        {"to": token("anna"), "title": "Invoice", "data": {"orderId": "Q-17"}},
        {"to": token("ben"), "title": "Hello", "body": "your invoice"},
        {"to": token("dead"), "title": "Gone"},
    ]).json()  # fmt: skip
    ben_ticket = answer["data"][1]["id"]

    def titles(query: str) -> list[str]:
        found = http.get(f"{CONTROL}/feed", params={"q": query}).json()
        return [d["message"]["title"] for d in found["data"]]

    assert titles("invoice") == ["Invoice", "Hello"]
    assert titles("q-17") == ["Invoice"]
    assert titles("device-ben") == ["Hello"]
    assert titles(ben_ticket[:13]) == ["Hello"]
    assert titles(f"token:{token('anna')}") == ["Invoice"]
    assert titles("status:error") == ["Gone"]
    assert titles("data:orderid invoice") == ["Invoice"]
    assert titles("title:hello body:invoice") == ["Hello"]
    assert http.get(f"{CONTROL}/feed", params={"q": "invoice"}).json()["matched"] == 2


def test_notifications_can_be_tagged_and_found_by_tag(emu: Emulator, http: httpx.Client) -> None:
    http.post(SEND, json=[{"to": token(1), "title": "a"}, {"to": token(2), "title": "b"}])
    assert http.put(f"{CONTROL}/notifications/2/tags", json={"tags": ["bug-17", "vip"]}).json()["ok"]
    assert http.get(f"{CONTROL}/notifications/2").json()["tags"] == ["bug-17", "vip"]
    assert [d["message"]["title"] for d in http.get(f"{CONTROL}/feed", params={"q": "tag:vip"}).json()["data"]] == ["b"]
    assert http.get(f"{CONTROL}/feed", params={"q": "tag:vi"}).json()["data"] == []  # a whole tag, not a part
    refused = http.put(f"{CONTROL}/notifications/1/tags", json={"tags": ["two words"]})
    assert refused.status_code == 400
    assert "a tag is 1 to 40 letters" in refused.json()["errors"][0]["message"]
    assert http.put(f"{CONTROL}/notifications/9/tags", json={"tags": ["x"]}).status_code == 404
    assert http.put(f"{CONTROL}/notifications/2/tags", json={"tags": []}).json()["ok"]
    assert http.get(f"{CONTROL}/notifications/2").json()["tags"] == []
