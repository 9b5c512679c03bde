"""Testing a Django project's notifications with pytest-django and the emulator: no phone, no Expo account.

In the project's ``conftest.py``: ``pytest_plugins = ["expo_push.django.testing"]``; then a test asks for
``expo_push_emulator`` (the emulator, with ``settings.EXPO_PUSH`` pointed at it for the test) and calls
``send_outbox()`` to do what ``manage.py expo_push_worker`` would::

    def test_order_notifies_its_buyer(expo_push_emulator, django_user_model):
        ...                                   # the code under test calls notify(...)
        send_outbox()
        assert expo_push_emulator.messages(token)[0]["title"] == "Order placed"
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..emulator import Emulator
    from ..ledger import WorkerRun

__all__ = ["expo_push_emulator", "send_outbox"]


def send_outbox(**client_options: Any) -> WorkerRun:
    """Send everything in the outbox now, as the worker would (dead tokens deactivate their devices); return
    what was sent. ``client_options`` are ``PushClient``'s."""
    from ._devices import deactivate_dead  # models: Django's app registry is ready by the time this is called
    from ._ledger import ledger_for
    from ._settings import push_settings

    current = push_settings()
    ledger = ledger_for(current.database, on_dead_token=deactivate_dead(current.database))
    with ledger, current.client(**client_options) as client:
        if current.batch_size is not None:
            return ledger.drain(client, batch_size=current.batch_size)
        return ledger.drain(client)


@pytest.fixture
def expo_push_emulator(expo_emulator: Emulator, settings: Any) -> Iterator[Emulator]:
    """The emulator (the ``expo_emulator`` fixture: fresh for each test), with ``settings.EXPO_PUSH``'s
    ``BASE_URL`` set to it for this test (pytest-django's ``settings`` fixture restores it after). The
    ledger connections ``notify`` opened are closed after the test, before pytest-django drops its database."""
    from ._ledger import close_ledgers

    settings.EXPO_PUSH = {**(getattr(settings, "EXPO_PUSH", None) or {}), "BASE_URL": expo_emulator.url}
    yield expo_emulator
    close_ledgers()
