"""The admin's "send a test notification" action, driven in headless Chromium: each ticket's outcome shown,
a dead token's device deactivated; the screenshot docs/django.md shows (docs/django-admin.png) is drawn here.
Every wait is one of Playwright's own expectations: nothing sleeps."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from expo_push._service import DEVICE_NOT_REGISTERED
from expo_push.django import register_device
from expo_push.django.models import PushDevice
from tests.emulator.test_inbox_page import _share_of_pixels_that_differ, expect

from .conftest import token

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "django-admin.png"


@pytest.fixture(scope="module", autouse=True)
def _orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API keeps an event loop in this thread, which Django's ORM takes for async code."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.mark.django_db(transaction=True)
def test_the_test_notification_action_shows_each_tickets_outcome(
    browser, live_server, django_user_model, settings, expo_push_emulator, monkeypatch
):
    numbers = itertools.count(1)
    monkeypatch.setattr(  # the same ticket ids every run, for the screenshot
        "expo_push.emulator._state.ticket_ids",
        lambda count: [str(uuid.UUID(int=0x0E7A9D5 << 96 | next(numbers), version=4)) for _ in range(count)],
    )
    admin = django_user_model.objects.create_superuser("admin", "admin@example.com", "secret")
    ada = django_user_model.objects.create_user("ada")
    register_device(admin, token("admins-phone"))
    register_device(ada, token("adas-old-phone"))
    expo_push_emulator.script_token(token("adas-old-phone"), ticket_error=DEVICE_NOT_REGISTERED)
    frozen = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    PushDevice.objects.update(registered_at=frozen, last_seen_at=frozen)

    context = browser.new_context(viewport={"width": 1440, "height": 720})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/expo_push/pushdevice/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "secret")
    page.click("input[type=submit]")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)

    page.check("#action-toggle")
    page.select_option("select[name=action]", "send_test_notification")
    page.click("button[name=index]")

    notes = page.locator("ul.messagelist li")
    expect(notes).to_have_count(3)
    texts = notes.all_inner_texts()
    assert any(f"{token('admins-phone')}: accepted, ticket " in text for text in texts), texts
    assert any(f"{token('adas-old-phone')}: refused, {DEVICE_NOT_REGISTERED}" in text for text in texts), texts
    assert any("1 of 2 test notifications accepted." in text for text in texts), texts
    expect(page.locator("ul.messagelist li.error")).to_have_count(1)
    assert expo_push_emulator.messages(token("admins-phone"))[0]["title"] == "Test notification"
    assert not PushDevice.objects.get(token=token("adas-old-phone")).active
    expect(page.locator("#result_list tbody tr")).to_have_count(2)

    shot = page.screenshot(animations="disabled", caret="hide")
    compare = context.new_page()
    # Rewritten only when it shows something else: anti-aliasing noise must not churn the repository.
    if not SCREENSHOT.exists() or _share_of_pixels_that_differ(compare, SCREENSHOT.read_bytes(), shot) > 0.001:
        SCREENSHOT.write_bytes(shot)
    context.close()
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
