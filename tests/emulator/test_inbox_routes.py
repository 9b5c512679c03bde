"""The routes the inbox page reads, over plain HTTP: the feed, the event stream, the raw requests, the page's files."""

from __future__ import annotations

import json

import httpx

from expo_push.emulator import Emulator

from .conftest import SEND, token

CONTROL = "/--/emulator"


def test_the_feed_lists_accepted_notifications_after_a_sequence_number(emu: Emulator, http: httpx.Client) -> None:
    http.post(SEND, json=[{"to": token(1), "title": "a"}, {"to": token(2), "title": "b"}])
    http.post(SEND, json={"to": token(1), "title": "c"})
    feed = http.get(f"{CONTROL}/feed").json()
    assert [(d["seq"], d["token"], d["message"]["title"], d["request"]) for d in feed["data"]] == [
        (1, token(1), "a", 1),
        (2, token(2), "b", 1),
        (3, token(1), "c", 2),
    ]
    assert feed["stats"]["notifications"] == 3
    assert [d["seq"] for d in http.get(f"{CONTROL}/feed?after=2").json()["data"]] == [3]
    assert [d["seq"] for d in http.get(f"{CONTROL}/feed?limit=1").json()["data"]] == [3]


def test_a_raw_request_is_kept_as_received(emu: Emulator, http: httpx.Client) -> None:
    http.post(SEND, json={"to": token(1), "title": "Hi"}, headers={"User-Agent": "my-backend/1.0"})
    request = http.get(f"{CONTROL}/requests/1").json()
    assert request["body"] == {"to": token(1), "title": "Hi"}
    assert request["headers"]["user-agent"] == "my-backend/1.0"
    assert request["httpVersion"] == "1.1"
    assert emu.request(1) == request
    assert http.get(f"{CONTROL}/requests/2").status_code == 404


def test_the_event_stream_sends_what_changes_and_ends_cleanly_when_the_emulator_stops() -> None:
    emu = Emulator().start()
    try:
        with httpx.Client(base_url=emu.url, timeout=10) as http, http.stream("GET", f"{CONTROL}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            first = _next_update(lines)
            assert (first["reset"], first["deliveries"], first["stats"]["notifications"]) == (True, [], 0)
            httpx.post(emu.url + SEND, json={"to": token(1), "title": "live"})
            update = _next_update(lines)
            while not update["deliveries"]:  # a change may come as its own event before the notification's
                update = _next_update(lines)
            assert [d["message"]["title"] for d in update["deliveries"]] == ["live"]
            emu.stop()
            rest = list(lines)  # the stream ends with the emulator, without a broken connection
            assert all(line == "" or line.startswith(("event: update", "data: ")) for line in rest)
    finally:
        emu.stop()


def _next_update(lines: object) -> dict[str, object]:
    for line in lines:  # type: ignore[attr-defined]
        if line.startswith("data: "):
            update: dict[str, object] = json.loads(line[len("data: ") :])
            return update
    raise AssertionError("the event stream ended")


def test_the_page_and_its_files_are_served_with_a_strict_policy(http: httpx.Client) -> None:
    page = http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    for name in ("inbox.css", "inbox.js", "icon.svg"):
        assert f"/--/inbox/{name}" in page.text
        assert http.get(f"/--/inbox/{name}").status_code == 200
    assert "http://" not in page.text
    assert "https://" not in page.text
