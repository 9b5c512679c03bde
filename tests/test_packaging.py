"""The package as the index shows it: a license file, project URLs, a README whose links work there, and extras."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_license_the_package_names_ships_as_a_file():
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_the_project_urls_point_at_the_repository():
    urls = PROJECT["urls"]
    assert {"Homepage", "Source", "Issues", "Documentation"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())


def test_the_readme_links_are_absolute_so_they_work_on_the_package_index():
    links = re.findall(r"\]\(([^)\s]+)\)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert links
    assert [link for link in links if not link.startswith(("https://", "http://"))] == []


def test_lint_and_type_tools_are_in_dev_not_in_test():
    extras = PROJECT["optional-dependencies"]
    names = {extra: {re.split(r"[<>=\[ ]", spec)[0] for spec in specs} for extra, specs in extras.items()}
    assert {"ruff", "mypy"} <= names["dev"]
    assert not ({"ruff", "mypy"} & names["test"])
    assert "expo-push[all]" in extras["test"]
