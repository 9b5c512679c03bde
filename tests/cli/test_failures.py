"""Failures that show themselves: retries as they happen, the URL that could not be reached, honest counts."""

from __future__ import annotations

import socket

from .conftest import TOKENS


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_names_the_url_and_counts_nothing_as_sent(cli):
    url = f"http://127.0.0.1:{closed_port()}"
    done = cli("send", "--to", TOKENS[0], "--title", "t", "--max-retries", "0", "--base-url", url)
    assert done.status == 1
    rows = {label.strip(): value for label, value in (line.rsplit(None, 1) for line in done.out.splitlines())}
    assert rows["recipients"] == "1"
    assert rows["accepted"] == "0"
    assert rows["not sent"] == "1"
    assert f"expo-push send: cannot reach the service at {url}:" in done.err


def test_verbose_shows_each_retry_as_it_happens(cli, expo_emulator):
    expo_emulator.add_fault("server_error", status=503, count=2)
    done = cli("send", "--to", TOKENS[0], "--title", "t", "-v")
    assert done.status == 0
    retries = [line for line in done.err.splitlines() if "retrying" in line]
    assert len(retries) == 2
    assert retries[0].startswith("expo-push send: retrying a request in ")


def test_without_verbose_retries_are_not_listed_and_quiet_prints_no_progress(cli, expo_emulator):
    expo_emulator.add_fault("server_error", status=503, count=1)
    done = cli("send", "--to", TOKENS[0], "--title", "t")
    assert done.status == 0
    assert "retrying" not in done.err
    lines = [f"{t}\n" for t in TOKENS] * 200  # 1,000 recipients: progress lines in a log
    loud = cli("send", "--file", "-", "--title", "t", "--rate-limit", "none", stdin="".join(lines))
    quiet = cli("send", "--file", "-", "--title", "t", "--rate-limit", "none", "-q", stdin="".join(lines))
    assert loud.status == quiet.status == 0
    assert "sending [" in loud.err
    assert quiet.err == ""
    assert quiet.out == loud.out


def test_the_progress_bar_counts_retries(monkeypatch):
    import io

    from expo_push.cli._progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    progress = Progress(3, screen)
    import logging

    with progress.counting_retries():
        logging.getLogger("expo_push").info("expo-push: retrying a request in %.2f s", 0.5)
    progress.advance(3)
    progress.close()
    assert "retries 1" in screen.getvalue()
