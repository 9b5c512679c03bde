"""Every Python example in the README runs as written against the emulator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_readme_example_runs(number, expo_emulator, tmp_path):
    code = BLOCKS[number]
    if "def test_" in code:  # a test module: run it with pytest, as a user would
        path = tmp_path / f"test_readme_{number}.py"
        path.write_text(code, encoding="utf-8")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)]
    else:
        command = [sys.executable, "-c", code]
    env = {**os.environ, "EXPO_BASE_URL": expo_emulator.url}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"README example {number} failed:\n{code}\n{done.stdout}\n{done.stderr}"
