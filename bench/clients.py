"""The clients compared: expo-push in its three faces and the peer SDKs, each installed into bench/.cache/.

Every client is run as its own process by a small driver in ``bench/drivers/``;
a peer is installed on first use into a virtual environment (Python) or an npm
prefix (Node) of its own under ``bench/.cache/``, at the pinned version, and
reused by later runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

from bench.workloads import Workload

__all__ = ["CACHE", "DRIVERS", "Client", "all_clients"]

BENCH = Path(__file__).resolve().parent
DRIVERS = BENCH / "drivers"
CACHE = BENCH / ".cache"

EXPONENT_SDK = "exponent-server-sdk==2.2.0"
ASYNC_EXPO_SDK = "async-expo-push-notifications==2.3.1"
NODE_SDK = "expo-server-sdk@6.1.0"


@dataclass(frozen=True)
class Client:
    """One way of sending: a label for the tables and how to start its driver."""

    key: str
    label: str
    peer: bool
    """Whether it is another SDK (installed under bench/.cache/) rather than expo-push."""

    def skip_reason(self, workload: Workload) -> str | None:
        """Why this client does not run ``workload``, or ``None`` when it does."""
        if workload.stream and self.peer:
            return "no streaming API: it takes the whole list in memory"
        if workload.stream and self.key == "expo-push compat":
            return "the compatibility layer mirrors a list-only API"
        return None

    def install(self) -> None:
        """Install the client if it is a peer not yet in bench/.cache/ (prints what it does)."""
        if self.key == "exponent-server-sdk":
            _python_peer("exponent-server-sdk", EXPONENT_SDK)
        elif self.key == "async-expo-push-notifications":
            _python_peer("async-expo-push-notifications", ASYNC_EXPO_SDK)
        elif self.key == "expo-server-sdk (Node)":
            _node_peer()

    def command(self, workload: Workload) -> list[str]:
        """The command line of this client's driver for ``workload``."""
        payload = workload.driver_json()
        if self.key.startswith("expo-push"):
            mode = self.key.split()[-1]
            if workload.stream:
                mode += "-stream"
            return [sys.executable, str(DRIVERS / "expo_push_driver.py"), mode, payload]
        if self.key == "exponent-server-sdk":
            return [str(CACHE / "exponent-server-sdk" / "bin" / "python"), str(DRIVERS / "exponent_driver.py"), payload]
        if self.key == "async-expo-push-notifications":
            python = CACHE / "async-expo-push-notifications" / "bin" / "python"
            return [str(python), str(DRIVERS / "async_expo_driver.py"), payload]
        return [_node(), str(DRIVERS / "node_driver.mjs"), payload]

    def env(self) -> dict[str, str]:
        """Variables the driver needs besides ``EXPO_BASE_URL``."""
        if self.key == "expo-server-sdk (Node)":
            sdk = CACHE / "node" / "node_modules" / "expo-server-sdk" / "build" / "ExpoClient.js"
            return {"BENCH_NODE_SDK": str(sdk)}
        return {}


def compat_available() -> bool:
    """Whether this checkout has the compatibility layer, ``expo_push.compat``, with the names the driver uses."""
    if importlib.util.find_spec("expo_push.compat") is None:
        return False
    compat = importlib.import_module("expo_push.compat")
    return all(hasattr(compat, name) for name in ("PushClient", "PushMessage", "PushServerError"))


def all_clients(*, peers: bool = True) -> list[Client]:
    """The clients to compare: expo-push (sync, async, and compat when present), then the peers."""
    clients = [
        Client("expo-push sync", "expo-push (sync)", False),
        Client("expo-push async", "expo-push (async)", False),
    ]
    if compat_available():
        clients.append(Client("expo-push compat", "expo-push (compat layer)", False))
    if peers:
        clients += [
            Client("exponent-server-sdk", "exponent-server-sdk 2.2.0", True),
            Client("async-expo-push-notifications", "async-expo-push-notifications 2.3.1", True),
            Client("expo-server-sdk (Node)", "expo-server-sdk 6.1.0 (Node)", True),
        ]
    return clients


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("the Node SDK needs `node` on PATH (v18 or later); run with --no-node to leave it out")
    return node


def _python_peer(name: str, requirement: str) -> None:
    target = CACHE / name
    marker = target / "installed.txt"
    if marker.exists() and marker.read_text().strip() == requirement:
        return
    print(f"installing {requirement} into {target.relative_to(BENCH.parent)}", file=sys.stderr, flush=True)
    if target.exists():
        shutil.rmtree(target)
    venv.EnvBuilder(with_pip=True).create(target)
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, requirement], check=True)
    marker.write_text(requirement + "\n")


def _node_peer() -> None:
    target = CACHE / "node"
    marker = target / "installed.txt"
    if marker.exists() and marker.read_text().strip() == NODE_SDK:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("installing the Node SDK needs `npm` on PATH; run with --no-node to leave it out")
    print(f"installing {NODE_SDK} into {target.relative_to(BENCH.parent)}", file=sys.stderr, flush=True)
    _node()
    subprocess.run(
        [npm, "install", "--prefix", str(target), "--no-audit", "--no-fund", "--loglevel=error", NODE_SDK], check=True
    )
    marker.write_text(NODE_SDK + "\n")
