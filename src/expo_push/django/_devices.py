"""Devices: registering a user's token (idempotent, reactivating) and deactivating tokens found dead."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from .._errors import ValidationError
from .._tokens import token_problem
from ..ledger import DeadToken
from ._ledger import ledger_for
from ._settings import push_settings
from .models import PushDevice

__all__ = ["deactivate_dead", "deactivate_tokens", "register_device"]


def register_device(user: Any, token: str, *, using: str | None = None) -> PushDevice:
    """Record that ``user``'s app has the Expo push token ``token``; return its active device.

    Idempotent: registering again only updates when it was last seen. A token registered before (by this user
    or, after a sign-in on the same phone, by another) is reactivated and moves to ``user``; a token the ledger
    found dead (``DeviceNotRegistered``) is sent to again once this commits. ``ValidationError`` (field
    ``token``) says what is wrong with a token that is not an Expo push token, before anything is written.
    """
    problem = token_problem(token)
    if problem is not None:
        raise ValidationError(f"the push token {problem}", field="token")
    db = using or push_settings().database
    now = timezone.now()
    with transaction.atomic(using=db):
        device: PushDevice
        device, created = PushDevice.objects.using(db).select_for_update().get_or_create(
            token=token, defaults={"user": user, "registered_at": now, "last_seen_at": now}
        )
        revived = created or not device.active
        if not created:
            if device.user_id != user.pk:
                device.user, device.registered_at = user, now
            device.active, device.deactivated_reason, device.last_seen_at = True, "", now
            device.save(using=db)
        if revived:  # the ledger's own connection: after the commit, never waiting on this transaction's locks
            transaction.on_commit(lambda: ledger_for(db).forget_dead(token), using=db)
    return device


def deactivate_tokens(tokens: Iterable[str], reason: str, *, using: str | None = None) -> int:
    """Mark the devices of ``tokens`` inactive, saying why (an error code); return how many were active."""
    db = using or push_settings().database
    return int(
        PushDevice.objects.using(db)
        .filter(token__in=list(tokens), active=True)
        .update(active=False, deactivated_reason=reason[:100])
    )


def deactivate_dead(db: str) -> Callable[[DeadToken], None]:
    """The ledger's ``on_dead_token`` for the database ``db``: the dead token's device becomes inactive."""

    def on_dead_token(dead: DeadToken) -> None:
        # Called from a long-lived worker or watcher thread, where no request cycle replaces a connection
        # the database dropped (a restart, a failover): do it here, as Django does between requests.
        connections[db].close_if_unusable_or_obsolete()
        deactivate_tokens([dead.token], dead.reason, using=db)

    return on_dead_token
