"""Enqueue inside the application's own transaction: committed, sent once; rolled back, never sent."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from bench.postgres_server import PostgresServer

from expo_push import PushClient
from expo_push.emulator import Emulator
from expo_push.ledger import Ledger

from .conftest import _fresh_schema, token


@contextmanager
def app_connection(ledger_url: str) -> Iterator[Any]:
    """The application's own connection to the ledger's database, in a transaction it controls."""
    if ledger_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(ledger_url) as conn:  # not autocommit: a transaction opens at the first statement
            yield conn
    else:
        conn = sqlite3.connect(ledger_url)  # the default: a transaction opens at the first write
        try:
            yield conn
        finally:
            conn.close()


def _make_orders(conn: Any) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS app_orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)")
    conn.commit()


def test_a_committed_enqueue_is_sent_once_with_the_order_that_caused_it(
    ledger: Ledger, ledger_url: str, client: PushClient, emulator: Emulator
) -> None:
    with app_connection(ledger_url) as conn:
        _make_orders(conn)
        conn.execute("INSERT INTO app_orders (id, item) VALUES (17, 'tea')")
        new = ledger.enqueue({"to": token("buyer"), "body": "order 17 shipped"}, keys=["order-17"], connection=conn)
        assert new == 1
        assert ledger.outbox() == []  # not visible to the workers before the application commits
        conn.commit()
        assert conn.execute("SELECT item FROM app_orders").fetchall() == [("tea",)]
    assert ledger.outbox() == [("order-17", "pending")]
    assert ledger.drain(client).sent == 1
    assert ledger.drain(client).sent == 0
    assert [m["body"] for m in emulator.messages(token("buyer"))] == ["order 17 shipped"]


def test_a_rolled_back_enqueue_is_never_sent(
    ledger: Ledger, ledger_url: str, client: PushClient, emulator: Emulator
) -> None:
    with app_connection(ledger_url) as conn:
        _make_orders(conn)
        conn.execute("INSERT INTO app_orders (id, item) VALUES (18, 'coffee')")
        ledger.enqueue({"to": token("buyer"), "body": "order 18 shipped"}, keys=["order-18"], connection=conn)
        conn.rollback()
        assert conn.execute("SELECT COUNT(*) FROM app_orders").fetchall() == [(0,)]
    assert ledger.outbox() == []
    assert ledger.drain(client).sent == 0
    assert emulator.messages(token("buyer")) == []
    # The key was never stored: the order placed again is notified.
    assert ledger.enqueue({"to": token("buyer"), "body": "order 18 shipped"}, keys=["order-18"]) == 1


def test_an_enqueue_refuses_a_connection_of_another_kind_before_writing(ledger: Ledger, ledger_url: str) -> None:
    with pytest.raises(TypeError, match="connection must be"):
        ledger.enqueue({"to": token("buyer"), "body": "hi"}, connection=object())
    assert ledger.outbox() == []


def test_a_sqlite_enqueue_refuses_a_connection_to_another_file(tmp_path: Any) -> None:
    with Ledger.open(tmp_path / "push.db") as ledger:
        other = sqlite3.connect(tmp_path / "app.db")
        try:
            with pytest.raises(ValueError, match="ledger's file"):
                ledger.enqueue({"to": token("buyer"), "body": "hi"}, connection=other)
        finally:
            other.close()
        assert ledger.outbox() == []


# -- connections that cannot be the caller's transaction on this ledger's database ---------------------------


def test_a_sqlite_connection_in_autocommit_with_no_transaction_open_is_refused(ledger: Ledger, ledger_url: str) -> None:
    if ledger_url.startswith("postgresql://"):
        pytest.skip("a SQLite connection")
    conn = sqlite3.connect(ledger_url, isolation_level=None)
    try:
        with pytest.raises(ValueError, match=r"no transaction open .*\(autocommit, isolation_level=None\)"):
            ledger.enqueue({"to": token("buyer"), "body": "hi"}, keys=["a"], connection=conn)
        conn.execute("BEGIN")  # as Django runs transaction.atomic() on SQLite
        ledger.enqueue({"to": token("buyer"), "body": "hi"}, keys=["rolled back"], connection=conn)
        conn.execute("ROLLBACK")
        conn.execute("BEGIN")
        ledger.enqueue({"to": token("buyer"), "body": "hi"}, keys=["committed"], connection=conn)
        conn.execute("COMMIT")
    finally:
        conn.close()
    assert ledger.outbox() == [("committed", "pending")]


@pytest.fixture
def postgres_only(ledger_url: str) -> str:
    if not ledger_url.startswith("postgresql://"):
        pytest.skip("a psycopg connection")
    return ledger_url


def test_a_psycopg_connection_in_autocommit_outside_a_transaction_is_refused(
    ledger: Ledger, postgres_only: str
) -> None:
    import psycopg

    with psycopg.connect(postgres_only, autocommit=True) as conn:
        with pytest.raises(ValueError, match=r"no transaction open .* \(autocommit=True\)"):
            ledger.enqueue({"to": token("buyer"), "body": "hi"}, keys=["a"], connection=conn)
        with conn.transaction():  # as Django's transaction.atomic() runs on an autocommit connection
            ledger.enqueue({"to": token("buyer"), "body": "hi"}, keys=["committed"], connection=conn)
        with conn.transaction():
            ledger.enqueue({"to": token("buyer"), "body": "hi"}, keys=["rolled back"], connection=conn)
            raise psycopg.Rollback  # the application changed its mind
    assert ledger.outbox() == [("committed", "pending")]


def test_a_psycopg_connection_whose_transaction_failed_is_refused(ledger: Ledger, postgres_only: str) -> None:
    import psycopg

    with psycopg.connect(postgres_only) as conn:
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("SELECT * FROM no_such_table")
        with pytest.raises(ValueError, match="transaction has failed"):
            ledger.enqueue({"to": token("buyer"), "body": "hi"}, connection=conn)
    assert ledger.outbox() == []


def test_a_psycopg_connection_to_another_database_or_ledger_is_refused(
    ledger: Ledger, postgres_only: str, postgres_server: PostgresServer
) -> None:

    with _fresh_schema(postgres_server) as postgres_url:  # another search_path: first without ledger tables
        _refused_elsewhere(ledger, postgres_url)
    assert ledger.outbox() == []


def _refused_elsewhere(ledger: Ledger, postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        with pytest.raises(ValueError, match="no ledger tables"):
            ledger.enqueue({"to": token("buyer"), "body": "hi"}, connection=conn)
        conn.rollback()
    Ledger.open(postgres_url).close()
    with psycopg.connect(postgres_url) as conn:
        with pytest.raises(ValueError, match="another ledger's tables"):
            ledger.enqueue({"to": token("buyer"), "body": "hi"}, connection=conn)
        conn.commit()
    with Ledger.open(postgres_url) as other:
        assert other.outbox() == []


def test_a_closed_psycopg_connection_is_refused(ledger: Ledger, postgres_only: str) -> None:
    import psycopg

    conn = psycopg.connect(postgres_only)
    conn.close()
    with pytest.raises(ValueError, match="idle or in a transaction"):
        ledger.enqueue({"to": token("buyer"), "body": "hi"}, connection=conn)
