"""What a person sees on the inbox page, round two: every exchange (refused ones too), a notification's
whole exchange, phones that draw what a phone would, finding things, a burst, and the dark theme.

Playwright drives the system's headless Chromium; every wait is one of its expectations: nothing sleeps.
"""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from expo_push.emulator import Emulator

from .conftest import RECEIPTS, SEND, FrozenClock, cards, token

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

CONTROL = "/--/emulator"


@pytest.fixture
def emu(clock: FrozenClock) -> Iterator[Emulator]:
    with Emulator(rate_limit=None, clock=clock) as emulator:
        yield emulator


@pytest.fixture
def http(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url, timeout=10.0) as client:
        yield client


def exchanges(page: Any) -> Any:
    return page.locator('[data-testid="exchange"]')


def test_the_traffic_view_shows_every_request_refused_ones_too_numbered_across_all(
    emu: Emulator, http: httpx.Client, page: Any
) -> None:
    emu.set_project(token("other"), "@acme/other")
    emu.script_token(token("dead"), ticket_error="DeviceNotRegistered")
    emu.max_body_bytes = 2000
    http.post(SEND, json={"to": token(1), "badge": "three"})
    http.post(SEND, json=[{"to": token(1)}, {"to": token("other")}])
    http.post(SEND, json={"to": token(1), "body": "x" * 3000})
    emu.add_fault("rate_limit", retry_after=1)
    http.post(SEND, json={"to": token(1)})
    http.post(SEND, json=[{"to": token(1), "title": "fine"}, {"to": token("dead")}, {"to": "not-a-token"}])
    emu.set_access_tokens(["secret"])
    http.post(SEND, json={"to": token(1)})
    page.click("#tab-traffic")
    rows = exchanges(page)
    expect(rows).to_have_count(6)
    expect(rows.locator("td:nth-child(1)")).to_have_text(["#6", "#5", "#4", "#3", "#2", "#1"])
    expect(rows.locator("td:nth-child(3)")).to_have_text(["401", "200", "429", "413", "400", "400"])
    expect(rows.locator("td:nth-child(4)")).to_have_text([
        "UNAUTHORIZED", "3 tickets, errors: DeviceNotRegistered \u00d72", "TOO_MANY_REQUESTS", "PAYLOAD_TOO_LARGE",
        "PUSH_TOO_MANY_EXPERIENCE_IDS", "VALIDATION_ERROR",
    ])  # fmt: skip
    rows.last.click()
    expect(page.locator('[data-testid="request-body"]')).to_contain_text('"badge": "three"')
    expect(page.locator('[data-testid="answer"]')).to_contain_text('\\"badge\\" must be a number')
    assert page.url.endswith("#/traffic/1")  # the exchange has a URL of its own
    page.click("#tab-notifications")
    expect(cards(page).locator(".raw")).to_have_text(["request #5"])  # the only notification accepted


def test_a_notification_detail_shows_the_whole_exchange(emu: Emulator, http: httpx.Client, page: Any) -> None:
    emu.receipt_delay = 900
    emu.script_token(token(1), receipt_error="InvalidCredentials", details={"apns": {"reason": "InvalidProviderToken"}})
    message = {"to": token(1), "title": "Hi", "mutableContent": True, "_contentAvailable": True,
               "expiration": 1900000000, "collapseId": "c-1", "threadId": "th-9"}  # fmt: skip
    ticket = http.post(SEND, json=message, headers={"Authorization": "Bearer x"}).json()["data"]["id"]
    cards(page).first.locator(".open").click()
    detail = page.locator('[data-testid="detail"]')
    facts = detail.locator(".facts")
    for name, value in [("mutableContent", "true"), ("_contentAvailable", "true"), ("expiration", "1900000000"),
                        ("collapseId", "c-1"), ("threadId", "th-9"), ("access token", "sent")]:  # fmt: skip
        expect(facts.locator(f'[data-fact="{name}"]')).to_have_text(value)
    size = len(json.dumps({k: v for k, v in message.items() if k != "to"}, separators=(",", ":")))
    expect(facts.locator('[data-fact="payload"]')).to_have_text(f"{size} of 4096 bytes")
    expect(facts.locator('[data-fact="ticket answered"]')).to_have_text(
        json.dumps({"status": "ok", "id": ticket}, separators=(",", ":"))
    )
    expect(facts.locator('[data-fact="receipt"]')).to_contain_text('"apns":{"reason":"InvalidProviderToken"}')
    expect(facts.locator('[data-fact="receipt fetched"]')).to_contain_text("no: the backend never asked for it")
    emu.advance(900)
    http.post(RECEIPTS, json={"ids": [ticket]})
    page.reload()
    expect(page.locator('[data-testid="detail"] [data-fact="receipt fetched"]')).to_have_text(
        "yes, first at t=1900.0 s (1\u00d7)"
    )


def test_the_phones_draw_what_a_phone_would_and_mark_what_would_not_arrive(
    emu: Emulator, http: httpx.Client, page: Any
) -> None:
    emu.script_token(token("gone"), receipt_error="DeviceNotRegistered")
    long_body = " ".join(f"Sentence number {i} of a long body." for i in range(20))
    http.post(SEND, json=[
        {"to": token("gone"), "title": "To a dead token"},
        {"to": token("big"), "title": "Too big", "data": {"blob": "x" * 5000}},
        {"to": token("quiet"), "data": {"sync": True}, "_contentAvailable": True},
        {"to": token("long"), "title": "Long", "body": long_body},
        {"to": token("image"), "title": "Broken image", "richContent": {"image": "http://127.0.0.1:9/none.png"}},
        {"to": token("rtl"), "title": "مرحبا", "body": "تم شحن طلبك"},
    ])  # fmt: skip
    expect(cards(page)).to_have_count(6)
    by_token = {t: cards(page).filter(has=page.locator(".token", has_text=token(t))) for t in
                ("gone", "big", "quiet", "long", "image", "rtl")}  # fmt: skip
    expect(by_token["gone"].locator('[data-testid="verdict"]')).to_have_text("would not arrive: DeviceNotRegistered")
    expect(by_token["big"].locator('[data-testid="verdict"]')).to_have_text("would not arrive: MessageTooBig")
    expect(by_token["long"].locator('[data-testid="verdict"]')).to_be_hidden()
    quiet = by_token["quiet"]
    expect(quiet.locator(".ios-card")).to_be_hidden()
    expect(quiet.locator(".android-card")).to_be_hidden()
    expect(quiet.locator(".ios .silent")).to_have_text("no banner: a data-only message wakes the app, it shows nothing")
    body = by_token["long"].locator(".ios .body")
    line = float(body.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
    assert body.bounding_box()["height"] <= 4 * line + 1  # iOS shows four lines of it, not twenty sentences
    android_body = by_token["long"].locator(".android .body")
    assert android_body.bounding_box()["height"] <= 2 * line + 2
    expect(by_token["image"].locator(".ios .image-broken")).to_have_text(
        "image did not load: http://127.0.0.1:9/none.png"
    )
    expect(by_token["image"].locator(".ios .thumb")).to_be_hidden()
    rtl = by_token["rtl"].locator(".ios .body")
    assert rtl.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert by_token["long"].locator(".ios .body").evaluate("e => getComputedStyle(e).direction") == "ltr"


def test_finding_by_data_token_and_ticket_a_view_per_device_and_clearing(
    emu: Emulator, http: httpx.Client, page: Any
) -> None:
    emu.script_token(token("dead"), ticket_error="DeviceNotRegistered")
    answer = http.post(SEND, json=[{"to": token(i), "title": f"n{i}", "data": {"order": f"Q-{i}"}}
                                   for i in range(60)]).json()  # fmt: skip
    expect(cards(page)).to_have_count(60)
    titles = cards(page).locator(".ios .title")
    page.fill("#search", "q-42")  # no ticket id (hex) can hold a "q"
    expect(titles).to_have_text(["n42"])
    page.fill("#search", answer["data"][7]["id"])
    expect(titles).to_have_text(["n7"])
    page.fill("#search", "")
    expect(cards(page)).to_have_count(60)
    assert page.locator("#recent-tokens option").count() == 50  # not one option per token ever seen
    http.post(SEND, json={"to": token(3), "title": "again"})
    cards(page).filter(has_text="again").locator(".token").click()  # a view of one device
    expect(titles).to_have_text(["again", "n3"])
    expect(page.locator("#count")).to_have_text("2 shown of 2 matching (61 kept)")
    assert "token" in page.url
    page.goto(emu.url)
    page.click("#clear-inbox")
    expect(cards(page)).to_have_count(0)
    assert emu.tokens() == []
    assert http.post(SEND, json={"to": token("dead")}).json()["data"]["status"] == "error"  # scripts stay


def test_after_a_burst_the_page_shows_the_latest_of_all_kept(emu: Emulator, http: httpx.Client, page: Any) -> None:
    emu.history = 3000
    for batch in range(50):
        http.post(SEND, json=[{"to": token(f"{batch}-{i}"), "title": f"n{batch * 100 + i}"} for i in range(100)])
    expect(cards(page).first.locator(".ios .title")).to_have_text("n4999")
    expect(page.locator("#count")).to_have_text("latest 200 of 3000 kept · 2000 older ones forgotten (history 3000)")
    assert cards(page).count() == 200
    assert page.locator("#recent-tokens option").count() == 50


def test_a_new_notification_is_announced_by_the_browser_when_allowed(
    browser: Any, emu: Emulator, http: httpx.Client
) -> None:
    context = browser.new_context()
    context.grant_permissions(["notifications"], origin=emu.url)
    context.add_init_script("""
        window.shownNotifications = [];
        window.Notification = class extends window.Notification {
            constructor(title, options) { super(title, options); window.shownNotifications.push(title); }
        };
    """)
    page = context.new_page()
    page.goto(emu.url)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    page.check("#notify")
    http.post(SEND, json={"to": token(1), "title": "Ding"})
    expect(cards(page)).to_have_count(1)
    page.wait_for_function("window.shownNotifications.length === 1")
    assert page.evaluate("window.shownNotifications") == ["Ding"]
    context.close()


def test_the_page_is_dark_when_the_system_is(browser: Any, emu: Emulator) -> None:
    colours = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme)
        page = context.new_page()
        page.goto(emu.url)
        colours[scheme] = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
        context.close()
    assert colours == {"light": "rgb(243, 244, 247)", "dark": "rgb(13, 14, 20)"}


def test_a_deleted_notification_leaves_every_open_page(browser: Any, emu: Emulator, http: httpx.Client) -> None:
    context = browser.new_context()
    first, second = context.new_page(), context.new_page()
    for page in (first, second):
        page.goto(emu.url)
        expect(page.locator("#live")).to_have_attribute("data-state", "live")
    http.post(SEND, json=[{"to": token(1), "title": "keep"}, {"to": token(2), "title": "drop"}])
    for page in (first, second):
        expect(cards(page).locator(".ios .title")).to_have_text(["drop", "keep"])
    cards(first).filter(has_text="drop").locator(".delete").click()
    for page in (first, second):
        expect(cards(page).locator(".ios .title")).to_have_text(["keep"])
    assert emu.messages(token(2)) == []
    context.close()


def test_a_request_answered_after_a_later_one_still_shows_in_the_traffic(
    emu: Emulator, http: httpx.Client, page: Any
) -> None:
    emu.add_fault("stall")
    page.click("#tab-traffic")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        held = pool.submit(http.post, SEND, json={"to": token(1), "title": "held"})
        assert emu.wait_for_stalls(1)
        http.post(SEND, json={"to": token(2), "title": "quick"})
        expect(exchanges(page).locator("td:nth-child(1)")).to_have_text(["#2"])
        emu.release_stalls()
        assert held.result(timeout=10).status_code == 200
    expect(exchanges(page).locator("td:nth-child(1)")).to_have_text(["#2", "#1"])


def test_a_notification_tagged_on_its_page_shows_its_tags_and_is_found_by_them(
    emu: Emulator, http: httpx.Client, page: Any
) -> None:
    http.post(SEND, json=[{"to": token(1), "title": "first"}, {"to": token(2), "title": "second"}])
    cards(page).filter(has_text="first").locator(".open").click()
    page.fill("#tags-input", "flaky checkout")
    page.click("#save-tags")
    expect(page.locator("#action-result")).to_have_text("tags saved")
    page.click("#tab-notifications")
    expect(cards(page).filter(has_text="first").locator(".tags a")).to_have_text(["flaky", "checkout"])
    cards(page).filter(has_text="first").locator(".tags a", has_text="flaky").click()
    expect(cards(page).locator(".ios .title")).to_have_text(["first"])


def test_a_long_unbroken_title_stays_inside_its_phone(emu: Emulator, http: httpx.Client, page: Any) -> None:
    """A title with no space to break at (a URL, an id) is cut with an ellipsis, as on a phone; it does not widen
    the Android card over the card's facts."""
    title = "https://shop.example.com/orders/" + "7" * 120
    http.post(SEND, json={"to": token("url"), "title": title, "body": "b"})
    expect(cards(page)).to_have_count(1)
    card = cards(page).first
    facts = card.locator(".meta").bounding_box()
    for phone in ("ios", "android"):
        box = card.locator(f".{phone}").bounding_box()
        assert box["x"] + box["width"] <= facts["x"], f"the {phone} phone runs over the card's facts"
        shown = card.locator(f".{phone} .title")
        assert shown.evaluate("e => e.scrollWidth > e.clientWidth")  # cut, with its ellipsis


def test_the_page_of_a_notification_no_longer_kept_offers_no_tags_to_save(
    emu: Emulator, http: httpx.Client, page: Any
) -> None:
    """Its tag editor would save onto the notification viewed before (or nothing): it is not shown."""
    http.post(SEND, json={"to": token(1), "title": "kept"})
    cards(page).filter(has_text="kept").locator(".open").click()
    expect(page.locator("#tag-editor")).to_be_visible()
    page.goto(f"{emu.url}/#/n/999")
    expect(page.locator("#detail")).to_have_text(
        "Notification 999 is no longer kept (deleted, cleared, or older than the history)."
    )
    expect(page.locator("#tag-editor")).to_be_hidden()
