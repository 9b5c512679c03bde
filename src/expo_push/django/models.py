"""The app's models: devices and their users, notifications sent to users, paused users; and, read-only, the
ledger's outbox and tickets (tables the ledger owns, ``managed = False``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["LedgerRow", "LedgerTicket", "OutboxNotification", "PausedUser", "PushDevice", "PushNotification"]


class PushDevice(models.Model):
    """A device of a user, by the Expo push token its app registered."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_devices", verbose_name=_("user")
    )
    token = models.CharField(_("push token"), max_length=255, unique=True)
    active = models.BooleanField(
        _("active"), default=True, help_text=_("Notifications are sent to active devices only.")
    )
    registered_at = models.DateTimeField(_("registered"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    deactivated_reason = models.CharField(_("why inactive"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("push device")
        verbose_name_plural = _("push devices")
        indexes = [models.Index(fields=["user", "active"], name="expo_push_device_user_active")]

    def __str__(self) -> str:
        return str(self.token)


class PushNotification(models.Model):
    """A notification sent with ``notify``: its key (the outbox's, one row per device under it) and recipient."""

    key = models.CharField(_("key"), max_length=200, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="push_notifications",
        verbose_name=_("user"),
    )
    title = models.CharField(_("title"), max_length=255, blank=True)
    body = models.TextField(_("body"), blank=True)
    devices = models.PositiveIntegerField(_("devices"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("push notification")
        verbose_name_plural = _("push notifications")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return str(self.key)


class PausedUser(models.Model):
    """A user no notification is sent to until resumed (``pause``, ``resume``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="push_paused",
        verbose_name=_("user"),
    )
    paused_at = models.DateTimeField(_("paused"), default=timezone.now)

    class Meta:
        verbose_name = _("paused user")
        verbose_name_plural = _("paused users")

    def __str__(self) -> str:
        return str(self.user)


class LedgerRow(models.Model):
    """A row of a table the ledger owns and writes: Django reads it, never creates or changes its table."""

    label = "key"
    """The field a row is shown by."""

    class Meta:
        abstract = True
        managed = False
        ordering = ["-id"]

    def __str__(self) -> str:
        value = getattr(self, self.label)
        return str(value) if value else f"#{self.pk}"


class OutboxNotification(LedgerRow):
    """A row of the ledger's outbox (read only): one notification to one device, its state and errors."""

    key = models.TextField(_("key"), unique=True, null=True)
    ref = models.TextField(_("reference"), null=True)
    message = models.TextField(_("message"))
    recipients = models.IntegerField(_("recipients"))
    state = models.TextField(_("state"))
    enqueued_at = models.FloatField(_("enqueued"))
    attempts = models.IntegerField(_("attempts"))
    last_error = models.TextField(_("last error"), null=True)
    sent_at = models.FloatField(_("sent"), null=True)
    in_doubt = models.IntegerField(_("in doubt"))
    project = models.TextField(_("project"))

    class Meta(LedgerRow.Meta):
        db_table = "expo_push_outbox"
        verbose_name = _("outbox notification")
        verbose_name_plural = _("outbox")


class LedgerTicket(LedgerRow):
    """A ticket in the ledger (read only): an error ticket at once, an accepted one once its receipt is due."""

    key = models.TextField(_("key"), null=True)
    token = models.TextField(_("push token"))
    ticket_id = models.TextField(_("ticket"), null=True)
    status = models.TextField(_("status"))
    error_code = models.TextField(_("error code"), null=True)
    error_message = models.TextField(_("error message"), null=True)
    sent_at = models.FloatField(_("sent"))
    receipt_status = models.TextField(_("receipt"), null=True)
    receipt_error = models.TextField(_("receipt error"), null=True)
    receipt_at = models.FloatField(_("receipt at"), null=True)

    label = "ticket_id"

    class Meta(LedgerRow.Meta):
        db_table = "expo_push_tickets"
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
