"""Off the happy path: wrong input or configuration is one line on standard error, exit 2, nothing sent."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from .conftest import TOKENS, environment


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        (
            "m.jsonl",
            b'{"to": "ExponentPushToken[a]", "title": "ok"}\n{"to": "ExponentPushToken[b]", "title": "caf\xe9"}\n',
            2,
        ),
        ("m.csv", b"to,title\nExponentPushToken[a],caf\xe9\n", 2),
        ("tokens.txt", b"ExponentPushToken[a]\nExponentPushToken[\xff]\n", 2),
    ],
)
def test_input_that_is_not_utf8_names_the_file_and_line(cli, expo_emulator, tmp_path, name, content, line):
    (tmp_path / name).write_bytes(content)
    done = cli("send", "--file", name, "--body", "b")
    assert done.status == 2
    assert one_line(done.err).startswith(f"expo-push send: {name} line {line}: not UTF-8 text")
    assert expo_emulator.stats.requests == 0


def test_standard_input_that_is_not_utf8_names_the_line(cli, expo_emulator):
    done = cli("send", "--file", "-", "--body", "b", stdin=b"ExponentPushToken[a]\nExponentPushToken[\xe9]\n")
    assert done.status == 2
    assert "standard input line 2: not UTF-8 text" in one_line(done.err)
    assert expo_emulator.stats.requests == 0


@pytest.mark.parametrize("name", ["empty.jsonl", "empty.txt", "empty.csv", "header-only.csv"])
def test_input_without_messages_is_an_error_whatever_its_format(cli, tmp_path, name):
    (tmp_path / name).write_text("to,title\n" if name.startswith("header") else "\n")
    done = cli("send", "--file", name, "--title", "t")
    assert done.status == 2
    assert one_line(done.err) == f"expo-push send: no messages in {name}: nothing to send"


def test_a_csv_row_with_more_cells_than_the_header_is_reported(cli, expo_emulator, tmp_path):
    (tmp_path / "m.csv").write_text(f"to,title\n{TOKENS[0]},Hello\n{TOKENS[1]},Hello, world\n")
    done = cli("send", "--file", "m.csv")
    assert done.status == 2
    assert "m.csv line 3: 3 cells but the header has 2 columns" in one_line(done.err)
    assert expo_emulator.stats.requests == 0


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["send", "--to", "ExponentPushToken[a b]"], "field 'to'"),
        (["receipts", " "], "a ticket id cannot be blank"),
        (["send", "--to", TOKENS[0], "--timeout", "nan"], "argument --timeout: expected a number of seconds"),
        (["send", "--to", TOKENS[0], "--timeout", "-1"], "argument --timeout: expected a number of seconds above 0"),
        (["send", "--to", TOKENS[0], "--rate-limit", "inf"], "argument --rate-limit"),
        (["worker", "--ledger", "w.db", "--batch-size", "0"], "argument --batch-size: expected a whole number of at"),
        (["send", "--to", TOKENS[0], "--max-concurrency", "0"], "argument --max-concurrency"),
        (["send", "--to", TOKENS[0], "--base-url", "localhost:37887"], "expected a URL such as https://exp.host"),
        (
            ["send", "--to", TOKENS[0], "--base-url", "https://exp.host/--/api/v2/push/send"],
            "give only the scheme and host (https://exp.host)",
        ),
        (["emulator", "--port", "99999"], "argument --port: expected a port number from 0 to 65535, not '99999'"),
        (["emulator", "--port", "-1"], "argument --port: expected a port number from 0 to 65535, not '-1'"),
        (["emulator", "--max-body-bytes", "0"], "argument --max-body-bytes: expected a whole number of at least 1"),
        (["emulator", "--default-project", "shop"], "argument --default-project: expected a project as @owner/slug"),
        (["worker", "--ledger", "w.db", "--metrics-port", "70000"], "argument --metrics-port: expected a port number"),
        (["worker", "--ledger", "w.db", "--project", "acme"], "argument --project: expected a project as @owner/slug"),
        (["worker", "--ledger", "w.db", "--receipts-every", "-1"], "argument --receipts-every: expected a non-neg"),
        (["receipts", "not-an-id"], "a ticket id is a UUID (XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX), as send --json"),
        (["tokens", "--ledger", "/tmp"], "the ledger /tmp is a directory; give a file's path, e.g. /tmp/push.db"),
        (["send", "--to", TOKENS[0], "--ledger", "/tmp"], "the ledger /tmp is a directory"),
        (
            ["worker", "--ledger", "mysql://push@db/app"],
            "cannot open the ledger mysql://push@db/app: mysql:// is not a database the ledger supports",
        ),
    ],
)
def test_bad_values_are_one_line_and_exit_2_before_anything_is_sent(cli, expo_emulator, argv, expected):
    done = cli(*argv)
    assert done.status == 2
    assert expected in one_line(done.err)
    assert expo_emulator.stats.requests == 0


def test_a_base_url_from_the_environment_is_checked_too(cli, expo_emulator):
    done = cli("send", "--to", TOKENS[0], env={"EXPO_BASE_URL": "exp.host"})
    assert done.status == 2
    assert "$EXPO_BASE_URL 'exp.host': expected a URL" in one_line(done.err)


@pytest.mark.parametrize("command", ["tokens", "receipts"])
def test_reading_a_ledger_that_does_not_exist_is_an_error_and_creates_nothing(cli, tmp_path, command):
    done = cli(command, "--ledger", "typo.db")
    assert done.status == 2
    assert one_line(done.err).startswith(f"expo-push {command}: no ledger at typo.db")
    assert not (tmp_path / "typo.db").exists()


def test_a_ledger_in_a_missing_directory_is_named(cli):
    done = cli("send", "--to", TOKENS[0], "--ledger", "/nonexistent/dir/x.db")
    assert done.status == 2
    assert "cannot create the ledger /nonexistent/dir/x.db" in one_line(done.err)


def test_a_postgres_ledger_that_does_not_answer_is_named_without_its_password(cli, expo_emulator):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    done = cli("send", "--to", TOKENS[0], "--ledger", f"postgresql://nobody:s3cret@127.0.0.1:{port}/db")
    assert done.status == 2
    line = one_line(done.err)
    assert f"cannot open the ledger postgresql://nobody:***@127.0.0.1:{port}/db" in line
    assert "s3cret" not in line
    assert expo_emulator.stats.requests == 0


def test_the_emulator_on_a_port_in_use_says_so(cli):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("emulator", "--port", str(port))
    assert done.status == 2
    assert one_line(done.err).startswith(f"expo-push emulator: cannot listen on 127.0.0.1 port {port}:")


def test_the_emulator_on_a_host_that_does_not_resolve_says_so(cli):
    done = cli("emulator", "--host", "nowhere.invalid")
    assert done.status == 2
    assert one_line(done.err).startswith("expo-push emulator: cannot listen on nowhere.invalid port 0:")


def test_the_emulator_help_names_the_command_it_was_run_as(cli):
    done = cli("emulator", "-h")
    assert done.status == 0
    assert done.out.startswith("usage: expo-push emulator")


_WITHOUT_HYPERCORN = "import sys; sys.modules['hypercorn'] = None; "


@pytest.mark.parametrize(
    "code",
    [
        "import runpy; sys.argv = ['x']; runpy.run_module('expo_push.emulator', run_name='__main__', alter_sys=True)",
        "from expo_push.cli import run; sys.argv = ['expo-push', 'emulator']; run()",
        "from expo_push.cli import run; sys.argv = ['expo-push', 'demo', '--count', '1']; run()",
    ],
    ids=["python -m expo_push.emulator", "expo-push emulator", "expo-push demo"],
)
def test_without_the_emulator_extra_the_commands_say_which_to_install(code):
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_HYPERCORN + code],
        capture_output=True,
        text=True,
        env=environment(None),
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "pip install 'expo-push[emulator]'" in one_line(done.stderr)


def test_importing_the_emulator_without_its_extra_says_which_to_install():
    code = _WITHOUT_HYPERCORN + "from expo_push.emulator import Emulator"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "ModuleNotFoundError: the emulator needs hypercorn" in done.stderr
    assert "pip install 'expo-push[emulator]'" in done.stderr


def test_the_command_line_imports_neither_the_ledger_nor_http2_until_a_command_needs_them():
    # Every run of `expo-push` pays for what its parser imports: the ledger (sqlite3, its queries) only
    # when --ledger is given, h2 only for an https:// service with the http2 extra (cold start, issue 20).
    code = (
        "import sys, expo_push.cli._main as m; m.build_parser(); "
        "print(sorted(n for n in ('expo_push.ledger', 'sqlite3', 'h2', 'httpx', 'django') if n in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
