"""The commands a user reaches for besides a plain send: enqueue, receipts of a ledger, token lists, help."""

from __future__ import annotations

import json
import re
import socket

import pytest

from expo_push.ledger import Ledger

from .conftest import TOKENS


def test_enqueue_from_flags_with_a_key_adds_the_message_once(cli, tmp_path):
    args = ["enqueue", "--ledger", "push.db", "--to", TOKENS[0], "--title", "Shipped", "--key", "order-7"]
    first = cli(*args)
    again = cli(*args)
    assert first.status == again.status == 0
    assert first.out == "enqueued 1 of 1 messages in push.db\n"
    assert again.out == "enqueued 0 of 1 messages in push.db (1 already there, by key)\n"
    with Ledger.open(tmp_path / "push.db") as ledger:
        assert ledger.outbox() == [("order-7", "pending")]


def test_enqueue_from_standard_input_takes_each_lines_key_then_the_worker_can_send_them(cli, tmp_path, expo_emulator):
    lines = [json.dumps({"to": t, "body": "queued", "key": f"k{i}"}) for i, t in enumerate(TOKENS[:3])]
    done = cli("enqueue", "--ledger", "push.db", "--file", "-", stdin="\n".join(lines) + "\n")
    assert done.status == 0
    assert done.out.startswith("enqueued 3 of 3 messages")
    with Ledger.open(tmp_path / "push.db") as ledger:
        assert ledger.outbox() == [("k0", "pending"), ("k1", "pending"), ("k2", "pending")]
        from expo_push import PushClient

        with PushClient(base_url=expo_emulator.url) as client:
            assert ledger.drain(client).sent == 3
    assert expo_emulator.messages(TOKENS[2]) == [{"to": TOKENS[2], "body": "queued"}]


def test_enqueue_checks_every_message_before_storing_any(cli, tmp_path):
    lines = [json.dumps({"to": TOKENS[0]}), json.dumps({"to": TOKENS[1], "priority": "urgent"})]
    done = cli("enqueue", "--ledger", "push.db", "--file", "-", stdin="\n".join(lines))
    assert done.status == 2
    assert "standard input line 2, field 'priority'" in done.err
    assert not (tmp_path / "push.db").exists()


def test_receipts_of_a_ledger_show_what_waits_and_when_then_check_now(cli, expo_emulator):
    expo_emulator.script_token(TOKENS[1], receipt_error="DeviceNotRegistered")
    assert cli("send", "--ledger", "push.db", "--to", TOKENS[0], "--to", TOKENS[1], "--title", "t").status == 0
    waiting = cli("receipts", "--ledger", "push.db")
    assert waiting.status == 0
    rows = dict(line.rsplit(None, 1) for line in waiting.out.splitlines()[:6])
    assert rows["checked"] == "0"
    assert rows["waiting"] == "2"
    assert re.search(r"^next due in 1[45] min \d+ s \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)", waiting.out, re.M)
    assert "expo-push receipts --ledger push.db --now" in waiting.out
    now = cli("receipts", "--ledger", "push.db", "--now")
    assert now.status == 1  # one receipt is an error
    rows = {label.strip(): value for label, value in (line.rsplit(None, 1) for line in now.out.splitlines())}
    assert rows["checked"] == "2"
    assert rows["ok"] == "1"
    assert rows["DeviceNotRegistered"] == "1"
    assert rows["waiting"] == "0"
    assert rows["dead tokens found"] == "1"
    dead = cli("tokens", "--ledger", "push.db", "--json")
    [entry] = [json.loads(line) for line in dead.out.splitlines()]
    assert entry["token"] == TOKENS[1]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["died_at"])


def test_a_token_list_on_standard_input_is_recognised(cli, expo_emulator):
    done = cli("send", "--file", "-", "--title", "X", stdin=f"{TOKENS[0]}\n\n{TOKENS[1]}\n")
    assert done.status == 0, done.err
    assert expo_emulator.messages(TOKENS[1]) == [{"to": TOKENS[1], "title": "X"}]


def test_standard_input_of_an_unknown_shape_asks_for_the_format(cli, expo_emulator):
    done = cli("send", "--file", "-", "--title", "X", stdin="hello\n")
    assert done.status == 2
    assert "standard input line 1: cannot tell the format" in done.err
    assert "--format" in done.err


def test_receipts_print_the_token_send_json_gave(cli, expo_emulator):
    sent = cli("send", "--to", TOKENS[0], "--to", TOKENS[1], "--title", "t", "--json")
    ticket_ids = [json.loads(line)["id"] for line in sent.out.splitlines()]
    text = cli("receipts", stdin=sent.out)
    assert text.status == 0
    assert text.out.splitlines() == [
        f"{ticket_ids[0]}  ok        {TOKENS[0]}",
        f"{ticket_ids[1]}  ok        {TOKENS[1]}",
    ]
    as_json = cli("receipts", "--json", stdin=sent.out)
    assert [json.loads(line)["to"] for line in as_json.out.splitlines()] == TOKENS[:2]


def test_receipts_of_tickets_that_all_failed_say_there_were_no_ids(cli, expo_emulator):
    expo_emulator.script_token(TOKENS[0], ticket_error="DeviceNotRegistered")
    sent = cli("send", "--to", TOKENS[0], "--title", "t", "--json")
    assert sent.status == 1
    done = cli("receipts", stdin=sent.out)
    assert done.status == 2
    assert "no ticket ids in standard input (1 lines read)" in done.err


def test_json_lines_of_unsent_recipients_are_spaced_as_ticket_lines(cli, expo_emulator):
    expo_emulator.script_token(TOKENS[0], ticket_error="DeviceNotRegistered")
    refused = cli("send", "--to", TOKENS[0], "--json")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    unsent = cli("send", "--to", TOKENS[1], "--json", "--max-retries", "0", "--base-url", f"http://127.0.0.1:{port}")
    assert unsent.status == 1
    assert unsent.out == '{"to":"' + TOKENS[1] + '","status":"unsent","code":null}\n'
    assert refused.out.startswith('{"status":"error","')


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["send", "-h"], ["examples:", "exit status:", "130  stopped by Ctrl-C; 143 by SIGTERM", "to (or token)"]),
        (["send", "-h"], ["--title TITLE", "the notification's title", "(default: 600", "(default: 30)"]),
        (["worker", "-h"], ["(default: 1000)", "(default: 1)", "-v, --verbose", "-q, --quiet"]),
        (["tokens", "-h"], ["the ledger to read (it must exist)"]),
        (["enqueue", "-h"], ["--key KEY", "examples:", "idempotency key"]),
        (["receipts", "-h"], ["--now", "examples:", "exit status:"]),
    ],
)
def test_help_gives_defaults_examples_and_exit_codes(cli, argv, expected):
    done = cli(*argv)
    assert done.status == 0
    for text in expected:
        assert text in done.out, text


@pytest.mark.parametrize("command", ["send", "enqueue", "receipts", "worker", "tokens", "demo", "emulator"])
def test_every_commands_help_has_examples_and_exit_codes_in_one_style(cli, command):
    done = cli(command, "-h")
    assert done.status == 0
    examples, status = done.out.split("\nexamples:\n")[1], done.out.split("\nexit status:\n")[1]
    assert examples.startswith(f"  expo-push {command}")
    codes = [line.split()[0] for line in status.splitlines()]
    assert all(code.isdigit() for code in codes), status
    assert "2" in codes


def test_the_demo_table_is_aligned(cli):
    done = cli("demo", "--count", "200", "--rate-limit", "none", "-q")
    assert done.status == 0, done.err
    assert done.err == ""
    table = done.out.split("\n\n")[1].splitlines()
    assert len(table) >= 10
    assert len({len(row) for row in table}) == 1, table


def test_unknown_fields_are_sent_with_a_warning_and_strict_refuses_them(cli, expo_emulator, tmp_path):
    lines = [{"to": TOKENS[0], "titel": "c", "bdy": "x"}, {"to": TOKENS[1], "titel": "c"}]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    strict = cli("send", "--file", "m.jsonl", "--strict")
    assert strict.status == 2
    assert "m.jsonl line 1, field 'titel': is not a field of a push message; did you mean 'title'?" in strict.err
    assert expo_emulator.stats.requests == 0
    loose = cli("send", "--file", "m.jsonl")
    assert loose.status == 0
    warnings = [line for line in loose.err.splitlines() if "warning:" in line]
    assert warnings == [
        "expo-push send: warning: 'titel' is not a field of a push message (did you mean 'title'?), in 2 messages, "
        "first m.jsonl line 1; the service ignores it (--strict refuses it)",
        "expo-push send: warning: 'bdy' is not a field of a push message (did you mean 'body'?), in m.jsonl line 1; "
        "the service ignores it (--strict refuses it)",
    ]


def test_a_known_field_in_the_wrong_case_is_refused_with_its_name(cli, expo_emulator, tmp_path):
    (tmp_path / "m.csv").write_text(f"to,channel_id\n{TOKENS[0]},orders\n")
    done = cli("send", "--file", "m.csv")
    assert done.status == 2
    assert "m.csv line 2, field 'channel_id'" in done.err
    assert "'channelId'" in done.err
    assert expo_emulator.stats.requests == 0


def test_send_with_a_ledger_skips_tokens_it_knows_dead_and_says_so(cli, expo_emulator):
    expo_emulator.script_token(TOKENS[1], ticket_error="DeviceNotRegistered")
    first = cli("send", "--ledger", "push.db", "--to", TOKENS[0], "--to", TOKENS[1], "--title", "t")
    assert first.status == 1
    requests = expo_emulator.stats.requests
    again = cli("send", "--ledger", "push.db", "--to", TOKENS[1], "--to", TOKENS[2], "--title", "t", "--json")
    assert again.status == 1
    lines = [json.loads(line) for line in again.out.splitlines()]
    assert [(line["to"], line["status"]) for line in lines] == [(TOKENS[1], "error"), (TOKENS[2], "ok")]
    assert lines[0]["details"]["skipped"] is True
    assert expo_emulator.messages(TOKENS[1]) == []  # refused the first time, never sent the second
    assert expo_emulator.stats.requests == requests + 1
    assert expo_emulator.messages(TOKENS[2]) == [{"to": TOKENS[2], "title": "t"}]
