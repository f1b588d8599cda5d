"""A real OpenSSH server for the installer tests: sshd as root on a free loopback port, with a throwaway
host key and an authorized_keys file in a temp folder, and a throwaway client key for paramiko."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.conftest import need, wait_until

SSHD = "/usr/sbin/sshd"


@dataclass
class Sshd:
    port: int
    fingerprint: str  # of its host key, as --trust takes it
    client_key: Path
    known_hosts: Path  # empty at first: where --trust saves
    folder: Path

    @property
    def target(self) -> str:
        return "root@127.0.0.1"

    def ssh_args(self, *, trust: bool = True) -> list[str]:
        """The SSH options of `kiln node add|uninstall` for this server (with --trust: first contact)."""
        args = ["--port", str(self.port), "--key", str(self.client_key), "--known-hosts", str(self.known_hosts)]
        return [*args, "--trust", self.fingerprint] if trust else args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_key(path: Path) -> ed25519.Ed25519PrivateKey:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    return key


def public_line(key: ed25519.Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            return s.recv(4).startswith(b"SSH-")
    except OSError:
        return False


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    need(Path(SSHD).exists(), "a real sshd (Debian openssh-server; scripts/setup-test-host installs it)")
    need(os.geteuid() == 0, "root, to run sshd and install services")
    folder = tmp_path / "sshd"
    folder.mkdir()
    host_key = folder / "host_key"
    write_key(host_key)
    client = write_key(folder / "client_key")
    (folder / "authorized_keys").write_text(public_line(client) + "\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    port = free_port()
    options = {
        "ListenAddress": "127.0.0.1",
        "HostKey": str(host_key),
        "AuthorizedKeysFile": str(folder / "authorized_keys"),
        "StrictModes": "no",
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "PermitRootLogin": "prohibit-password",
        "UsePAM": "no",
        "PidFile": "none",
        "Subsystem": "sftp internal-sftp",
    }
    command = [SSHD, "-D", "-e", "-f", "/dev/null", "-p", str(port)]
    for key, value in options.items():
        command += ["-o", f"{key}={value}"]
    log = open(folder / "sshd.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _answers(port) or proc.poll() is not None, 20, "sshd to listen")
        assert proc.poll() is None, f"sshd exited: {(folder / 'sshd.log').read_text()}"
        fingerprint = paramiko.Ed25519Key.from_private_key_file(str(host_key)).fingerprint
        yield Sshd(port, fingerprint, folder / "client_key", folder / "known_hosts", folder)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture
def node_prefix() -> Iterator[Path]:
    """A folder to install into that the service user can reach (pytest's own temp root is 0700)."""
    base = Path(tempfile.mkdtemp(prefix="kiln-node-test-", dir="/tmp"))
    base.chmod(0o755)
    yield base / "kiln"
    for pid_file in (base / "kiln" / "run").glob("*.pid"):  # a test that failed half-way leaves it running
        stop = [sys.executable, "-m", "kiln.installers.supervisor", "stop", "--pid-file", str(pid_file)]
        subprocess.run(stop, timeout=120, check=False)
    shutil.rmtree(base, ignore_errors=True)
