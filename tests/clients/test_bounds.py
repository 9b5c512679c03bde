"""What a hostile or broken server cannot do to a client: hold a request for ever, fill its memory, or make it
echo the access token; and what an AsyncPushClient says when it is used on a second event loop."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import tracemalloc

import pytest

from expo_push import AsyncPushClient, PushClient, PushConnectionError, PushResponseError, PushServerError

from .raw_server import raw_server

TOKEN = "ExponentPushToken[bounds]"
DRIBBLED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"x" * 400 + b"\r\n"


def _dribbler(data: bytes, written: list[int]):
    """An answer that writes ``data`` one byte every 50 ms (each read is quick, the whole takes long), counting."""

    def dribble(conn: socket.socket, over: threading.Event) -> None:
        for byte in data:
            if over.wait(0.05):
                return
            conn.sendall(bytes([byte]))
            written.append(1)

    return dribble


def _run(kind: str, url: str, **options):
    """Send one notification with a client of ``kind``; return what it raised."""
    options.setdefault("max_retries", 0)
    if kind == "sync":
        with PushClient(base_url=url, **options) as client, pytest.raises(PushServerError) as info:
            client.send({"to": TOKEN})
        return info.value

    async def main():
        async with AsyncPushClient(base_url=url, **options) as client:
            with pytest.raises(PushServerError) as info:
                await client.send({"to": TOKEN})
            return info.value

    return asyncio.run(main())


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_dribbled_answer_cannot_hold_a_request_past_the_attempt_timeout(kind):
    written = []

    def dribble(conn: socket.socket, over: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n")
        for _ in range(400):  # one byte every 50 ms: each read is quick, the whole answer takes 20 s
            if over.wait(0.05):
                return
            conn.sendall(b" ")
            written.append(1)

    with raw_server(dribble) as (url, requests, _):
        error = _run(kind, url, attempt_timeout=0.5, timeout=10.0)
        sent_when_given_up = len(written)
    assert isinstance(error, PushConnectionError)
    assert "attempt_timeout=0.5" in str(error)
    assert sent_when_given_up < 400  # gave up while the server was still dribbling
    assert len(requests) == 1
    # the body went out and no answer came: the notification may have been delivered
    assert error.unsent == []
    assert [m.to for m in error.in_doubt] == [TOKEN]


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("compressed", [True, False])
def test_an_answer_over_max_response_bytes_fails_without_being_read_whole(kind, compressed):
    size = 3_000_000
    body = b'{"data":[' + b" " * size + b"]}"
    wire = gzip.compress(body, compresslevel=1) if compressed else body
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    head += b"Content-Encoding: gzip\r\n" if compressed else b""
    head += b"Content-Length: %d\r\n\r\n" % len(wire)

    def answer(conn: socket.socket, over: threading.Event) -> None:
        conn.sendall(head + wire)

    with raw_server(answer) as (url, _, _):
        error = _run(kind, url, max_response_bytes=1_000_000)
    assert isinstance(error, PushResponseError)
    assert "larger than max_response_bytes=1000000" in str(error)
    assert [m.to for m in error.in_doubt] == [TOKEN]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_server_error_text_that_echoes_the_access_token_is_redacted(kind):
    secret = "s3cr3t-access-token-value"
    payload = json.dumps(
        {
            "errors": [
                {
                    "code": "VALIDATION_ERROR",
                    "message": f"bad header: Bearer {secret}",
                    "details": {"echo": [f"Authorization: Bearer {secret}"]},
                    "isTransient": False,
                }
            ]
        }
    ).encode()

    def answer(conn: socket.socket, over: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)

    with raw_server(answer) as (url, requests, _):
        error = _run(kind, url, access_token=secret, max_retries=3)
    assert secret.encode() in requests[0]  # it was sent...
    text = f"{error} {error!r} {error.errors!r} {error.details!r} {error.message}"
    assert secret not in text  # ...and never shown
    assert "<access token>" in error.message
    assert len(requests) == 1  # isTransient: false is not retried


def test_an_error_the_service_calls_transient_is_retried_whatever_its_status():
    payload = b'{"errors":[{"code":"SOMETHING","message":"try again","isTransient":true}]}'
    answers = iter([400, 200])

    def answer(conn: socket.socket, over: threading.Event) -> None:
        if next(answers) == 400:
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)
        else:
            ok = b'{"data":[{"status":"ok","id":"1"}]}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(ok) + ok)

    with raw_server(answer) as (url, requests, _), PushClient(base_url=url, max_retries=1) as client:
        client._context.retry = client._context.retry.__class__(max_retries=1, initial_delay=0.01)
        (ticket,) = client.send({"to": TOKEN})
    assert ticket.id == "1"
    assert len(requests) == 2


def test_an_async_client_used_on_a_second_event_loop_says_so(expo_emulator, recwarn):
    client = AsyncPushClient(base_url=expo_emulator.url)
    asyncio.run(client.send({"to": TOKEN}))
    with pytest.raises(RuntimeError, match="another event loop"):
        asyncio.run(client.send({"to": TOKEN}))
    assert not [w for w in recwarn if "never retrieved" in str(w.message)]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_headers_dribbled_byte_by_byte_cannot_hold_a_request_past_the_attempt_timeout(kind):
    written: list[int] = []
    head = DRIBBLED_HEAD

    with raw_server(_dribbler(head, written)) as (url, _, _):
        error = _run(kind, url, attempt_timeout=0.5, timeout=10.0)
        sent_when_given_up = len(written)
    assert isinstance(error, PushConnectionError)
    assert "attempt_timeout=0.5" in str(error)
    assert sent_when_given_up < len(head) // 2  # gave up while the server was still on the head
    assert [m.to for m in error.in_doubt] == [TOKEN]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_gzip_bomb_is_refused_within_max_response_bytes_of_memory(kind):
    bomb = gzip.compress(b'{"data":[' + b" " * (200 * 2**20) + b"]}", compresslevel=9)
    assert len(bomb) < 300_000
    wire = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
    wire += b"Content-Length: %d\r\n\r\n" % len(bomb) + bomb

    def answer(conn: socket.socket, over: threading.Event) -> None:
        conn.sendall(wire)

    limit = 1_000_000
    with raw_server(answer) as (url, _, _):
        tracemalloc.start()
        try:
            error = _run(kind, url, max_response_bytes=limit)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert isinstance(error, PushResponseError)
    assert f"larger than max_response_bytes={limit}" in str(error)
    # the answer is inflated a bounded piece at a time: memory grows by the cap and a small constant, not 200 MiB
    assert peak < 2 * limit + 4 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_headers_dribbled_over_tls_end_at_the_attempt_timeout_through_the_http2_transport(tmp_path):
    import ssl

    import trustme

    from expo_push._httpcore_transport import HttpcoreTransport

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    written: list[int] = []
    head = DRIBBLED_HEAD

    with raw_server(_dribbler(head, written), tls=server_context) as (url, _, _):
        with PushClient(base_url=url, verify=str(ca_file), max_retries=0, attempt_timeout=0.5, timeout=10.0) as client:
            assert isinstance(client._transport, HttpcoreTransport)  # h2 is installed: the http2 extra's transport
            with pytest.raises(PushServerError) as info:
                client.send({"to": TOKEN})
        sent_when_given_up = len(written)
    assert isinstance(info.value, PushConnectionError)
    assert "attempt_timeout=0.5" in str(info.value)
    assert sent_when_given_up < len(head) // 2
    assert [m.to for m in info.value.in_doubt] == [TOKEN]
