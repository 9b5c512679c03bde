"""The app's configuration for Django: its label (``expo_push``) and name in the admin."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExpoPushConfig(AppConfig):
    """``expo_push.django`` in ``INSTALLED_APPS``."""

    name = "expo_push.django"
    label = "expo_push"
    verbose_name = _("Expo push notifications")
    default_auto_field = "django.db.models.BigAutoField"
