"""Fixtures shared by several suites: the throwaway PostgreSQL server (the ledger's and the Django app's tests)
and headless Chromium (the inbox page's and the Django admin's browser tests).

The server is started once per session from the binaries of the machine (``apt-get install -y postgresql``).
Without them the PostgreSQL tests are skipped, saying why, on a developer's machine, and fail in CI (``CI``
set, as .ci/run runs), where they must run; ``EXPO_PUSH_SKIP_POSTGRES=1`` skips them anywhere.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

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


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, one per test module (skipped where it is not installed, but in CI).

    Not one per session: Playwright's sync API keeps an event loop running in the main thread
    while it is open, and the async tests of other modules must run their own.
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is not installed at {CHROMIUM}: .ci/run installs it (apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
