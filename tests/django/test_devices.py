"""Devices: register_device (idempotent, reactivating, moving a token to its new user) and the view the mobile
app POSTs its token to (the project's own authentication, CSRF enforced as on any POST)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from expo_push import ValidationError
from expo_push.django import deactivate_tokens, register_device
from expo_push.django.models import PushDevice

from .conftest import token


def test_registering_twice_keeps_one_device_and_reactivates_it(alias, user):
    first = register_device(user, token("phone"))
    deactivate_tokens([token("phone")], "unregistered")
    again = register_device(user, token("phone"))

    assert again.pk == first.pk
    assert again.active
    assert again.last_seen_at >= first.last_seen_at
    assert PushDevice.objects.using(alias).count() == 1


def test_a_token_registered_by_another_user_moves_to_them(alias, user, django_user_model):
    register_device(user, token("shared-phone"))
    other = django_user_model.objects.db_manager(alias).create_user("grace")
    register_device(other, token("shared-phone"))
    assert PushDevice.objects.using(alias).get(token=token("shared-phone")).user_id == other.pk


def test_a_token_that_is_not_an_expo_push_token_is_refused_naming_the_field(alias, user):
    with pytest.raises(ValidationError) as caught:
        register_device(user, "a" * 64)
    assert caught.value.field == "token"
    assert "APNs" in caught.value.reason
    assert not PushDevice.objects.using(alias).exists()


@pytest.mark.django_db(transaction=True)
def test_the_view_registers_the_signed_in_users_device(django_user_model):
    user = django_user_model.objects.create_user("ada", password="secret")
    client = Client()
    client.force_login(user)

    answer = client.post("/push/devices/", json.dumps({"token": token("phone")}), content_type="application/json")
    assert answer.status_code == 201
    assert answer.json() == {"token": token("phone"), "active": True}
    assert client.post("/push/devices/", {"token": token("phone")}).status_code == 200  # a form post: seen again
    assert list(PushDevice.objects.values_list("user__username", "token")) == [("ada", token("phone"))]

    assert client.post("/push/devices/unregister/", {"token": token("phone")}).json()["deactivated"] is True
    assert not PushDevice.objects.get().active


@pytest.mark.django_db(transaction=True)
def test_the_view_refuses_strangers_bad_tokens_and_posts_without_a_csrf_token(django_user_model):
    anonymous = Client()
    assert anonymous.post("/push/devices/", {"token": token("phone")}).status_code == 401
    assert anonymous.get("/push/devices/").status_code == 405

    user = django_user_model.objects.create_user("ada", password="secret")
    signed_in = Client()
    signed_in.force_login(user)
    bad = signed_in.post("/push/devices/", {"token": "not-a-token"})
    assert (bad.status_code, bad.json()["field"]) == (400, "token")
    assert signed_in.post("/push/devices/", {}).json()["field"] == "token"

    checked = Client(enforce_csrf_checks=True)
    checked.force_login(user)
    assert checked.post("/push/devices/", {"token": token("phone")}).status_code == 403
    assert not PushDevice.objects.exists()


@pytest.mark.django_db(transaction=True, databases=["postgres"])
@pytest.mark.parametrize("alias", ["postgres"], indirect=True)
def test_a_dead_token_deactivates_its_device_after_the_database_restarted(alias, user, postgres_server):
    # Found in review: the worker's thread kept the connection PostgreSQL had dropped, and every later dead
    # token raised ("the connection is closed") until the worker itself was restarted.
    from expo_push.django._devices import deactivate_dead
    from expo_push.ledger import DeadToken

    for name in ("before", "after"):
        register_device(user, token(name))
    on_dead_token = deactivate_dead("postgres")
    on_dead_token(DeadToken(token("before"), 0.0, "DeviceNotRegistered", None, None))
    postgres_server.restart()
    on_dead_token(DeadToken(token("after"), 0.0, "DeviceNotRegistered", None, None))
    assert not PushDevice.objects.using("postgres").filter(active=True).exists()
