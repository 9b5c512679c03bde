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
        "_leases",
        "_ledger",
        "_location",
        "_messages",
        "_models",
        "_outage",
        "_outbox",
        "_outbox_queries",
        "_pacer",
        "_parts",
        "_postgres",
        "_process",
        "_receipts",
        "_recording",
        "_rows",
        "_schema",
        "_sending",
        "_sqlite",
        "_store",
        "_ticket_queries",
        "_token_queries",
    ],
)
def test_each_private_module_exports_exactly_names_it_defines(module: str) -> None:
    loaded = importlib.import_module(f"expo_push.ledger.{module}")
    assert loaded.__doc__
    assert all(hasattr(loaded, name) for name in loaded.__all__)


def test_no_ledger_module_is_over_500_lines() -> None:
    from pathlib import Path

    import expo_push.ledger

    folder = Path(expo_push.ledger.__file__).parent
    assert {p.name: n for p in folder.glob("*.py") if (n := len(p.read_text().splitlines())) > 500} == {}


@pytest.mark.parametrize("module", ["_outbox", "_receipts", "_recording", "_sending"])
def test_the_helpers_import_nothing_from_the_ledger_facade(module: str) -> None:
    from pathlib import Path

    import expo_push.ledger

    text = (Path(expo_push.ledger.__file__).parent / f"{module}.py").read_text()
    assert "_ledger" not in text
    assert "ledger._" not in text
