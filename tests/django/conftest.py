"""The Django app's tests: a small project (settings.py, urls.py) run by pytest-django, each test on SQLite
and on the suite's throwaway PostgreSQL (the ``postgres`` alias, pointed at ``postgres_server``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings

import django
from tests.conftest import postgres_unavailable

from . import settings as project_settings

# Configured here, not by DJANGO_SETTINGS_MODULE: that would reach the subprocesses of other tests.
if not django_settings.configured:
    django_settings.configure(**{name: value for name, value in vars(project_settings).items() if name.isupper()})
    django.setup()  # before the test modules import the app's models (pytest-django would do it only later)


from expo_push.django.testing import expo_push_emulator

__all__ = ["expo_push_emulator", "token"]

LEDGER_TABLES = [
    "expo_push_outbox",
    "expo_push_tickets",
    "expo_push_receipt_queue",
    "expo_push_dead_tokens",
    "expo_push_pacing",
    "expo_push_token_projects",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Without a PostgreSQL server here, the PostgreSQL half is skipped, saying why, and no test database
    is asked of it (pytest-django sets up every alias a collected test names)."""
    reason = postgres_unavailable()
    if reason is None:
        return
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and "postgres" in (marker.kwargs.get("databases") or ()):
            item.add_marker(pytest.mark.django_db(transaction=True), append=False)
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request: pytest.FixtureRequest) -> None:
    """The ``postgres`` alias points at the throwaway server when a collected test needs it."""
    wanted = any(
        "postgres" in ((item.get_closest_marker("django_db") or pytest.mark.django_db).kwargs.get("databases") or ())
        for item in request.session.items
    )
    if wanted:
        from django.db import connections

        server = request.getfixturevalue("postgres_server")
        for target in (connections["postgres"].settings_dict, django_settings.DATABASES["postgres"]):
            target["PORT"] = str(server.port)


@pytest.fixture(
    params=[
        pytest.param("default", marks=pytest.mark.django_db(transaction=True), id="sqlite"),
        pytest.param("postgres", marks=pytest.mark.django_db(transaction=True, databases=["postgres"]), id="postgres"),
    ]
)
def alias(request: pytest.FixtureRequest, settings: Any, expo_push_emulator: Any) -> str:
    """The database alias of this test (devices and ledger), ``EXPO_PUSH`` set to it and to the emulator.

    Each test commits for real (``transaction=True``: the worker reads the database on its own connections);
    pytest-django empties the app's tables after it, and the ledger's tables are emptied before it.
    """
    from django.db import connections

    with connections[request.param].cursor() as cursor:
        for table in LEDGER_TABLES:
            cursor.execute(f"DELETE FROM {table}")
    settings.EXPO_PUSH = {**settings.EXPO_PUSH, "DATABASE": request.param}
    return str(request.param)


@pytest.fixture
def user(alias: str, django_user_model: Any) -> Any:
    """A user of the test's database."""
    return django_user_model.objects.db_manager(alias).create_user("ada", password="secret")


def token(name: object) -> str:
    """A valid Expo push token named ``name``."""
    return f"ExponentPushToken[django-{name}]"
