"""Fixtures of the ledger suite: every test runs on SQLite and on a real, throwaway PostgreSQL server
(``postgres_server``, tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from bench.postgres_server import PostgresServer

from expo_push import PushClient
from expo_push.emulator import Emulator
from expo_push.ledger import Ledger

TOKEN_PREFIX = "ExponentPushToken[ledger-"


def token(name: object) -> str:
    """A valid Expo push token named ``name``."""
    return f"{TOKEN_PREFIX}{name}]"


class Clock:
    """A clock the test moves by hand (seconds since the epoch)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def _fresh_schema(server: PostgresServer) -> Iterator[str]:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield server.url(schema)
    finally:
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL whose tables live in a fresh schema of the test PostgreSQL server."""
    with _fresh_schema(postgres_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a test's ledger lives: a SQLite file, or a fresh schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield str(tmp_path / "push.db")
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture
def clock() -> Clock:
    """The ledger's clock, moved by hand."""
    return Clock()


@pytest.fixture
def ledger(ledger_url: str, clock: Clock) -> Iterator[Ledger]:
    """A ledger on the test's backend, with the hand-moved clock."""
    with Ledger.open(ledger_url, clock=clock) as opened:
        yield opened


@pytest.fixture
def emulator(expo_emulator: Emulator) -> Emulator:
    """The emulator, with its rate limit lifted."""
    expo_emulator.rate_limit = None
    return expo_emulator


@pytest.fixture
def client(emulator: Emulator) -> Iterator[PushClient]:
    """A client sending to the emulator, unpaced."""
    with PushClient(base_url=emulator.url, rate_limit=None, http2=False) as push_client:
        yield push_client


@pytest.fixture
def quick_client(emulator: Emulator) -> Iterator[PushClient]:
    """A client whose longest request with its retries is 80 s, for ledgers with a short lease."""
    with PushClient(
        base_url=emulator.url, rate_limit=None, http2=False, attempt_timeout=10, max_retries=1
    ) as push_client:
        assert push_client.max_request_seconds == 80
        yield push_client
