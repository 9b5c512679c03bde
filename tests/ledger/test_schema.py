"""The ledger's schema: the statements an application's own migrations run, and the upgrade of older databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from expo_push.ledger import Ledger, LedgerLocationError, _store
from expo_push.ledger._schema import SCHEMA_VERSION, create_statements

from .conftest import token


def _run_statements(url: str, dialect: str) -> None:
    if dialect == "sqlite":
        with sqlite3.connect(url, isolation_level=None) as conn:
            conn.execute("BEGIN")
            for statement in create_statements(dialect):
                conn.execute(statement)
            conn.execute("COMMIT")
        return
    import psycopg

    with psycopg.connect(url) as conn, conn.transaction():
        for statement in create_statements(dialect):
            conn.execute(statement)


def _dialect(url: str) -> str:
    return "postgresql" if url.startswith("postgresql://") else "sqlite"


def test_create_statements_bring_an_empty_database_to_a_schema_that_open_only_reads(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run_statements(ledger_url, _dialect(ledger_url))

    def no_ddl(*args: object) -> list[str]:
        raise AssertionError("Ledger.open ran the schema's statements on a database already current")

    monkeypatch.setattr(_store, "create_statements", no_ddl)
    monkeypatch.setattr(_store, "migration_steps", no_ddl)
    with Ledger.open(ledger_url) as ledger:
        assert ledger.enqueue({"to": token(1)}, keys=["a"]) == 1
        assert ledger.outbox() == [("a", "pending")]
        with ledger._store.transaction(write=False) as cur:
            cur.execute("SELECT value FROM expo_push_meta WHERE name = 'schema_version'")
            assert cur.fetchone()[0] == str(SCHEMA_VERSION)


def test_create_statements_name_the_dialects_they_know() -> None:
    with pytest.raises(ValueError, match="dialect must be one of sqlite, postgresql, not 'mysql'"):
        create_statements("mysql")


# -- where a ledger can live -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("missing/push.db", "cannot create the ledger {tmp}/missing/push.db: no directory '{tmp}/missing'"),
        (".", "the ledger {tmp} is a directory; give a file's path, e.g. {tmp}/push.db"),
        ("mysql://app:s3cret@db/push", "cannot open the ledger mysql://app:***@db/push: mysql:// is not a database"),
        (":memory:", "a ledger must outlive the process"),
    ],
)
def test_opening_what_cannot_hold_a_ledger_says_what_and_why_before_touching_anything(
    tmp_path: Path, where: str, says: str
) -> None:
    target = where if "://" in where or where == ":memory:" else str(tmp_path / where).rstrip("/.")
    with pytest.raises(LedgerLocationError) as raised:
        Ledger.open(target)
    assert str(raised.value).startswith(says.format(tmp=tmp_path))
    assert "s3cret" not in str(raised.value)
    assert list(tmp_path.iterdir()) == []
