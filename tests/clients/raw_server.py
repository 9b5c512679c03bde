"""A bare HTTP/1.1 server on loopback whose answers are written byte by byte by the test: for hostile answers."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Answer = Callable[[socket.socket, threading.Event], None]
"""Writes the answer on the connection; the event is set when the test is over (stop writing)."""


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        part = conn.recv(65536)
        if not part:
            return data
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        part = conn.recv(65536)
        if not part:
            break
        body += part
    return head + b"\r\n\r\n" + body


@contextmanager
def raw_server(answer: Answer, tls: ssl.SSLContext | None = None) -> Iterator[tuple[str, list[bytes], threading.Event]]:
    """Serve ``answer`` to every request (over TLS with ``tls``, a server context); yield (base URL, requests
    received, the event that ends the answers)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    requests: list[bytes] = []
    over = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            try:
                if tls is not None:
                    conn = tls.wrap_socket(conn, server_side=True)
                requests.append(_read_request(conn))
                answer(conn, over)
            except OSError:
                pass  # the client gave up on us: that is what these tests provoke

    def serve() -> None:
        while not over.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        scheme = "https" if tls is not None else "http"
        yield f"{scheme}://127.0.0.1:{listener.getsockname()[1]}", requests, over
    finally:
        over.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below at once
        listener.close()
        thread.join(5)
