"""The inbox page's files ship in the wheel (package data), so `pip install expo-push[emulator]` serves the page."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_the_inbox_page(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("expo_push-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    page = {f"expo_push/emulator/inbox/{name}" for name in ("index.html", "inbox.css", "inbox.js", "icon.svg")}
    assert page <= names
