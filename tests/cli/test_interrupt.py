"""Ctrl-C during ``expo-push send``: every ticket printed and recorded, the summary says where to resume, exit 130."""

from __future__ import annotations

import json
import signal
import subprocess

from expo_push.ledger import Ledger

from .conftest import finish, start_command, wait_for_line

TOKENS = [f"ExponentPushToken[ctrl-c-{i:04d}]" for i in range(1000)]  # ten requests of 100


def start_send(expo_emulator, tmp_path, *extra: str, tokens: list[str] = TOKENS) -> subprocess.Popen[bytes]:
    (tmp_path / "tokens.txt").write_text("".join(f"{token}\n" for token in tokens))
    return start_command(
        tmp_path, expo_emulator.url, "send", "--file", "tokens.txt", "--title", "t", "--json",
        "--max-concurrency", "4", "--rate-limit", "none", *extra,
    )  # fmt: skip


def interrupt(process: subprocess.Popen[bytes]) -> str:
    """Press Ctrl-C; return standard error up to the line saying the send heard it."""
    process.send_signal(signal.SIGINT)
    assert process.stderr is not None
    return wait_for_line(process.stderr, "interrupted: no new request starts")


def press_again(process: subprocess.Popen[bytes], said: str) -> tuple[str, str]:
    """Press Ctrl-C a second time; return all it printed then (``said``: standard error read so far)."""
    process.send_signal(signal.SIGINT)
    out, err = finish(process)
    return out, said + err


def by_status(out: str) -> dict[str, list[dict[str, object]]]:
    lines: dict[str, list[dict[str, object]]] = {}
    for line in out.splitlines():
        value = json.loads(line)
        lines.setdefault(str(value["status"]), []).append(value)
    return lines


def test_first_ctrl_c_lets_requests_in_flight_come_back_and_prints_and_records_every_ticket(expo_emulator, tmp_path):
    expo_emulator.add_fault("stall", count=None, after=2)  # two requests answered, then every one held
    process = start_send(expo_emulator, tmp_path, "--ledger", "push.db")
    try:
        assert expo_emulator.wait_for_stalls(4, timeout=60)  # four requests in flight, held
        said = interrupt(process)
        expo_emulator.release_stalls()  # they come back within the grace
        out, err = finish(process)
        err = said + err
    finally:
        process.kill()
    assert process.returncode == 130
    printed = by_status(out)
    assert len(printed["ok"]) == expo_emulator.stats.notifications == 600  # everything delivered is printed
    assert len(printed["unsent"]) == 400
    assert "in_doubt" not in printed
    assert [line["to"] for line in printed["unsent"]] == TOKENS[600:]
    assert "600 accepted, 400 not sent; to resume, send again from tokens.txt line 601" in err
    assert "Traceback" not in err
    with Ledger.open(tmp_path / "push.db") as ledger:
        assert ledger.stats().tickets == 600


def test_second_ctrl_c_ends_at_once_and_counts_requests_in_flight_in_doubt(expo_emulator, tmp_path):
    expo_emulator.add_fault("stall", count=None)  # every request held: none will answer
    process = start_send(expo_emulator, tmp_path)
    try:
        assert expo_emulator.wait_for_stalls(4, timeout=60)
        out, err = press_again(process, interrupt(process))
    finally:
        process.kill()
        expo_emulator.release_stalls()
    assert process.returncode == 130
    printed = by_status(out)
    assert "ok" not in printed
    assert len(printed["in_doubt"]) == 400  # the four requests out when the send was stopped
    assert len(printed["unsent"]) == 600
    assert "0 accepted, 600 not sent, 400 in doubt" in err
    assert "Traceback" not in err
