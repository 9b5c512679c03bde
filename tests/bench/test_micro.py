"""The micro-benchmarks of the core run and print each figure beside its floor."""

from __future__ import annotations

import pytest
from bench.micro.__main__ import main


def test_the_decoding_micro_benchmark_prints_its_figure_beside_its_floor(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decoding"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "# decoding"
    assert "us/ticket" in out[1]
    assert "floor" in out[1]


def test_an_unknown_concern_is_refused_naming_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["speed"]) == 2
    assert "validation, decoding, gc, memory" in capsys.readouterr().err
