"""Fixtures of the ledger suite: every test runs on SQLite and on a real, throwaway PostgreSQL server.

The PostgreSQL server is started once per session from the binaries of the
machine (``apt-get install -y postgresql``). Without them the PostgreSQL
half of the suite fails with a message saying so, unless
``EXPO_PUSH_SKIP_POSTGRES=1`` is set.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class PostgresServer:
    """A running throwaway server; ``url(schema)`` is a URL whose tables live in their own schema."""

    port: int

    def url(self, schema: str | None = None) -> str:
        base = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        return base if schema is None else f"{base}?options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of its own on 127.0.0.1, stopped and deleted at the end of the session."""
    if os.environ.get("EXPO_PUSH_SKIP_POSTGRES") == "1":
        pytest.skip("EXPO_PUSH_SKIP_POSTGRES=1: PostgreSQL tests skipped")
    bindir = _postgres_bin()
    if bindir is None:
        pytest.fail(
            "PostgreSQL binaries (initdb, pg_ctl) not found: the ledger's PostgreSQL tests need a real server. "
            "Install them with `apt-get update && apt-get install -y postgresql`, "
            "or set EXPO_PUSH_SKIP_POSTGRES=1 to skip these tests.",
            pytrace=False,
        )
    workdir = Path(tempfile.mkdtemp(prefix="expo-push-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as the postgres user
        user = pwd.getpwnam("postgres")
        os.chown(workdir, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data = workdir / "data"
    port = _free_port()

    def run(*args: str) -> None:
        subprocess.run([*run_as, *args], check=True, capture_output=True, timeout=120)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {port} -k {workdir} -F -c max_connections=200"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(workdir / "log"), "-w", "start")
    except subprocess.CalledProcessError as exc:
        log = (workdir / "log").read_text() if (workdir / "log").exists() else ""
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')}{log}", pytrace=False)
    try:
        yield PostgresServer(port)
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a test's ledger lives: a SQLite file, or a fresh schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield str(tmp_path / "push.db")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
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
