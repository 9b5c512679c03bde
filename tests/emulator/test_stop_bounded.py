"""Stopping is bounded whatever clients do: a reader of the event stream or the feed that never reads
cannot keep ``Emulator.stop()``, the command or the pytest plugin's session from ending."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from expo_push.emulator import Emulator

from .conftest import SEND, token

pytest_plugins = ["pytester"]

BOUND = 30.0
"""Seconds a stop may take at most in these tests (it takes about two; before the fix: forever)."""
BIG_BODY = "x" * 20_000
"""A body that makes 500 notifications' JSON (the page's first batch) far larger than any socket buffer."""


def _fill(url: str) -> None:
    with httpx.Client(base_url=url) as http:
        for batch in range(5):
            to = [token(f"{batch}-{i}") for i in range(100)]
            assert http.post(SEND, json=[{"to": t, "body": BIG_BODY} for t in to]).status_code == 200


@contextmanager
def _reader_that_never_reads(url: str, path: str) -> Iterator[socket.socket]:
    """Ask for ``path``, read the answer's headers (the body is being written), then read nothing more."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            assert chunk, "the emulator closed the connection before answering"
            head += chunk
        assert head.startswith(b"HTTP/1.1 200"), head
        yield sock
    finally:
        sock.close()


@pytest.mark.parametrize("path", ["/--/emulator/events", "/--/emulator/feed?limit=500"])
def test_stop_returns_though_a_reader_never_reads(path: str) -> None:
    emu = Emulator(rate_limit=None).start()
    _fill(emu.url)
    with _reader_that_never_reads(emu.url, path):
        stopper = threading.Thread(target=emu.stop, daemon=True)
        stopper.start()
        stopper.join(BOUND)
        assert not stopper.is_alive(), f"Emulator.stop() still waits {BOUND:g} s later"
    assert not emu.running


def test_the_command_exits_on_sigterm_though_a_reader_never_reads() -> None:
    command = [sys.executable, "-m", "expo_push.emulator", "--port", "0", "--rate-limit", "none"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
            _fill(url)
            with _reader_that_never_reads(url, "/--/emulator/events"):
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=BOUND) == 0
        finally:
            if process.poll() is None:
                process.kill()


def test_the_pytest_plugin_ends_its_session_though_a_reader_never_reads(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import socket

        import httpx

        READERS = []

        def test_leaves_a_reader_that_never_reads(expo_emulator):
            big = "x" * 20_000
            for batch in range(5):
                to = [f"ExponentPushToken[{batch}-{i}]" for i in range(100)]
                httpx.post(expo_emulator.url + "/--/api/v2/push/send", json=[{"to": t, "body": big} for t in to])
            host, port = expo_emulator.url.removeprefix("http://").rsplit(":", 1)
            sock = socket.create_connection((host, int(port)))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(f"GET /--/emulator/feed?limit=500 HTTP/1.1\\r\\nHost: {host}:{port}\\r\\n\\r\\n".encode())
            assert sock.recv(12) == b"HTTP/1.1 200"
            READERS.append(sock)  # open, unread, until the process ends
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly", timeout=BOUND)
    result.assert_outcomes(passed=1)


def test_the_command_stops_quietly_though_a_request_is_half_sent() -> None:
    command = [sys.executable, "-m", "expo_push.emulator", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
            host, port = url.removeprefix("http://").rsplit(":", 1)
            with socket.create_connection((host, int(port))) as half, httpx.Client(base_url=url) as http:
                half.sendall(f"POST {SEND} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100\r\n\r\n{{".encode())
                http.get("/--/emulator/stats")  # a round trip: the half request is being read meanwhile
                process.send_signal(signal.SIGTERM)
                _, err = process.communicate(timeout=BOUND)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0
    assert err == ""  # not asyncio's "Exception in callback" traceback for the connection the stop cut
