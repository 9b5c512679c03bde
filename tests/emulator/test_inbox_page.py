"""The inbox page in a real browser: Playwright driving the operating system's headless Chromium.

Notifications are sent through our client; the page must show each within a second, as iOS and
Android would draw it, filter and search them, and follow their receipts. The last test draws the
screenshot the README shows (docs/inbox.png), so that it is never stale. Every wait is one of
Playwright's own expectations: nothing sleeps.
"""

from __future__ import annotations

import base64
import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from expo_push import PushClient
from expo_push.emulator import Emulator

from .conftest import FrozenClock, cards, token

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "inbox.png"
WITHIN_A_SECOND = 1000  # ms
# A 1x1 PNG, so that richContent images draw without the network.
IMAGE = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z/C/HgAGgwJ/lK3Q6wAAAABJRU5ErkJggg=="
)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(rate_limit=None) as emulator:
        yield emulator


def test_each_notification_appears_live_as_ios_and_android_draw_it(emu: Emulator, page: object) -> None:
    expect(page.locator("#empty")).to_be_visible()  # type: ignore[attr-defined]
    message = {
        "to": token("anna"),
        "title": "Your order shipped",
        "subtitle": "Order 1042",
        "body": "It arrives on Thursday.",
        "badge": 3,
        "sound": "default",
        "channelId": "orders",
        "categoryId": "shipping",
        "richContent": {"image": IMAGE},
        "data": {"orderId": 1042},
    }
    with PushClient(base_url=emu.url) as client:
        (ticket,) = client.send(message)
        card = cards(page).first
        expect(card.locator(".ios .title")).to_have_text("Your order shipped", timeout=WITHIN_A_SECOND)
        expect(card.locator(".android .title")).to_have_text("Your order shipped")
        expect(card.locator(".ios .subtitle")).to_have_text("Order 1042")
        expect(card.locator(".android .body")).to_have_text("It arrives on Thursday.")
        expect(card.locator(".badge")).to_have_text("3")
        expect(card.locator(".android .channel-name")).to_have_text("channel orders")
        expect(card.locator(".thumb")).to_have_attribute("src", IMAGE)
        expect(card.locator(".token")).to_have_text(token("anna"))
        expect(card.locator(".facts")).to_contain_text(ticket.id or "")
        expect(card.locator(".facts")).to_contain_text("shipping")
        expect(card.locator(".facts")).to_contain_text("@test/app")
        expect(card.locator('[data-testid="receipt-status"]')).to_have_text("receipt: ok")
        card.locator(".data summary").click()
        expect(card.locator(".data pre")).to_have_text('{\n  "orderId": 1042\n}')
        expect(card.locator(".raw")).to_have_text("request #1")

        client.send({"to": token("ben"), "title": "Second", "body": "newest first"})
        expect(cards(page).first.locator(".ios .title")).to_have_text("Second", timeout=WITHIN_A_SECOND)
        expect(cards(page)).to_have_count(2)
        expect(page.locator('#stats [data-stat="notifications"]')).to_have_text("2")  # type: ignore[attr-defined]
        cards(page).last.locator(".raw").click()
        expect(page.locator('[data-testid="request-body"]')).to_contain_text('"title": "Your order shipped"')  # type: ignore[attr-defined]
        expect(page.locator('[data-testid="answer"]')).to_contain_text(ticket.id or "")  # type: ignore[attr-defined]


def test_filters_by_token_project_and_status_and_search(emu: Emulator, page: object) -> None:
    emu.set_project(token("other"), "@acme/other-app")
    emu.script_token(token("dead"), receipt_error="DeviceNotRegistered")
    with PushClient(base_url=emu.url) as client:
        client.send([
            {"to": token("anna"), "title": "Invoice ready", "body": "March"},
            {"to": token("ben"), "title": "Hello", "body": "your invoice is attached"},
            {"to": token("dead"), "title": "Gone", "body": "nobody"},
        ])  # fmt: skip
        client.send({"to": token("other"), "title": "Elsewhere", "body": "another project"})
    expect(cards(page)).to_have_count(4, timeout=WITHIN_A_SECOND)
    visible = cards(page)

    page.fill("#search", "invoice")  # type: ignore[attr-defined]
    expect(visible).to_have_count(2)
    expect(page.locator("#count")).to_have_text("2 shown of 2 matching (4 kept)")  # type: ignore[attr-defined]
    page.fill("#search", "")  # type: ignore[attr-defined]
    expect(visible).to_have_count(4)

    page.fill("#filter-token", token("ben"))  # type: ignore[attr-defined]
    expect(visible).to_have_count(1)
    expect(visible.locator(".ios .title")).to_have_text("Hello")
    page.fill("#filter-token", "")  # type: ignore[attr-defined]

    page.select_option("#filter-project", "@acme/other-app")  # type: ignore[attr-defined]
    expect(visible.locator(".ios .title")).to_have_text(["Elsewhere"])
    page.select_option("#filter-project", "")  # type: ignore[attr-defined]

    page.select_option("#filter-status", "error")  # type: ignore[attr-defined]
    expect(visible.locator('[data-testid="receipt-status"]')).to_have_text(["receipt: DeviceNotRegistered"])
    page.select_option("#filter-status", "ok")  # type: ignore[attr-defined]
    expect(visible).to_have_count(3)


def test_the_receipt_status_follows_the_service(emu: Emulator, page: object) -> None:
    emu.receipt_delay = 900
    emu.script_token(token("lost"), receipt_lost=True)
    emu.script_token(token("big"), receipt_error="MessageTooBig")
    with PushClient(base_url=emu.url) as client:
        client.send([{"to": token("fine"), "body": "a"}, {"to": token("big"), "body": "b"},
                     {"to": token("lost"), "body": "c"}])  # fmt: skip
    status = cards(page).locator('[data-testid="receipt-status"]')
    expect(status).to_have_text(["receipt: never", "receipt: not yet", "receipt: not yet"], timeout=WITHIN_A_SECOND)
    emu.advance(900)  # Expo's advice: check receipts 15 minutes after sending
    expect(status).to_have_text(["receipt: never", "receipt: MessageTooBig", "receipt: ok"], timeout=WITHIN_A_SECOND)


def test_faults_in_force_are_shown_and_the_buttons_clear_them_and_reset_after_a_confirmation(
    emu: Emulator, page: object
) -> None:
    emu.add_fault("server_error", status=503, count=2)
    faults = page.locator("#faults")  # type: ignore[attr-defined]
    expect(faults).to_contain_text("server_error 503 · send · 2 more")
    page.click("#clear-faults")  # type: ignore[attr-defined]
    expect(faults).to_have_text("none")
    assert emu.faults == []
    with PushClient(base_url=emu.url) as client:
        client.send({"to": token(1), "title": "before the reset"})
    expect(cards(page)).to_have_count(1, timeout=WITHIN_A_SECOND)
    page.click("#reset")  # type: ignore[attr-defined]
    expect(page.locator("#confirm-reset")).to_be_visible()  # type: ignore[attr-defined]
    assert emu.tokens() == [token(1)]  # nothing is forgotten before the confirmation
    page.click("#reset-yes")  # type: ignore[attr-defined]
    expect(cards(page)).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()  # type: ignore[attr-defined]
    assert emu.tokens() == []


def test_a_page_of_another_origin_cannot_control_the_emulator(browser: object, emu: Emulator) -> None:
    # The attack of the issue: any page the developer has open posts a "simple" request to the emulator.
    with Emulator() as elsewhere:
        context = browser.new_context(bypass_csp=True)  # type: ignore[attr-defined]
        page = context.new_page()
        page.goto(elsewhere.url)
        statuses = page.evaluate(
            """async (target) => {
                const simple = {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}};
                await fetch(target + "/--/emulator/config", {...simple, body: '{"latency": 100000}'});
                await fetch(target + "/--/emulator/faults", {...simple, body: '{"kind": "drop"}'});
                const read = await fetch(target + "/--/emulator/stats").then(r => r.status, e => "blocked");
                return read;
            }""",
            emu.url,
        )
        context.close()
    assert emu.latency == 0
    assert emu.faults == []
    assert statuses == "blocked"  # no CORS: the page cannot even read the answer


def test_the_readme_screenshot(browser: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Draw the inbox the README shows, the same way every run (frozen clock, fixed ticket ids)."""
    numbers = itertools.count(1)
    monkeypatch.setattr(
        "expo_push.emulator._state.ticket_ids",
        lambda count: [str(uuid.UUID(int=0x0E7A9D5 << 96 | next(numbers), version=4)) for _ in range(count)],
    )
    clock = FrozenClock()
    with Emulator(rate_limit=None, receipt_delay=600, clock=clock) as emu:
        emu.add_fault("rate_limit", retry_after=1, count=2, target="receipts")
        emu.script_token(token("sam"), receipt_error="DeviceNotRegistered")
        with PushClient(base_url=emu.url) as client:
            client.send({"to": token("sam"), "title": "Weekly digest", "body": "3 new posts from people you follow"})
            emu.advance(700)
            client.send({"to": token("ana"), "title": "Table for two at 8 pm", "subtitle": "Chez Marcel",
                         "body": "Your booking is confirmed. Show this at the door.", "badge": 1,
                         "channelId": "bookings", "data": {"bookingId": "B-2291"}})  # fmt: skip
            emu.advance(650)
            client.send({"to": token("ana"), "title": "Your order shipped", "subtitle": "Order 1042",
                         "body": "It arrives on Thursday. Track it in the app.", "badge": 2, "sound": "default",
                         "channelId": "orders", "categoryId": "shipping", "data": {"orderId": 1042}})  # fmt: skip
        context = browser.new_context(viewport={"width": 1280, "height": 860}, device_scale_factor=1)  # type: ignore[attr-defined]
        page = context.new_page()
        page.goto(emu.url)
        expect(cards(page)).to_have_count(3)
        expect(cards(page).locator('[data-testid="receipt-status"]')).to_have_text(
            ["receipt: not yet", "receipt: ok", "receipt: DeviceNotRegistered"]
        )
        cards(page).first.locator(".data summary").click()
        expect(cards(page).first.locator(".data pre")).to_be_visible()
        shot = page.screenshot(animations="disabled", caret="hide")
        compare = context.new_page()
        assert _share_of_pixels_that_differ(compare, shot, shot) == 0
        # Rewritten only when it shows something else: anti-aliasing noise must not churn the repository.
        if not SCREENSHOT.exists() or _share_of_pixels_that_differ(compare, SCREENSHOT.read_bytes(), shot) > 0.001:
            SCREENSHOT.parent.mkdir(exist_ok=True)
            SCREENSHOT.write_bytes(shot)
        context.close()
    assert SCREENSHOT.stat().st_size > 10_000
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _share_of_pixels_that_differ(page: object, before: bytes, after: bytes) -> float:
    """Compare two PNG screenshots pixel by pixel, in the browser's own canvas."""
    return float(
        page.evaluate(  # type: ignore[attr-defined]
            """async ([a, b]) => {
                const load = async (b64) => {
                    const image = new Image();
                    image.src = "data:image/png;base64," + b64;
                    await image.decode();
                    const canvas = document.createElement("canvas");
                    canvas.width = image.width;
                    canvas.height = image.height;
                    const context = canvas.getContext("2d");
                    context.drawImage(image, 0, 0);
                    return context.getImageData(0, 0, image.width, image.height);
                };
                const [x, y] = await Promise.all([load(a), load(b)]);
                if (x.width !== y.width || x.height !== y.height) return 1;
                let differ = 0;
                for (let i = 0; i < x.data.length; i += 4) {
                    if (Math.abs(x.data[i] - y.data[i]) + Math.abs(x.data[i + 1] - y.data[i + 1]) +
                        Math.abs(x.data[i + 2] - y.data[i + 2]) > 24) differ++;
                }
                return differ / (x.width * x.height);
            }""",
            [base64.b64encode(before).decode(), base64.b64encode(after).decode()],
        )
    )


def test_with_a_control_token_the_page_opened_with_it_is_live_and_without_it_is_not(browser: object) -> None:
    with Emulator(control_token="s3cret") as emu:
        context = browser.new_context()  # type: ignore[attr-defined]
        without, with_token = context.new_page(), context.new_page()
        without.goto(emu.url)
        with_token.goto(emu.url + "/?token=s3cret")
        expect(with_token.locator("#live")).to_have_attribute("data-state", "live")
        with PushClient(base_url=emu.url) as client:
            client.send({"to": token(1), "title": "for the token holder"})
        expect(cards(with_token).locator(".ios .title")).to_have_text(["for the token holder"])
        with_token.click("#clear-faults")
        expect(with_token.locator("#action-result")).to_have_text("faults cleared")
        expect(without.locator("#live")).to_have_attribute("data-state", "reconnecting")
        expect(cards(without)).to_have_count(0)
        context.close()
