"""Notifying users: ``notify`` enqueues in the caller's transaction; a notification's status; pausing users."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connections, transaction
from django.db.models import Q, QuerySet

from .._errors import ValidationError
from .._validation import prepare_message
from ._ledger import ledger_for
from ._settings import push_settings
from ._status import NotificationStatus, device_key, read_status
from .models import PausedUser, PushDevice, PushNotification

__all__ = ["Notification", "NotificationStatus", "notify", "pause", "recent_notifications", "resume", "status"]

_SOME_TOKEN = "ExponentPushToken[notify-validates-its-message]"  # a message is checked before recipients are read

MAX_KEY_LENGTH = 150
"""Characters of a notification's key (each device's outbox key adds ``/`` and its token)."""


@dataclass(frozen=True)
class Notification:
    """What ``notify`` did: the notification's key, and how many devices it was enqueued for now."""

    key: str
    enqueued: int
    """Devices enqueued by this call (0 when the key was notified before: nothing is sent twice)."""
    paused: int = 0
    """Recipients left out because their user is paused."""


def _addressed(message: Mapping[str, Any]) -> Callable[[str], dict[str, Any]]:
    """``message`` to one token, validated now (``ValidationError`` naming the field)."""
    if not isinstance(message, Mapping):
        raise ValidationError(
            f"a message must be a dict of its fields without 'to', not {type(message).__name__}", field="message"
        )
    if message.get("to"):
        raise ValidationError("give the recipients to notify(), not in the message", field="to")
    fields = dict(message)

    def addressed(token: str) -> dict[str, Any]:
        return {**fields, "to": token}

    prepare_message(addressed(_SOME_TOKEN), 0)
    return addressed


def _devices(recipients: Any, db: str) -> tuple[Any, QuerySet[PushDevice], list[str]]:
    """(the one user notified or None, the devices to notify, tokens named without a device)."""
    devices = PushDevice.objects.using(db).filter(active=True)
    user_model = get_user_model()
    if isinstance(recipients, PushDevice):
        return recipients.user, devices.filter(pk=recipients.pk), []
    if isinstance(recipients, user_model):
        return recipients, devices.filter(user=recipients), []
    if isinstance(recipients, QuerySet) and recipients.model in (PushDevice, user_model):
        if recipients.model is PushDevice:
            return None, devices.filter(pk__in=recipients.values("pk")), []
        return None, devices.filter(user__in=recipients.values("pk")), []
    if isinstance(recipients, str):
        recipients = [recipients]
    items = list(recipients) if isinstance(recipients, Iterable) else [recipients]
    odd = next((r for r in items if not isinstance(r, (str, PushDevice, user_model))), None)
    if odd is not None:
        raise ValidationError(
            f"recipients must be users, a queryset of users, devices or push tokens, not {type(odd).__name__}",
            field="recipients",
        )
    tokens = [r for r in items if isinstance(r, str)]
    device_ids = [r.pk for r in items if isinstance(r, PushDevice)]
    users = [r.pk for r in items if isinstance(r, user_model)]
    known = set(PushDevice.objects.using(db).filter(token__in=tokens).values_list("token", flat=True))
    chosen = devices.filter(Q(pk__in=device_ids) | Q(user__in=users) | Q(token__in=tokens))
    return None, chosen, [t for t in dict.fromkeys(tokens) if t not in known]


def notify(
    recipients: Any,
    message: Mapping[str, Any],
    *,
    key: str | None = None,
    project: str | None = None,
) -> Notification:
    """Enqueue ``message`` to every active device of ``recipients``, in the current transaction.

    ``recipients``: a user, a queryset of users (or of devices), a device, a push token, or a list of these.
    Devices of paused users, and inactive devices, are left out. One outbox row per device is written on the
    connection of ``EXPO_PUSH['DATABASE']``, inside the caller's ``transaction.atomic()`` (or a transaction of
    its own): if it rolls back, nothing is sent; once it commits, ``manage.py expo_push_worker`` sends each
    once. ``key`` (default: a new one) names the notification: a key notified before is not sent again, and
    ``status(key)`` tells where it is. ``message`` holds the fields of a message but ``to`` (``title``,
    ``body``, ``data``, ...: the service's names); ``ValidationError`` says what is wrong with it before anything
    is written.
    """
    settings = push_settings()
    db = settings.database
    if key is not None and (not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH):
        raise ValidationError(f"key must be a non-empty string of at most {MAX_KEY_LENGTH} characters", field="key")
    key = key if key is not None else uuid.uuid4().hex
    addressed = _addressed(message)
    user, devices, tokens = _devices(recipients, db)
    with transaction.atomic(using=db):
        if PushNotification.objects.using(db).filter(key=key).exists():
            return Notification(key, 0)
        paused = 0
        rows: list[tuple[str, Any]] = []
        for token, user_id, is_paused in devices.values_list("token", "user_id", "user__push_paused"):
            if is_paused is not None:
                paused += 1
            else:
                rows.append((token, user_id))
        rows += [(token, None) for token in tokens]
        try:
            with transaction.atomic(using=db):  # a savepoint: the same key notified at this moment elsewhere
                PushNotification.objects.using(db).create(
                    key=key,
                    user=user,
                    title=str(_field(message, "title"))[:255],
                    body=str(_field(message, "body")),
                    devices=len(rows),
                )
        except IntegrityError:
            return Notification(key, 0)
        if rows:
            connection = connections[db]
            connection.ensure_connection()
            ledger_for(db).enqueue(
                [addressed(token) for token, _ in rows],
                keys=[device_key(key, token) for token, _ in rows],
                connection=connection.connection,
                project=project,
            )
    return Notification(key, len(rows), paused)


def status(key: str, *, using: str | None = None) -> NotificationStatus:
    """Where the notification ``key`` is: for each device pending, sent with its ticket, delivered (receipt
    ok), or failed with its error code; ``state`` sums it up (``"unknown"``: never notified, or rolled back)."""
    return read_status(key, using or push_settings().database)


def recent_notifications(user: Any, limit: int = 20, *, using: str | None = None) -> list[PushNotification]:
    """``user``'s latest notifications, newest first (``status(n.key)`` for where each is)."""
    db = using or push_settings().database
    return list(PushNotification.objects.using(db).filter(user=user).order_by("-created_at", "-id")[:limit])


def pause(user: Any, *, using: str | None = None) -> None:
    """Send ``user`` nothing until ``resume(user)``: ``notify`` leaves their devices out meanwhile."""
    db = using or push_settings().database
    PausedUser.objects.using(db).get_or_create(user=user)


def resume(user: Any, *, using: str | None = None) -> None:
    """Send ``user`` notifications again (those left out while paused are not sent)."""
    db = using or push_settings().database
    PausedUser.objects.using(db).filter(user=user).delete()


def _field(message: Mapping[str, Any], name: str) -> str:
    value = message.get(name)
    return value if isinstance(value, str) else ""
