"""The README's command-line section runs as written: its first block top to bottom, its servers until stopped."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

from .conftest import environment

README = Path(__file__).resolve().parents[2] / "README.md"


def command_blocks() -> list[str]:
    section = README.read_text(encoding="utf-8").split("## The command line\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```", section, re.S | re.M)


def shell_environment(url: str) -> dict[str, str]:
    env = environment(url)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")  # where expo-push is
    return env


def test_the_readme_commands_run_top_to_bottom(expo_emulator, tmp_path):
    one_shot, _ = command_blocks()
    tokens = [f"ExponentPushToken[readme-{i}]" for i in range(3)]
    (tmp_path / "tokens.txt").write_text("".join(f"{token}\n" for token in tokens))
    (tmp_path / "messages.jsonl").write_text("".join(f'{{"to": "{token}", "title": "Hi"}}\n' for token in tokens))
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", one_shot],
        cwd=tmp_path, env=shell_environment(expo_emulator.url), capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert len((tmp_path / "tickets.jsonl").read_text().splitlines()) == 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_readme_servers_run_until_stopped(expo_emulator, tmp_path):
    _, servers = command_blocks()
    lines = [line.split("#", 1)[0].strip() for line in servers.splitlines()]
    expected = {"worker": 143, "emulator": 0}  # the demo ends by itself: tests/cli/test_cli.py runs it
    for line in lines:
        argv = shlex.split(line.replace("--port 8080", f"--port {free_port()}"))
        if argv[1] not in expected:
            continue
        process = subprocess.Popen(
            argv, cwd=tmp_path, env=shell_environment(expo_emulator.url), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, bufsize=0,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            first = process.stdout.readline()  # it has started
            process.send_signal(signal.SIGTERM)
            rest, _ = process.communicate(timeout=60)
        finally:
            process.kill()
        assert process.returncode == expected[argv[1]], first + rest
        assert b"Traceback" not in first + rest
