"""notify: one outbox row per active device, written in the caller's transaction (commit: sent once;
rollback: nothing; the same key twice: once), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import transaction

from expo_push import ValidationError
from expo_push.django import notify, register_device, status
from expo_push.django.models import PushNotification
from expo_push.django.testing import send_outbox

from .conftest import token

MANAGE = Path(__file__).with_name("manage.py")


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


def test_the_first_notify_of_a_process_on_a_new_sqlite_file_does_not_wait_on_its_own_transaction(tmp_path):
    """A new process's first notify, inside atomic(), on a file just migrated: the ledger is opened (WAL mode
    set, on connections of its own) when Django connects and after migrate, not inside the caller's
    transaction, where SQLite answered 'database is locked'."""
    env = {**os.environ, "EXPO_PUSH_TEST_DATABASES": json.dumps({"default": {"NAME": str(tmp_path / "new.db")}})}
    code = (
        "from django.contrib.auth.models import User\n"
        "from django.db import transaction\n"
        "from expo_push.django import notify, register_device\n"
        "with transaction.atomic():\n"
        "    user = User.objects.create_user('ada')\n"
        "    register_device(user, 'ExponentPushToken[first]')\n"
        "    print(notify(user, {'title': 'Welcome'}, key='welcome').enqueued)\n"
    )
    for command in (["migrate", "-v", "0"], ["shell", "-v", "0", "-c", code]):
        done = subprocess.run(
            [sys.executable, str(MANAGE), *command], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


def test_recipients_that_are_no_users_devices_or_tokens_are_refused_naming_them(alias, user):
    from django.contrib.auth.models import Group

    group = Group.objects.using(alias).create(name="staff")
    with pytest.raises(ValidationError) as caught:
        notify([user, group], {"title": "Hi"}, key="odd")
    assert (caught.value.field, "Group" in caught.value.reason) == ("recipients", True)
    with pytest.raises(ValidationError):
        notify(Group.objects.using(alias).all(), {"title": "Hi"}, key="odd")
    assert status("odd").state == "unknown"


def test_devices_tokens_and_querysets_of_users_are_recipients_too(alias, user, django_user_model, expo_push_emulator):
    grace = django_user_model.objects.db_manager(alias).create_user("grace")
    phone = register_device(user, token("phone"))
    register_device(grace, token("grace"))
    with transaction.atomic(using=alias):
        assert notify(phone, {"title": "a device"}).enqueued == 1
        assert notify(django_user_model.objects.using(alias).all(), {"title": "everyone"}).enqueued == 2
        assert notify([token("unknown"), token("grace")], {"title": "tokens"}).enqueued == 2
    send_outbox()
    assert [m["title"] for m in expo_push_emulator.messages(token("phone"))] == ["a device", "everyone"]
    assert [m["title"] for m in expo_push_emulator.messages(token("grace"))] == ["everyone", "tokens"]
    assert [m["title"] for m in expo_push_emulator.messages(token("unknown"))] == ["tokens"]


@pytest.mark.django_db(transaction=True, databases=["postgres"])
def test_the_same_key_notified_at_the_same_moment_in_two_transactions_is_enqueued_once(
    settings, django_user_model, expo_push_emulator
):
    """The second transaction's insert waits on the first's key, then finds it taken: it notifies nothing,
    and its own transaction goes on (a savepoint), instead of raising IntegrityError at the caller."""
    import threading

    from django.db import connections

    settings.EXPO_PUSH = {**settings.EXPO_PUSH, "DATABASE": "postgres"}
    user = django_user_model.objects.db_manager("postgres").create_user("ada")
    register_device(user, token("phone"))
    outcome: dict[str, object] = {}

    def second() -> None:
        try:
            with transaction.atomic(using="postgres"):
                outcome["notified"] = notify(user, {"title": "Shipped"}, key="race")
                outcome["transaction went on"] = user.__class__.objects.using("postgres").count()
        except Exception as exc:  # the test's outcome, read below
            outcome["raised"] = exc
        finally:
            connections.close_all()

    other = threading.Thread(target=second)
    with transaction.atomic(using="postgres"):
        notify(user, {"title": "Shipped"}, key="race")
        other.start()
        _wait_until_a_session_waits_on_a_lock()
    other.join(timeout=60)

    assert "raised" not in outcome, outcome
    assert outcome["notified"].enqueued == 0
    assert outcome["transaction went on"] == 1  # a query after it, in the same transaction, worked
    send_outbox()
    assert len(expo_push_emulator.messages(token("phone"))) == 1


def _wait_until_a_session_waits_on_a_lock(deadline: float = 30.0) -> None:
    import threading
    import time

    from django.db import connections

    with connections["postgres"].cursor() as cursor:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # a transaction sees one snapshot of the view
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return
            threading.Event().wait(0.01)
    raise AssertionError("the second transaction never waited on the first one's key")
