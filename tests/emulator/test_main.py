"""``python -m expo_push.emulator`` and ``main(argv)``: options, the first line, clean exit on signals."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from expo_push.emulator import main
from expo_push.emulator._main import build_parser

from .conftest import SEND, token

PREFIX = "Expo Push emulator listening on "


@contextmanager
def _serve(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    command = [sys.executable, "-m", "expo_push.emulator", "--port", "0", *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith(PREFIX), line
            yield process, line[len(PREFIX) :].strip()
        finally:
            if process.poll() is None:
                process.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_module_prints_its_url_first_serves_and_exits_cleanly_on_signals(sig: signal.Signals) -> None:
    with _serve("--host", "127.0.0.1", "--rate-limit", "none") as (process, url):
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url) as http:
            for _ in range(10):
                assert http.post(SEND, json={"to": [token(i) for i in range(100)]}).status_code == 200
        process.send_signal(sig)
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None
        assert process.stderr.read() == ""


def test_module_options_reach_the_emulator() -> None:
    args = ("--rate-limit", "100", "--receipt-delay", "60", "--access-token", "tok", "--latency-ms", "5",
            "--history", "7")  # fmt: skip
    with _serve(*args) as (process, url), httpx.Client(base_url=url) as http:
        config = http.post("/--/emulator/config", json={}).json()
        assert (config["rate_limit"], config["receipt_delay"], config["latency"]) == (100, 60, 0.005)
        assert config["history"] == 7
        assert http.post(SEND, json={"to": token(1)}).status_code == 401
        auth = {"Authorization": "Bearer tok"}
        response = http.post(SEND, json={"to": token(1)}, headers=auth)
        assert response.status_code == 200
        ticket_id = response.json()["data"]["id"]
        assert http.post("/--/api/v2/push/getReceipts", json={"ids": [ticket_id]}, headers=auth).json() == {"data": {}}
        process.terminate()
        assert process.wait(timeout=10) == 0
        assert process.stdout is not None
        assert "tok" not in process.stdout.read()


def test_parser_reads_every_option() -> None:
    args = build_parser().parse_args(
        ["--host", "0.0.0.0", "--port", "8123", "--rate-limit", "none", "--latency-ms", "20", "--receipt-delay", "5",
         "--access-token", "a", "--access-token", "b", "--default-project", "@me/app"]
    )  # fmt: skip
    assert (args.host, args.port, args.rate_limit, args.latency_ms) == ("0.0.0.0", 8123, None, 20.0)
    assert (args.receipt_delay, args.access_token, args.default_project) == (5.0, ["a", "b"], "@me/app")
    assert build_parser().parse_args([]).rate_limit == 600.0


@pytest.mark.parametrize(
    "argv", [["--rate-limit", "fast"], ["--rate-limit", "-5"], ["--latency-ms", "-1"], ["--history", "0"]]
)
def test_main_rejects_bad_options(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "expected" in capsys.readouterr().err


def test_tls_prints_the_ca_file_that_clients_trust() -> None:
    with _serve("--tls", "--rate-limit", "none") as (process, url):
        assert url.startswith("https://127.0.0.1:")
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("TLS: trust the CA in ")
        ca_file = line[len("TLS: trust the CA in ") :].split(" (")[0]
        context = ssl.create_default_context(cafile=ca_file)
        with httpx.Client(base_url=url, verify=context, http2=True) as http:
            response = http.post(SEND, json={"to": token(1)})
            assert (response.status_code, response.http_version) == (200, "HTTP/2")
        assert process.stdout.readline() == f"Inbox: open {url}/ in a browser\n"
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_binding_beyond_loopback_without_a_control_token_warns() -> None:
    with _serve("--host", "0.0.0.0") as (process, _url):
        process.terminate()
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None
        assert "--control-token" in process.stderr.read()
