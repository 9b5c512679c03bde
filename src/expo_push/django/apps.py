"""The app's configuration for Django: its label (``expo_push``) and name in the admin."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

__all__ = ["ExpoPushConfig"]


class ExpoPushConfig(AppConfig):
    """``expo_push.django`` in ``INSTALLED_APPS``."""

    name = "expo_push.django"
    label = "expo_push"
    verbose_name = _("Expo push notifications")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Open the ledger of the app's database when Django connects to it, and after ``migrate``."""
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from ._ledger import open_after_migrate, open_on_connection

        connection_created.connect(open_on_connection, dispatch_uid="expo_push.open_on_connection")
        post_migrate.connect(open_after_migrate, sender=self, dispatch_uid="expo_push.open_after_migrate")
