"""A throwaway PostgreSQL server from the machine's binaries, for the ledger's benchmark and tests."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

MISSING = (
    "PostgreSQL binaries (initdb, pg_ctl) not found: the ledger's PostgreSQL tests need a real server. "
    "Install them with `apt-get update && apt-get install -y postgresql`, "
    "or set EXPO_PUSH_SKIP_POSTGRES=1 to skip these tests."
)


class PostgresUnavailable(RuntimeError):
    """The binaries are missing or the server would not start."""


def postgres_bin() -> Path | None:
    """The directory of ``pg_ctl`` and ``initdb``: on PATH, else the newest /usr/lib/postgresql/<ver>/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server; ``url(schema)`` is a URL whose tables live in their own schema."""

    port: int
    restart_command: list[str] = field(default_factory=list)

    def restart(self) -> None:
        """Restart the server as an operator would (``pg_ctl restart -m fast``: sessions are cut, clients
        refused until it is back); return once it accepts connections again."""
        subprocess.run(self.restart_command, check=True, capture_output=True, timeout=120)

    def url(self, schema: str | None = None) -> str:
        """The URL of the ``postgres`` database, with ``search_path`` set to ``schema`` if given."""
        base = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        return base if schema is None else f"{base}?options=-csearch_path%3D{schema}"


@contextmanager
def throwaway_postgres(*, fsync: bool = True) -> Iterator[PostgresServer]:
    """Start a server on 127.0.0.1 (free port, sockets and data in a temp dir); stop and delete it after.

    ``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` user.
    ``fsync=False`` trades durability against a machine crash for speed (tests).
    """
    bindir = postgres_bin()
    if bindir is None:
        raise PostgresUnavailable(MISSING)
    workdir = Path(tempfile.mkdtemp(prefix="expo-push-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(workdir, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data = workdir / "data"
    port = _free_port()

    def run(*args: str) -> None:
        subprocess.run([*run_as, *args], check=True, capture_output=True, timeout=120)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {port} -k {workdir} -c max_connections=200" + ("" if fsync else " -F")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(workdir / "log"), "-w", "start")
    except subprocess.CalledProcessError as exc:
        log = (workdir / "log").read_text() if (workdir / "log").exists() else ""
        shutil.rmtree(workdir, ignore_errors=True)
        raise PostgresUnavailable(f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')}{log}") from exc
    try:
        pg_ctl = [*run_as, str(bindir / "pg_ctl"), "-D", str(data)]
        yield PostgresServer(port, [*pg_ctl, "-o", options, "-l", str(workdir / "log"), "-m", "fast", "-w", "restart"])
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(workdir, ignore_errors=True)
