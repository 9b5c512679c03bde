"""The app as a package: Django imported only inside it, its migrations current, the ledger's tables made by
``migrate`` the same as those ``Ledger.open`` makes, and the extra that installs it."""

from __future__ import annotations

import io
import re
import sqlite3
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections

from expo_push.django._ledger import create_statements
from expo_push.ledger import Ledger
from tests.test_exports import ALL_MODULES, DJANGO_APP, check_all

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "expo_push"


def test_django_is_imported_nowhere_outside_the_app():
    importing = re.compile(r"^\s*(from|import)\s+django\b", re.M)
    outside = [
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if "django" not in path.relative_to(SOURCE).parts[:1] and importing.search(path.read_text(encoding="utf-8"))
    ]
    assert outside == []


def test_the_django_extra_installs_django_and_all_includes_it():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert any(spec.startswith("django") for spec in extras["django"])
    assert "django" in extras["all"][0]
    assert any(spec.startswith("pytest-django") for spec in extras["test"])


@pytest.mark.django_db
def test_the_migrations_match_the_models():
    out = io.StringIO()
    call_command("makemigrations", "expo_push", "--check", "--dry-run", stdout=out)  # SystemExit(1) if not


def _schema(connection: sqlite3.Connection) -> dict[str, set[str]]:
    tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {
        table: {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        for table in tables
        if table.startswith("expo_push_") and table not in ("expo_push_pushdevice",)
    }


def test_the_tables_migrate_makes_are_the_ones_the_ledger_makes(tmp_path):
    by_ledger = tmp_path / "ledger.db"
    Ledger.open(by_ledger).close()
    by_migration = sqlite3.connect(tmp_path / "migrated.db")
    for statement in create_statements("sqlite"):
        by_migration.execute(statement)
    with sqlite3.connect(by_ledger) as opened:
        expected = _schema(opened)
    assert _schema(by_migration) == expected
    by_migration.commit()
    by_migration.close()
    Ledger.open(tmp_path / "migrated.db").close()  # found current: opens


@pytest.mark.django_db(transaction=True)
def test_migrating_the_app_back_to_zero_drops_the_ledgers_tables():
    call_command("migrate", "expo_push", "zero", verbosity=0)
    try:
        assert not [t for t in connections["default"].introspection.table_names() if t.startswith("expo_push_")]
    finally:
        call_command("migrate", "expo_push", verbosity=0)
    assert "expo_push_outbox" in connections["default"].introspection.table_names()


def test_each_module_of_the_app_says_what_it_owns_and_stays_short():
    for path in (SOURCE / "django").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert text.startswith('"""'), path
        assert text.count("\n") <= 500, path


@pytest.mark.parametrize("name", [n for n in ALL_MODULES if n == DJANGO_APP or n.startswith(f"{DJANGO_APP}.")])
def test_all_lists_exactly_what_each_module_of_the_app_defines_for_others(name):
    check_all(name)
