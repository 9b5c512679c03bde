"""The emulator's TLS certificate: made at start by a throwaway CA (trustme), kept in a private temporary folder."""

from __future__ import annotations

import ipaddress
import os
import shutil
import tempfile
from dataclasses import dataclass

__all__ = ["Certificate"]


@dataclass(frozen=True)
class Certificate:
    """A server certificate and the CA file that makes clients trust it."""

    folder: str
    ca_file: str
    """PEM file of the CA: give it to clients (``SSL_CERT_FILE``, ``NODE_EXTRA_CA_CERTS``, ``verify=``)."""
    server_file: str
    """PEM file holding the server's private key and certificate chain."""

    @classmethod
    def make(cls, host: str) -> Certificate:
        """A new CA and a certificate it signs for loopback names, and for ``host`` when it is another name."""
        try:
            import trustme
        except ImportError as exc:  # pragma: no cover - trustme comes with the emulator extra
            raise RuntimeError(f"TLS needs the emulator extra: pip install 'expo-push[emulator]' ({exc})") from None
        names = ["localhost", "127.0.0.1", "::1"]
        if host and host not in names and not _unspecified(host):
            names.append(host)
        ca = trustme.CA(organization_name="expo-push emulator")
        server = ca.issue_cert(*names)
        folder = tempfile.mkdtemp(prefix="expo-push-emulator-tls-")
        ca_file = os.path.join(folder, "ca.pem")
        server_file = os.path.join(folder, "server.pem")
        ca.cert_pem.write_to_path(ca_file)
        server.private_key_and_cert_chain_pem.write_to_path(server_file)
        os.chmod(server_file, 0o600)
        return cls(folder, ca_file, server_file)

    def remove(self) -> None:
        """Delete the files."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False
