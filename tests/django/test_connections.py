"""What Django's own connection looks like to the ledger, inside and outside ``transaction.atomic()``: the
facts ``enqueue(connection=...)`` relies on to accept the first and refuse the second."""

from __future__ import annotations

import pytest
from django.db import connections, transaction


@pytest.mark.django_db(transaction=True)
def test_on_sqlite_atomic_begins_at_once_with_no_isolation_level():
    connection = connections["default"]
    connection.ensure_connection()
    raw = connection.connection
    assert (raw.isolation_level, raw.in_transaction) == (None, False)
    with transaction.atomic():
        assert (raw.isolation_level, raw.in_transaction) == (None, True)  # BEGIN sent on entering atomic()
    assert (raw.isolation_level, raw.in_transaction) == (None, False)


@pytest.mark.django_db(transaction=True, databases=["postgres"])
def test_on_psycopg_atomic_turns_autocommit_off_and_begins_at_the_first_statement():
    import psycopg

    connection = connections["postgres"]
    connection.ensure_connection()
    raw = connection.connection
    assert isinstance(raw, psycopg.Connection)
    idle, in_transaction = psycopg.pq.TransactionStatus.IDLE, psycopg.pq.TransactionStatus.INTRANS
    assert (raw.autocommit, raw.info.transaction_status) == (True, idle)
    with transaction.atomic(using="postgres"):
        assert (raw.autocommit, raw.info.transaction_status) == (False, idle)  # no BEGIN sent yet
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert (raw.autocommit, raw.info.transaction_status) == (False, in_transaction)
    assert (raw.autocommit, raw.info.transaction_status) == (True, idle)
