"""notify: one outbox row per active device, written in the caller's transaction (commit: sent once;
rollback: nothing; the same key twice: once), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import transaction

from expo_push import ValidationError
from expo_push.django import notify, register_device, status
from expo_push.django.models import PushNotification
from expo_push.django.testing import send_outbox

from .conftest import token


def test_a_committed_notification_is_sent_once_to_each_active_device(alias, user, expo_push_emulator):
    register_device(user, token("phone"))
    register_device(user, token("tablet"))
    with transaction.atomic(using=alias):
        sent = notify(user, {"title": "Order placed"}, key="order-1")
    assert (sent.key, sent.enqueued) == ("order-1", 2)
    assert status("order-1").state == "pending"

    run = send_outbox()

    assert run.sent == 2
    assert expo_push_emulator.messages(token("phone")) == [{"to": token("phone"), "title": "Order placed"}]
    assert expo_push_emulator.messages(token("tablet")) == [{"to": token("tablet"), "title": "Order placed"}]
    assert status("order-1").state == "sent"


def test_a_rolled_back_notification_is_never_sent(alias, user, expo_push_emulator):
    register_device(user, token("phone"))
    def place_order() -> None:
        with transaction.atomic(using=alias):
            notify(user, {"title": "Order placed"}, key="order-2")
            raise RuntimeError("payment declined")

    with pytest.raises(RuntimeError):
        place_order()

    assert send_outbox().sent == 0
    assert expo_push_emulator.messages(token("phone")) == []
    assert status("order-2").state == "unknown"
    assert not PushNotification.objects.using(alias).filter(key="order-2").exists()


def test_the_same_key_twice_is_sent_once(alias, user, expo_push_emulator):
    register_device(user, token("phone"))
    with transaction.atomic(using=alias):
        notify(user, {"title": "Shipped"}, key="order-3")
    with transaction.atomic(using=alias):
        again = notify(user, {"title": "Shipped"}, key="order-3")

    assert again.enqueued == 0
    send_outbox()
    assert len(expo_push_emulator.messages(token("phone"))) == 1


def test_a_bad_message_is_refused_before_anything_is_written(alias, user):
    register_device(user, token("phone"))
    with pytest.raises(ValidationError) as caught:
        notify(user, {"title": "Hi", "sound": 3}, key="bad")
    assert caught.value.field == "sound"
    assert status("bad").state == "unknown"
