"""The ledger package's shape: what importing it loads, and what its private modules export."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


def test_importing_the_ledger_does_not_load_httpx() -> None:
    code = "import sys, expo_push.ledger; print(sorted(m for m in sys.modules if m.split('.')[0] == 'httpx'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "module",
    [
        "_connections",
        "_database",
        "_ledger",
        "_messages",
        "_models",
        "_outbox",
        "_outbox_queries",
        "_process",
        "_receipts",
        "_recording",
        "_rows",
        "_schema",
        "_store",
        "_ticket_queries",
        "_token_queries",
    ],
)
def test_each_private_module_exports_exactly_names_it_defines(module: str) -> None:
    loaded = importlib.import_module(f"expo_push.ledger.{module}")
    assert loaded.__doc__
    assert all(hasattr(loaded, name) for name in loaded.__all__)
