"""Fixtures of the compat tests: one emulator for the module, reset after every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from expo_push.emulator import Emulator


@pytest.fixture(scope="module")
def _emulator() -> Iterator[Emulator]:
    with Emulator(rate_limit=None) as emu:
        yield emu


@pytest.fixture
def emu(_emulator: Emulator) -> Iterator[Emulator]:
    """The module's emulator, clean: no scripts, faults or access tokens left from another test."""
    yield _emulator
    _emulator.reset()


def tokens(count: int, prefix: str = "t") -> list[str]:
    """``count`` distinct Expo push tokens."""
    return [f"ExponentPushToken[{prefix}{i:05d}]" for i in range(count)]
