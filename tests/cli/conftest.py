"""Run ``expo-push`` as a user does: a process of its own, against the emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

TOKENS = [f"ExponentPushToken[cli-{i}]" for i in range(5)]


@dataclass(frozen=True)
class Done:
    """A finished command: exit status and what it printed."""

    status: int
    out: str
    err: str


Cli = Callable[..., Done]


def environment(url: str | None, **extra: str) -> dict[str, str]:
    """The environment of a command: this one, without the Expo variables, plus ``EXPO_BASE_URL`` and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPO_")}
    if url is not None:
        env["EXPO_BASE_URL"] = url
    env.update(extra)
    return env


@pytest.fixture
def cli(expo_emulator, tmp_path) -> Cli:
    """``cli("send", "--to", ..., stdin=b"...", env={...})``: run ``python -m expo_push`` in ``tmp_path``."""

    def run(*argv: str, stdin: bytes | str = b"", env: dict[str, str] | None = None, timeout: float = 60) -> Done:
        data = stdin.encode() if isinstance(stdin, str) else stdin
        done = subprocess.run(
            [sys.executable, "-m", "expo_push", *argv],
            input=data,
            capture_output=True,
            cwd=tmp_path,
            env=environment(expo_emulator.url, **(env or {})),
            timeout=timeout,
            check=False,
        )
        text = Done(done.returncode, done.stdout.decode(), done.stderr.decode())
        assert "Traceback" not in text.err, text.err
        return text

    return run


def start_command(tmp_path: Path, url: str, *argv: str) -> subprocess.Popen[bytes]:
    """``expo-push *argv`` started in ``tmp_path``, its output unbuffered here: what ``wait_for_line`` reads is
    all it takes, and ``finish`` gets the rest."""
    return subprocess.Popen(
        [sys.executable, "-m", "expo_push", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
        cwd=tmp_path,
        env=environment(url),
    )


def wait_for_line(stream: IO[bytes], words: str) -> str:
    """What ``stream`` (unbuffered) says up to the end of the line holding ``words``, read a byte at a time."""
    said = []
    while line := stream.readline():
        said.append(line.decode())
        if words in said[-1]:
            return "".join(said)
    raise AssertionError(f"never said {words!r}: {said}")


def finish(process: subprocess.Popen[bytes]) -> tuple[str, str]:
    """The rest of what ``process`` prints on standard output and error, once it has ended."""
    out, err = process.communicate(timeout=60)
    return out.decode(), err.decode()
