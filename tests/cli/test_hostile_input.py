"""Hostile input and answers through the real command: one line naming the input, exit 2, nothing raw on screen."""

from __future__ import annotations

import json
import os
import socket

import pytest

from tests.clients.raw_server import raw_server

from .conftest import TOKENS, finish, start_command
from .test_boundaries import one_line

DEEP = "[" * 20_000 + "]" * 20_000
UUID = "0f1e2d3c-4b5a-4697-8877-665544332211"


def nested_line(depth: int = 20_000) -> str:
    return '{"to": "' + TOKENS[0] + '", "data": {"a": ' + DEEP[: depth] + DEEP[-depth:] + "}}\n"


@pytest.mark.parametrize("command", ["send", "enqueue"])
def test_a_json_line_nested_20000_deep_is_one_line_exit_2(cli, expo_emulator, tmp_path, command):
    (tmp_path / "deep.jsonl").write_text(f'{{"to": "{TOKENS[1]}"}}\n' + nested_line())
    done = cli(command, "--ledger", "push.db", "--file", "deep.jsonl")
    assert done.status == 2
    assert one_line(done.err) == (
        f"expo-push {command}: deep.jsonl line 2: JSON nested too deeply to read (a message's data allows 32 levels)"
    )
    assert expo_emulator.stats.requests == 0


def test_data_nested_20000_deep_is_one_line_exit_2(cli, expo_emulator):
    done = cli("send", "--to", TOKENS[0], "--data", '{"a": ' + DEEP + "}")
    assert done.status == 2
    assert one_line(done.err).startswith("expo-push send: --data: JSON nested too deeply to read")


def test_a_csv_cell_over_csvs_limit_is_one_line_exit_2(cli, expo_emulator, tmp_path):
    (tmp_path / "m.csv").write_text(f"to,title\n{TOKENS[0]},ok\n{TOKENS[1]},{'x' * 131_073}\n")
    done = cli("send", "--file", "m.csv")
    assert done.status == 2
    assert one_line(done.err).startswith("expo-push send: m.csv line 3: not a CSV row this can read (field larger")
    assert expo_emulator.stats.requests == 0


def test_a_deeply_nested_csv_cell_is_one_line_exit_2(cli, expo_emulator, tmp_path):
    (tmp_path / "m.csv").write_text(f'to,data\n{TOKENS[0]},"{DEEP[:50_000]}{DEEP[-50_000:]}"\n')
    done = cli("send", "--file", "m.csv")
    assert done.status == 2
    assert one_line(done.err).startswith("expo-push send: m.csv line 2, field 'data': JSON nested too deeply")


def test_receipts_of_a_deeply_nested_line_on_standard_input_is_one_line_exit_2(cli):
    done = cli("receipts", stdin='{"id": ' + DEEP + "}\n")
    assert done.status == 2
    assert one_line(done.err).startswith("expo-push receipts: standard input line 1: not a ticket id nor")


def test_a_worker_whose_metrics_port_is_taken_says_so_before_anything_else(cli, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("worker", "--ledger", "w.db", "--metrics-port", str(port), "--metrics-addr", "127.0.0.1")
    assert done.status == 2
    assert one_line(done.err).startswith(f"expo-push worker: --metrics-port {port}: cannot serve on 127.0.0.1:")


def test_receipts_of_an_unknown_id_are_pending(cli):
    done = cli("receipts", "--json", UUID)
    assert done.status == 0
    assert json.loads(done.out) == {"id": UUID, "status": "pending"}


ANSI = "\x1b[2J\x1b[31mpwned\x1b]0;title\x07"


def answer_with(status: int, body: dict[str, object]):
    payload = json.dumps(body).encode()  # JSON escapes control characters: the answer is well formed

    def answer(conn: socket.socket, over) -> None:
        head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        conn.sendall(head.encode() + payload)

    return answer


def test_the_services_text_reaches_the_terminal_with_control_characters_escaped(cli):
    ticket = {"status": "error", "message": f"refused {ANSI}", "details": {"error": f"Odd{ANSI}"}}
    with raw_server(answer_with(200, {"data": [ticket]})) as (url, _, _):
        done = cli("send", "--to", TOKENS[0], "--title", "t", "--base-url", url)
    assert done.status == 1
    assert "\x1b" not in done.out + done.err
    assert "\x07" not in done.out + done.err
    assert "failed: Odd\\x1b[2J\\x1b[31mpwned" in done.out
    assert "refused \\x1b[2J\\x1b[31mpwned\\x1b]0;title\\x07" in done.out


def test_a_request_error_from_the_service_is_shown_escaped(cli):
    error = {"code": f"BAD{ANSI}", "message": f"no {ANSI}", "isTransient": False}
    with raw_server(answer_with(400, {"errors": [error]})) as (url, _, _):
        done = cli("send", "--to", TOKENS[0], "--title", "t", "--base-url", url, "--max-retries", "0")
    assert done.status == 1
    assert "\x1b" not in done.out + done.err
    assert "no \\x1b[2J\\x1b[31mpwned" in done.err


def test_a_json_file_holding_an_array_of_messages_is_sent(cli, expo_emulator, tmp_path):
    batch = [{"to": TOKENS[0], "title": "one"}, {"to": [TOKENS[1], TOKENS[2]], "title": "two", "data": {"n": [1, 2]}}]
    (tmp_path / "batch.json").write_text(json.dumps(batch, indent=2))
    done = cli("send", "--file", "batch.json", "--json")
    assert done.status == 0, done.err
    assert [json.loads(line)["status"] for line in done.out.splitlines()] == ["ok", "ok", "ok"]
    assert expo_emulator.messages(TOKENS[2]) == [{"to": TOKENS[2], "title": "two", "data": {"n": [1, 2]}}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[\n  {"to": "ExponentPushToken[a]"},\n  3\n]', "batch.json line 3: expected a JSON object (one message)"),
        ('[\n  {"to": "ExponentPushToken[a]"}\n  {"to": "ExponentPushToken[b]"}\n]', "batch.json line 3: expected ','"),
        ('[{"to": "ExponentPushToken[a]"}]\n[]', "batch.json line 2: more after the end of the JSON array"),
        ('[\n  {"to": "ExponentPushToken[a]",\n', "batch.json line 3: not valid JSON"),
        ("[" * 20_000, "batch.json line 1: JSON nested too deeply to read"),
    ],
)
def test_a_broken_json_array_is_one_line_naming_where(cli, expo_emulator, tmp_path, text, expected):
    (tmp_path / "batch.json").write_text(text)
    done = cli("send", "--file", "batch.json")
    assert done.status == 2
    assert expected in one_line(done.err)


def test_a_json_array_is_read_as_it_comes_not_whole(expo_emulator, tmp_path):
    fifo = tmp_path / "batch.json"
    os.mkfifo(fifo)
    process = start_command(tmp_path, expo_emulator.url, "send", "--file", str(fifo))
    with open(fifo, "w") as writer:  # kept open: the array never ends, yet its second message is judged
        writer.write(f'[\n  {{"to": "{TOKENS[0]}"}},\n  {{"to": "{TOKENS[1]}", "priority": "urgent"}},\n')
        writer.flush()
        _, err = finish(process)
    assert process.returncode == 2
    assert f"{fifo} line 3, field 'priority'" in err
