"""The Django app of expo-push: devices, notifications enqueued in the request's transaction, commands, admin.

Add ``"expo_push.django"`` to ``INSTALLED_APPS``, ``path("push/", include("expo_push.django.urls"))`` to your
URLconf, and run ``manage.py migrate``; see docs/django.md. The functions below are imported lazily, so this
package can be named in ``INSTALLED_APPS`` before Django's app registry is ready::

    from expo_push.django import notify, register_device

    register_device(request.user, token)                 # the mobile app's token; idempotent, reactivates
    with transaction.atomic():
        order = Order.objects.create(...)
        notify(request.user, {"title": "Order placed"}, key=f"order-{order.pk}")   # sent iff this commits
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._devices import deactivate_tokens, register_device
    from ._notify import Notification, NotificationStatus, notify, pause, recent_notifications, resume, status
    from ._settings import PushSettings, push_settings

__all__ = [
    "Notification",
    "NotificationStatus",
    "PushSettings",
    "deactivate_tokens",
    "notify",
    "pause",
    "push_settings",
    "recent_notifications",
    "register_device",
    "resume",
    "status",
]

_HOMES = {
    "deactivate_tokens": "._devices",
    "register_device": "._devices",
    "Notification": "._notify",
    "NotificationStatus": "._notify",
    "notify": "._notify",
    "pause": "._notify",
    "recent_notifications": "._notify",
    "resume": "._notify",
    "status": "._notify",
    "PushSettings": "._settings",
    "push_settings": "._settings",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (models need Django's app registry ready)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(home, __name__), name)
