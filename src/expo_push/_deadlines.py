"""The sync client's attempt deadline, held by the connection layer: every socket read and write of a request is
cut to what its attempt has left, so an answer dribbled a byte at a time (headers too) cannot outlast it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

__all__ = ["attempt_deadline", "hold_deadlines"]

_local = threading.local()


@contextmanager
def attempt_deadline(deadline: float) -> Iterator[None]:
    """While inside, this thread's socket operations end by ``deadline`` (``time.monotonic()``), with a timeout."""
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.deadline = None


def _cut(timeout: float | None) -> float | None:
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = max(deadline - time.monotonic(), 0.001)  # never 0: that would mean "do not wait" to a socket, not "late"
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _cut(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _cut(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> _Stream:
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, _cut(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> _Stream:
        return _Stream(self._backend.connect_tcp(host, port, _cut(timeout), local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> _Stream:
        return _Stream(self._backend.connect_unix_socket(path, _cut(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def hold_deadlines(client: httpx.Client) -> httpx.Client:
    """``client`` (made by expo-push), its connections made through a backend that keeps ``attempt_deadline``.

    httpx takes no network backend, so it is set on the connection pools of the client's transports.
    """
    transports = [client._transport, *(t for t in client._mounts.values() if t is not None)]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(backend, _Backend):
            pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
    return client
