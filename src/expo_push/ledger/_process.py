"""Who an outbox worker is: its name, the PID namespace and boot it runs in, whether one on this machine is gone,
and the machine's clock since boot (which wall-clock changes do not move)."""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

__all__ = ["boot_id", "boottime", "namespace", "pid_gone", "worker_name"]


def _read_id(path: str, *, link: bool = False) -> str:
    """The text (or link target) of a ``/proc`` file naming a kernel object, or ``""`` where there is none."""
    try:
        text = os.readlink(path) if link else Path(path).read_text()
    except OSError:
        return ""
    return "".join(c for c in text if c.isalnum() or c == "-")


def boot_id() -> str:
    """This machine's current boot (Linux), or ``""`` where the system does not say."""
    return _read_id("/proc/sys/kernel/random/boot_id")


def boottime() -> float:
    """Seconds since this machine booted, suspend included (``CLOCK_BOOTTIME`` on Linux; elsewhere the
    monotonic clock): the same for every process of the machine, and never moved by setting the wall clock."""
    return time.clock_gettime(_BOOTTIME) if _BOOTTIME is not None else time.monotonic()


_BOOTTIME: int | None = getattr(time, "CLOCK_BOOTTIME", None)


def namespace() -> str:
    """Which process-id space this process's pid belongs to: its PID namespace and the machine's boot.

    Two processes with the same hostname may still count pids apart (containers sharing the host's
    network, ``docker --network host``, Kubernetes ``hostNetwork``): only a worker of the same
    namespace and boot can be told dead by its pid.
    """
    return f"{_read_id('/proc/self/ns/pid', link=True)}.{boot_id()}"


def worker_name() -> str:
    """A new worker's name: ``host:pid:namespace:nonce``."""
    return f"{socket.gethostname()}:{os.getpid()}:{namespace()}:{uuid.uuid4().hex[:8]}"


def pid_gone(worker: str | None, own_namespace: str) -> bool:
    """Whether ``worker`` (``host:pid:namespace:nonce``) ran in this process's pid space (``own_namespace``), in
    a process that no longer exists. A worker elsewhere, or of unknown namespace, is not known gone: its lease
    decides."""
    if not worker:
        return False
    parts = worker.rsplit(":", 3)
    if len(parts) != 4:
        return False
    host, pid_text, worker_namespace, _ = parts
    if host != socket.gethostname() or worker_namespace != own_namespace or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
