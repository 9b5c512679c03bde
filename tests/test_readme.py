"""Every Python example in the README and in docs/*.md runs as written against the emulator.

A block that cannot run here (it needs Django, say) is preceded, on the line just before its fence, by
``<!-- no-run: the reason -->``; it is listed as skipped with that reason. A block that defines ``test_``
functions is a test module: it runs with pytest, as its reader would run it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^(?:<!-- no-run: (?P<reason>.+?) -->\n)?```python\n(?P<code>.*?)^```", re.S | re.M)


def _blocks() -> list[tuple[str, int, str, str | None]]:
    """(document, number within it, code, reason not to run it) of every Python block."""
    found = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for number, match in enumerate(_BLOCK.finditer(text)):
            found.append((document.relative_to(ROOT).as_posix(), number, match["code"], match["reason"]))
    return found


BLOCKS = _blocks()


def test_the_readme_and_each_document_have_examples():
    assert len([b for b in BLOCKS if b[0] == "README.md"]) >= 3
    assert {b[0] for b in BLOCKS} >= {"README.md", "docs/ledger.md", "docs/testing-without-a-phone.md"}


def test_every_python_fence_is_found_with_its_marker():
    """A fence the pattern misses (indented, or with a marker not on the line just before) would go untested."""
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        fences = text.count("```python\n")
        assert fences == len([b for b in BLOCKS if b[0] == document.relative_to(ROOT).as_posix()]), document
        for marker in re.finditer(r"<!-- no-run:.*?-->\n(.*)\n", text):
            assert marker[1] == "```python", f"{document.name}: a no-run marker not just before a python fence"


@pytest.mark.parametrize(("document", "number", "code", "reason"), BLOCKS, ids=[f"{b[0]}#{b[1]}" for b in BLOCKS])
def test_example_runs(document, number, code, reason, expo_emulator, tmp_path):
    if reason is not None:
        pytest.skip(f"marked no-run: {reason}")
    if "def test_" in code:  # a test module: run it with pytest, as a user would (default pytest settings)
        path = tmp_path / f"test_example_{number}.py"
        path.write_text(code, encoding="utf-8")
        (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # the user's own, not ours
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)]
    else:
        command = [sys.executable, "-c", code]
    env = {**os.environ, "EXPO_BASE_URL": expo_emulator.url}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{document} example {number} failed:\n{code}\n{done.stdout}\n{done.stderr}"
