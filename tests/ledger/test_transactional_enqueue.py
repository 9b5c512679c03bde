"""Enqueue inside the application's own transaction: committed, sent once; rolled back, never sent."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from expo_push import PushClient
from expo_push.emulator import Emulator
from expo_push.ledger import Ledger

from .conftest import token


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
