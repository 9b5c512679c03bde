"""The admin: devices (search, filter, "send a test notification" showing each ticket), notifications with
their status, paused users, and read-only lists of the ledger's outbox and tickets."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ._devices import deactivate_dead
from ._ledger import ledger_for
from ._settings import push_settings
from ._status import read_status
from .models import LedgerTicket, OutboxNotification, PausedUser, PushDevice, PushNotification

__all__ = [
    "TEST_MESSAGE",
    "OutboxAdmin",
    "PausedUserAdmin",
    "PushDeviceAdmin",
    "PushNotificationAdmin",
    "ReadOnlyAdmin",
    "TicketAdmin",
]

TEST_MESSAGE = {"title": "Test notification", "body": "Sent from the admin."}


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc)


@admin.register(PushDevice)
class PushDeviceAdmin(admin.ModelAdmin):
    """Devices: by user and token, active or not; a test notification sent to the chosen ones."""

    list_display = ["token", "user", "active", "registered_at", "last_seen_at", "deactivated_reason"]
    list_filter = ["active", "deactivated_reason"]
    search_fields = ["token", f"user__{get_user_model().USERNAME_FIELD}"]
    raw_id_fields = ["user"]
    readonly_fields = ["registered_at", "last_seen_at", "deactivated_reason"]
    actions = ["send_test_notification"]

    @admin.action(description=_("Send a test notification"))
    def send_test_notification(self, request: HttpRequest, queryset: QuerySet[PushDevice]) -> None:
        """Send a test notification now to each chosen device, and say what each ticket was."""
        current = push_settings()
        tokens = list(queryset.values_list("token", flat=True))
        ledger = ledger_for(current.database, on_dead_token=deactivate_dead(current.database))
        with ledger, current.client() as client:
            tickets = ledger.send(client, [{**TEST_MESSAGE, "to": token} for token in tokens])
        for ticket in tickets:
            if ticket.ok:
                self.message_user(
                    request, _("%(token)s: accepted, ticket %(id)s") % {"token": ticket.to, "id": ticket.id}
                )
            else:
                self.message_user(
                    request,
                    _("%(token)s: refused, %(code)s: %(message)s")
                    % {"token": ticket.to, "code": ticket.error_code, "message": ticket.message or ""},
                    level=messages.ERROR,
                )
        accepted = sum(ticket.ok for ticket in tickets)
        self.message_user(
            request,
            ngettext(
                "%(accepted)d of %(count)d test notification accepted.",
                "%(accepted)d of %(count)d test notifications accepted.",
                len(tickets),
            )
            % {"accepted": accepted, "count": len(tickets)},
            level=messages.SUCCESS if accepted == len(tickets) else messages.WARNING,
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    """A list to read: nothing added, changed or deleted from the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Never."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Never."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Never."""
        return False


@admin.register(PushNotification)
class PushNotificationAdmin(ReadOnlyAdmin):
    """Notifications sent with ``notify``, with where each is."""

    list_display = ["key", "user", "title", "devices", "created_at", "state"]
    search_fields = ["key", "title", f"user__{get_user_model().USERNAME_FIELD}"]
    date_hierarchy = "created_at"

    @admin.display(description=_("status"))
    def state(self, notification: PushNotification) -> str:
        """The notification's status, summed up."""
        return read_status(notification.key, notification._state.db or push_settings().database).state


@admin.register(PausedUser)
class PausedUserAdmin(admin.ModelAdmin):
    """Users sent nothing until resumed."""

    list_display = ["user", "paused_at"]
    raw_id_fields = ["user"]


@admin.register(OutboxNotification)
class OutboxAdmin(ReadOnlyAdmin):
    """The ledger's outbox: each notification to a device, its state, attempts and last error."""

    list_display = ["key", "state", "recipients", "attempts", "last_error", "enqueued", "sent", "in_doubt"]
    list_filter = ["state"]
    search_fields = ["key", "message"]

    @admin.display(description=_("enqueued"), ordering="enqueued_at")
    def enqueued(self, row: OutboxNotification) -> datetime | None:
        """When it was enqueued."""
        return _time(row.enqueued_at)

    @admin.display(description=_("sent"), ordering="sent_at")
    def sent(self, row: OutboxNotification) -> datetime | None:
        """When its tickets were recorded."""
        return _time(row.sent_at)


@admin.register(LedgerTicket)
class TicketAdmin(ReadOnlyAdmin):
    """The ledger's tickets with their error codes and receipts (accepted ones once their receipt is due)."""

    list_display = ["token", "key", "ticket_id", "status", "error_code", "receipt_status", "receipt_error", "sent"]
    list_filter = ["status", "error_code", "receipt_status", "receipt_error"]
    search_fields = ["token", "key", "ticket_id"]

    @admin.display(description=_("sent"), ordering="sent_at")
    def sent(self, row: LedgerTicket) -> datetime | None:
        """When the ticket came back."""
        return _time(row.sent_at)
