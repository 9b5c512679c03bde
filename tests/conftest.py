"""Fixtures shared by several suites: the throwaway PostgreSQL server (the ledger's and the Django app's tests).

The server is started once per session from the binaries of the machine (``apt-get install -y postgresql``).
Without them the PostgreSQL tests are skipped, saying why, on a developer's machine, and fail in CI (``CI``
set, as .ci/run runs), where they must run; ``EXPO_PUSH_SKIP_POSTGRES=1`` skips them anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from bench.postgres_server import PostgresServer, PostgresUnavailable, postgres_bin, throwaway_postgres

SKIP_POSTGRES = "EXPO_PUSH_SKIP_POSTGRES"


def postgres_unavailable() -> str | None:
    """Why the PostgreSQL tests are to be skipped here, known before any server starts (None: they run)."""
    if os.environ.get(SKIP_POSTGRES) == "1":
        return f"{SKIP_POSTGRES}=1: PostgreSQL tests skipped"
    if postgres_bin() is None and not os.environ.get("CI"):
        return "PostgreSQL's binaries are missing (apt-get install postgresql; CI runs these tests)"
    return None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of its own on 127.0.0.1, stopped and deleted at the end of the session."""
    if os.environ.get(SKIP_POSTGRES) == "1":
        pytest.skip(f"{SKIP_POSTGRES}=1: PostgreSQL tests skipped")
    problem = None
    try:
        with throwaway_postgres(fsync=False) as server:
            yield server
    except PostgresUnavailable as exc:
        problem = str(exc)
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(problem, pytrace=False)
        pytest.skip(f"{problem} (CI runs these tests)")


