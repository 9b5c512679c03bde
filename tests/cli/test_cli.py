"""The expo-push command as a user runs it, against the emulator."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from expo_push.cli import main

TOKENS = [f"ExponentPushToken[cli-{i}]" for i in range(5)]


def run(*argv: str, stdin: str = "", env_url: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdin=io.StringIO(stdin), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def url(expo_emulator, monkeypatch):
    monkeypatch.setenv("EXPO_BASE_URL", expo_emulator.url)
    return expo_emulator.url


def test_send_from_flags_reaches_the_device(url, expo_emulator):
    status, out, _ = run("send", "--to", TOKENS[0], "--title", "Hi", "--data", '{"k": 1}', "--badge", "2")
    assert status == 0
    assert "accepted" in out
    assert expo_emulator.messages(TOKENS[0]) == [{"to": TOKENS[0], "title": "Hi", "data": {"k": 1}, "badge": 2}]


def test_send_json_prints_one_ticket_per_line(url):
    status, out, _ = run("send", "--to", TOKENS[0], "--to", TOKENS[1], "--body", "b", "--json")
    assert status == 0
    tickets = [json.loads(line) for line in out.splitlines()]
    assert [t["to"] for t in tickets] == TOKENS[:2]
    assert all(t["status"] == "ok" and t["id"] for t in tickets)


def test_send_exits_1_and_counts_dead_tokens_when_some_fail(url, expo_emulator):
    expo_emulator.script_token(TOKENS[1], ticket_error="DeviceNotRegistered")
    status, out, _ = run("send", "--to", TOKENS[0], "--to", TOKENS[1], "--title", "t")
    assert status == 1
    rows = [line.rsplit(None, 1) for line in out.splitlines() if not line.startswith(("failed:", "..."))]
    lines = {label.strip(): value for label, value in rows}
    assert lines["accepted"] == "1"
    assert lines["DeviceNotRegistered"] == "1"
    assert lines["dead tokens"] == "1"
    assert f"failed: DeviceNotRegistered {TOKENS[1]}" in out


def test_send_jsonl_file_with_a_template(url, expo_emulator, tmp_path):
    path = tmp_path / "messages.jsonl"
    path.write_text("\n".join(json.dumps({"to": t, "data": {"n": i}}) for i, t in enumerate(TOKENS)) + "\n")
    status, _, _ = run("send", "--file", str(path), "--title", "Sale")
    assert status == 0
    assert expo_emulator.messages(TOKENS[3]) == [{"to": TOKENS[3], "title": "Sale", "data": {"n": 3}}]


def test_send_csv_and_token_list_and_stdin(url, expo_emulator, tmp_path):
    csv_path = tmp_path / "m.csv"
    csv_path.write_text("token,title,data\n" + f'{TOKENS[0]},Hello,"{{""a"": 1}}"\n')
    assert run("send", "--file", str(csv_path))[0] == 0
    assert expo_emulator.messages(TOKENS[0]) == [{"to": TOKENS[0], "title": "Hello", "data": {"a": 1}}]
    txt = tmp_path / "tokens.txt"
    txt.write_text(f"{TOKENS[1]}\n\n{TOKENS[2]}\n")
    assert run("send", "--file", str(txt), "--body", "b")[0] == 0
    assert expo_emulator.messages(TOKENS[2]) == [{"to": TOKENS[2], "body": "b"}]
    assert run("send", "--file", "-", stdin=json.dumps({"to": TOKENS[4], "title": "s"}) + "\n")[0] == 0
    assert expo_emulator.messages(TOKENS[4]) == [{"to": TOKENS[4], "title": "s"}]


def test_a_bad_line_is_reported_by_number_and_field_and_nothing_is_sent(url, expo_emulator, tmp_path):
    path = tmp_path / "messages.jsonl"
    lines = [json.dumps({"to": TOKENS[0]}), "", json.dumps({"to": TOKENS[1], "priority": "urgent"})]
    path.write_text("\n".join(lines) + "\n")
    status, _, err = run("send", "--file", str(path), "--title", "t")
    assert status == 2
    assert "line 3, field 'priority'" in err
    assert expo_emulator.stats.requests == 0


def test_invalid_json_line_and_bad_token_are_usage_errors(url, expo_emulator, tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text("{nope\n")
    assert "line 1: not valid JSON" in run("send", "--file", str(path))[2]
    status, _, err = run("send", "--to", "a" * 64)
    assert status == 2
    assert "APNs" in err
    assert expo_emulator.stats.requests == 0


def test_send_needs_recipients(url):
    status, _, err = run("send", "--title", "t")
    assert status == 2
    assert "--to" in err


def test_receipts_from_arguments_and_from_send_json_on_stdin(url, expo_emulator):
    expo_emulator.script_token(TOKENS[1], receipt_error="MessageTooBig")
    _, sent, _ = run("send", "--to", TOKENS[0], "--to", TOKENS[1], "--title", "t", "--json")
    ids = [json.loads(line)["id"] for line in sent.splitlines()]
    status, out, _ = run("receipts", ids[0])
    assert status == 0
    assert f"{ids[0]}  ok" in out
    status, out, _ = run("receipts", "--json", stdin=sent)
    assert status == 1
    receipts = [json.loads(line) for line in out.splitlines()]
    assert [r["status"] for r in receipts] == ["ok", "error"]
    assert receipts[1]["details"]["error"] == "MessageTooBig"


def test_receipts_not_yet_available_are_pending(url):
    unknown = "0f1e2d3c-4b5a-4697-8877-665544332211"
    status, out, _ = run("receipts", "--json", unknown)
    assert json.loads(out) == {"id": unknown, "status": "pending"}
    assert status == 0


def test_access_token_from_the_environment_is_sent_and_never_printed(expo_emulator, monkeypatch):
    expo_emulator.set_access_tokens(["s3cret-token"])
    monkeypatch.setenv("EXPO_BASE_URL", expo_emulator.url)
    monkeypatch.setenv("EXPO_TOKEN", "wrong-token")
    status, out, err = run("send", "--to", TOKENS[0], "--max-retries", "0")
    assert status == 1
    assert "UNAUTHORIZED" in err
    assert "wrong-token" not in out + err
    monkeypatch.setenv("EXPO_ACCESS_TOKEN", "s3cret-token")
    status, out, err = run("send", "--to", TOKENS[0])
    assert status == 0
    assert "s3cret-token" not in out + err


def test_the_console_script_runs_as_installed(expo_emulator):
    env = {**os.environ, "EXPO_BASE_URL": expo_emulator.url}
    done = subprocess.run(
        [sys.executable, "-m", "expo_push", "send", "--to", TOKENS[0], "--title", "sub", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "ok"
    assert expo_emulator.messages(TOKENS[0]) == [{"to": TOKENS[0], "title": "sub"}]


def test_send_recorded_in_a_ledger_then_receipts_and_dead_tokens(url, expo_emulator, tmp_path):
    from expo_push.ledger import Ledger

    ledger_path = str(tmp_path / "push.db")
    expo_emulator.script_token(TOKENS[2], ticket_error="DeviceNotRegistered")
    expo_emulator.script_token(TOKENS[3], receipt_error="DeviceNotRegistered")
    args = ["send", "--ledger", ledger_path, "--title", "t"]
    status, _, _ = run(*args, *[a for t in TOKENS for a in ("--to", t)])
    assert status == 1  # one ticket refused
    with Ledger.open(ledger_path) as ledger:
        assert ledger.stats().tickets == 5
    # Receipts are due 15 minutes after sending: none yet.
    status, out, _ = run("receipts", "--ledger", ledger_path)
    assert status == 0
    assert out.splitlines()[0].split() == ["checked", "0"]
    status, out, _ = run("tokens", "--ledger", ledger_path)
    assert out.split() == [TOKENS[2]]
    status, out, _ = run("tokens", "--ledger", ledger_path, "--json")
    assert json.loads(out)["reason"] == "DeviceNotRegistered"


def test_worker_sends_the_outbox_and_stops_on_sigterm(expo_emulator, tmp_path):
    import signal
    import time

    from expo_push.ledger import Ledger

    ledger_path = str(tmp_path / "outbox.db")
    with Ledger.open(ledger_path) as ledger:
        ledger.enqueue([{"to": t, "body": "queued"} for t in TOKENS], keys=[f"k{i}" for i in range(5)])
    env = {**os.environ, "EXPO_BASE_URL": expo_emulator.url}
    worker = subprocess.Popen(
        [sys.executable, "-m", "expo_push", "worker", "--ledger", ledger_path, "--poll-interval", "0.05"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while expo_emulator.stats.notifications < 5 and time.monotonic() < deadline:
            time.sleep(0.02)  # polling the emulator's counter: the worker is another process
        assert expo_emulator.stats.notifications == 5
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 143  # 128 + SIGTERM, as timeout, systemd and Kubernetes expect
    assert "expo-push worker: stopped: terminated (SIGTERM)" in err
    assert expo_emulator.messages(TOKENS[4]) == [{"to": TOKENS[4], "body": "queued"}]


def test_demo_adds_up(monkeypatch):
    status, out, err = run("demo", "--count", "500", "--rate-limit", "none")
    assert status == 0, err
    assert "dead tokens found" in out
    assert "10 of 10" in out
    assert 'ledger = Ledger.open("push.db")' in out


def test_emulator_subcommand_prints_its_url():
    done = subprocess.Popen(
        [sys.executable, "-m", "expo_push", "emulator", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = done.stdout.readline()
        assert line.startswith("Expo Push emulator listening on http://127.0.0.1:")
    finally:
        done.terminate()
        done.wait(timeout=30)
