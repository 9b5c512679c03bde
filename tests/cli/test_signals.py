"""SIGTERM, SIGHUP and a second Ctrl-C: a command ends as after the first Ctrl-C, with 128 + the signal's number."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from expo_push.ledger import Ledger

from .conftest import environment
from .test_interrupt import TOKENS, by_status, start_send


def wait_for_line(stream, words: str) -> list[str]:
    """Lines of ``stream`` up to the one holding ``words``."""
    lines = []
    for line in stream:
        lines.append(line)
        if words in line:
            return lines
    raise AssertionError(f"never said {words!r}: {lines}")


@pytest.mark.parametrize(
    ("sig", "words"), [(signal.SIGTERM, "terminated (SIGTERM)"), (signal.SIGHUP, "hung up (SIGHUP)")]
)
def test_sigterm_and_sighup_end_a_send_as_ctrl_c_does_printing_and_recording_every_ticket(
    expo_emulator, tmp_path, sig, words
):
    expo_emulator.add_fault("stall", count=None, after=2)  # two requests answered, then every one held
    process = start_send(expo_emulator, tmp_path, "--ledger", "push.db")
    try:
        assert expo_emulator.wait_for_stalls(4, timeout=60)  # the run is under way: four requests held
        process.send_signal(sig)
        wait_for_line(process.stderr, f"{words}: no new request starts")
        expo_emulator.release_stalls()  # they come back within the grace
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 128 + sig
    printed = by_status(out)
    assert len(printed["ok"]) == expo_emulator.stats.notifications == 600
    assert [line["to"] for line in printed["unsent"]] == TOKENS[600:]
    assert f"{words}: 600 accepted, 400 not sent; to resume, send again from tokens.txt line 601" in err
    assert "Traceback" not in err
    with Ledger.open(tmp_path / "push.db") as ledger:
        assert ledger.stats().tickets == 600


def test_a_second_ctrl_c_during_the_final_bookkeeping_loses_no_line_nor_ticket(expo_emulator, tmp_path):
    tokens = [f"ExponentPushToken[bookkeeping-{i:04d}]" for i in range(3000)]
    (tmp_path / "tokens.txt").write_text("".join(f"{token}\n" for token in tokens))
    expo_emulator.add_fault("stall", count=None)  # every request held: nothing is printed before Ctrl-C
    process = subprocess.Popen(
        [sys.executable, "-m", "expo_push", "send", "--file", "tokens.txt", "--title", "t", "--json",
         "--max-concurrency", "4", "--rate-limit", "none", "--ledger", "push.db"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env=environment(expo_emulator.url),
    )  # fmt: skip
    assert process.stdout is not None
    try:
        assert expo_emulator.wait_for_stalls(4, timeout=60)
        process.send_signal(signal.SIGINT)
        wait_for_line(process.stderr, "interrupted: no new request starts")
        expo_emulator.release_stalls()
        first = process.stdout.readline()  # printed by the final bookkeeping: the requests are done
        # About 250 kB of lines are still to come, more than the pipe holds: the command is writing them now.
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
        expo_emulator.release_stalls()
    assert process.returncode == 130
    printed = by_status(first + out)
    assert len(printed["ok"]) == expo_emulator.stats.notifications == 400
    assert len(printed["unsent"]) == 2600
    assert "400 accepted, 2,600 not sent; to resume, send again from tokens.txt line 401" in err
    with Ledger.open(tmp_path / "push.db") as ledger:
        assert ledger.stats().tickets == 400
