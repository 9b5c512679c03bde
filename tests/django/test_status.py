"""A notification's status by its key, a user's recent notifications, pausing a user; and the settings."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import transaction

from expo_push.django import notify, pause, push_settings, recent_notifications, register_device, resume, status
from expo_push.django.testing import send_outbox

from .conftest import token


def test_status_follows_a_notification_from_the_outbox_to_its_receipt(alias, user, expo_push_emulator):
    register_device(user, token("phone"))
    with transaction.atomic(using=alias):
        notify(user, {"title": "Hi"}, key="k1")
    pending = status("k1")
    assert (pending.state, pending.devices[0].state, pending.devices[0].ticket_id) == ("pending", "pending", None)

    send_outbox()
    sent = status("k1")
    assert (sent.state, sent.devices[0].token) == ("sent", token("phone"))
    assert sent.devices[0].ticket_id  # the ticket the service gave, though its receipt is not due yet

    call_command("expo_push_receipts", "--now", stdout=io.StringIO())
    delivered = status("k1")
    assert (delivered.state, delivered.devices[0].ticket_id) == ("delivered", sent.devices[0].ticket_id)


def test_status_of_an_error_ticket_names_its_code(alias, user, expo_push_emulator):
    register_device(user, token("big"))
    expo_push_emulator.script_token(token("big"), ticket_error="MessageTooBig")
    with transaction.atomic(using=alias):
        notify(user, {"title": "Hi"}, key="k2")
    send_outbox()
    assert status("k2").state == "failed"
    assert status("k2").devices[0].error == "MessageTooBig"


def test_a_paused_user_is_left_out_until_resumed(alias, user, expo_push_emulator):
    register_device(user, token("phone"))
    pause(user)
    with transaction.atomic(using=alias):
        assert (notify(user, {"title": "While paused"}, key="p1").enqueued, status("p1").state) == (0, "no devices")
    resume(user)
    with transaction.atomic(using=alias):
        assert notify(user, {"title": "After"}, key="p2").enqueued == 1
    send_outbox()
    assert [m["title"] for m in expo_push_emulator.messages(token("phone"))] == ["After"]


def test_recent_notifications_are_the_users_newest_first(alias, user):
    register_device(user, token("phone"))
    for n in range(3):
        notify(user, {"title": f"n{n}"}, key=f"r{n}")  # outside atomic(): a transaction of its own
    assert [n.key for n in recent_notifications(user, limit=2)] == ["r2", "r1"]


@pytest.mark.django_db
def test_settings_are_read_at_use_with_the_environment_as_default(settings, monkeypatch):
    monkeypatch.setenv("EXPO_ACCESS_TOKEN", "from-the-environment")
    monkeypatch.setenv("EXPO_BASE_URL", "http://127.0.0.1:9")
    settings.EXPO_PUSH = {}
    assert (push_settings().access_token, push_settings().base_url) == ("from-the-environment", "http://127.0.0.1:9")
    settings.EXPO_PUSH = {"ACCESS_TOKEN": "secret-token", "BATCH_SIZE": 50, "LEASE": 900}
    current = push_settings()
    assert (current.access_token, current.batch_size, current.lease) == ("secret-token", 50, 900.0)
    assert "secret-token" not in repr(current)

    settings.EXPO_PUSH = {"BATCH_SIZE": 0}
    with pytest.raises(ImproperlyConfigured, match="BATCH_SIZE"):
        push_settings()
    settings.EXPO_PUSH = {"BASE_URL": "http://x", "BATCH": 1}
    with pytest.raises(ImproperlyConfigured, match="BATCH"):
        push_settings()


def test_keys_differing_only_in_case_or_by_a_prefix_are_different_notifications(alias, user, expo_push_emulator):
    register_device(user, token("phone"))
    with transaction.atomic(using=alias):
        notify(user, {"title": "upper"}, key="Order-1")
        notify(user, {"title": "lower"}, key="order-1")
        notify(user, {"title": "longer"}, key="order-1/2")
    assert [len(status(k).devices) for k in ("Order-1", "order-1", "order-1/2", "order")] == [1, 1, 1, 0]
