"""SIGTERM, SIGHUP and a second Ctrl-C: a command ends as after the first Ctrl-C, with 128 + the signal's number."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from expo_push.ledger import Ledger

from .conftest import environment, finish, start_command, wait_for_line
from .test_interrupt import TOKENS, by_status, interrupt, press_again, start_send


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
        said = wait_for_line(process.stderr, f"{words}: no new request starts")
        expo_emulator.release_stalls()  # they come back within the grace
        out, err = finish(process)
        err = said + err
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
    expo_emulator.add_fault("stall", count=None)  # every request held: nothing is printed before Ctrl-C
    process = start_send(expo_emulator, tmp_path, "--ledger", "push.db", tokens=tokens)
    assert process.stdout is not None
    try:
        assert expo_emulator.wait_for_stalls(4, timeout=60)
        said = interrupt(process)
        expo_emulator.release_stalls()
        first = wait_for_line(process.stdout, "")  # printed by the final bookkeeping: the requests are done
        # About 250 kB of lines are still to come, more than the pipe holds: the command is writing them now.
        out, err = press_again(process, said)
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


def start_worker(tmp_path, url: str) -> subprocess.Popen[bytes]:
    return start_command(tmp_path, url, "worker", "--ledger", "outbox.db", "--poll-interval", "0.05")


@pytest.mark.parametrize(("sig", "words"), [(signal.SIGTERM, "terminated (SIGTERM)"), (signal.SIGINT, "interrupted")])
def test_the_worker_stopped_by_a_signal_exits_with_128_plus_its_number(expo_emulator, tmp_path, sig, words):
    with Ledger.open(tmp_path / "outbox.db") as ledger:
        ledger.enqueue([{"to": t, "body": "queued"} for t in TOKENS[:3]])
    worker = start_worker(tmp_path, expo_emulator.url)
    try:
        said = wait_for_line(worker.stderr, "sending the outbox")
        worker.send_signal(sig)
        _, err = finish(worker)
    finally:
        worker.kill()
    assert said == "expo-push worker: sending the outbox of outbox.db (3 pending); stop with Ctrl-C or SIGTERM\n"
    assert worker.returncode == 128 + sig
    assert err.endswith(f"expo-push worker: stopped: {words}\n")
    assert "Traceback" not in err


def test_the_worker_warns_when_its_ledger_did_not_exist(expo_emulator, tmp_path):
    worker = start_worker(tmp_path, expo_emulator.url)
    try:
        said = wait_for_line(worker.stderr, "sending the outbox")
        worker.send_signal(signal.SIGTERM)
        finish(worker)
    finally:
        worker.kill()
    warning, sending = said.splitlines()
    assert warning == (
        "expo-push worker: warning: there was no ledger at outbox.db: a new, empty one was made (is the path right?)"
    )
    assert "(0 pending)" in sending


def test_enqueue_stopped_while_reading_stores_nothing_and_exits_143(expo_emulator, tmp_path):
    fifo = tmp_path / "messages.jsonl"
    os.mkfifo(fifo)
    process = start_command(tmp_path, expo_emulator.url, "enqueue", "--ledger", "push.db", "--file", str(fifo))
    try:
        with open(fifo, "w") as writer:  # returns once the command opened it: it is reading its input
            writer.write(f'{{"to": "{TOKENS[0]}", "title": "t"}}\n')
            writer.flush()
            process.send_signal(signal.SIGTERM)
            out, err = finish(process)
    finally:
        process.kill()
    assert process.returncode == 143
    assert err == "expo-push enqueue: terminated (SIGTERM)\n"
    assert out == ""
    assert not (tmp_path / "push.db").exists()


def test_a_second_signal_stops_the_worker_at_once_and_its_batch_waits_in_the_outbox(expo_emulator, tmp_path):
    with Ledger.open(tmp_path / "outbox.db") as ledger:
        ledger.enqueue([{"to": f"ExponentPushToken[held-{i}]", "body": "queued"} for i in range(300)])
    expo_emulator.add_fault("stall", count=None)  # every request held: the batch never finishes by itself
    worker = start_worker(tmp_path, expo_emulator.url)
    try:
        assert expo_emulator.wait_for_stalls(3, timeout=60)
        worker.send_signal(signal.SIGTERM)
        said = wait_for_line(worker.stderr, "terminated (SIGTERM): finishing the batch being sent (again to stop now)")
        worker.send_signal(signal.SIGTERM)
        _, err = finish(worker)
    finally:
        worker.kill()
        expo_emulator.release_stalls()
    assert worker.returncode == 143
    assert (said + err).endswith("expo-push worker: terminated (SIGTERM)\n")
    assert "Traceback" not in err
    with Ledger.open(tmp_path / "outbox.db") as ledger:
        assert ledger.outbox_backlog().pending == 300  # in doubt or never sent: waiting to be sent again


def test_a_send_whose_reader_closes_the_pipe_records_every_accepted_ticket_and_exits_141(expo_emulator, tmp_path):
    """``expo-push send --json ... | head -1``: the closed output stops the send as SIGPIPE would, nothing lost."""
    tokens = [f"ExponentPushToken[pipe-{i:04d}]" for i in range(3000)]  # far more lines than a pipe holds
    process = start_send(expo_emulator, tmp_path, "--ledger", "push.db", tokens=tokens)
    assert process.stdout is not None
    try:
        first = process.stdout.readline()
        process.stdout.close()  # as `head -1` does: the next ticket printed meets a closed pipe
        err = process.communicate(timeout=60)[1].decode()
    finally:
        process.kill()
    assert '"status":"ok"' in first.decode()
    assert "Traceback" not in err, err
    assert "Exception ignored" not in err, err
    assert process.returncode == 128 + signal.SIGPIPE
    assert "expo-push send: output closed (SIGPIPE): " in err
    with Ledger.open(tmp_path / "push.db") as ledger:
        assert ledger.stats().tickets == expo_emulator.stats.notifications > 0  # every accepted ticket recorded


def test_receipts_whose_reader_closes_the_pipe_end_quietly_with_141(expo_emulator, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{i:08d}-0000-4000-8000-000000000000\n" for i in range(5000)))  # many pipefuls
    with ids.open("rb") as stdin:
        process = subprocess.Popen(
            [sys.executable, "-m", "expo_push", "receipts", "--json"],
            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=tmp_path, env=environment(expo_emulator.url),
        )  # fmt: skip
    assert process.stdout is not None
    try:
        process.stdout.close()  # nobody reads what it prints
        err = process.communicate(timeout=60)[1].decode()
    finally:
        process.kill()
    assert "Traceback" not in err, err
    assert "Exception ignored" not in err, err
    assert process.returncode == 128 + signal.SIGPIPE
