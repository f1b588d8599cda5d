"""SSH to a node with paramiko: host keys checked against known_hosts (or a fingerprint the person passed
with --trust after comparing it), never accepted silently; commands run with `sudo -n` unless we are root.

Every SSH failure becomes a KilnError whose message says what to do, so the CLI prints one line.
"""

from __future__ import annotations

import contextlib
import getpass
import shlex
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import paramiko

from kiln.core.errors import FailedPrecondition, InvalidArgument, KilnError, PermissionDenied, Unavailable

CONNECT_TIMEOUT_S = 20.0
COMMAND_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Target:
    """Where to install: USER@HOST and the SSH port."""

    user: str
    host: str
    port: int = 22

    @classmethod
    def parse(cls, text: str, port: int = 22) -> Target:
        user, sep, host = text.rpartition("@")
        if not sep:
            user = getpass.getuser()
        host = host.strip("[]")
        if not host or not user or any(c.isspace() for c in text) or not 0 < port < 65536:
            raise InvalidArgument(f"{text!r} is not USER@HOST (e.g. root@gpu-01), or port {port} is wrong")
        return cls(user, host, port)

    @property
    def known_hosts_name(self) -> str:
        """The name known_hosts files use: the host, or [host]:port off the standard port."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    def __str__(self) -> str:
        return f"{self.user}@{self.host}" + ("" if self.port == 22 else f":{self.port}")


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


class CommandFailed(FailedPrecondition):
    """A remote command exited non-zero; the message carries the tail of what it printed."""


class _TrustPolicy(paramiko.MissingHostKeyPolicy):
    """An unknown host key is accepted only when it matches the fingerprint given with --trust; it is then
    saved, so the next connection checks against it like any known key."""

    def __init__(self, target: Target, trust: str, known_hosts: Path) -> None:
        self.target, self.trust, self.known_hosts = target, trust.strip(), known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        presented = key.fingerprint
        if not self.trust:
            raise PermissionDenied(
                f"{self.target.host}'s SSH host key is not known ({key.get_name()} {presented}). Compare it "
                f"with the host's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the host), then run "
                f"again with --trust {presented}"
            )
        if presented != self.trust:
            raise PermissionDenied(
                f"{self.target.host} presents SSH host key {presented}, not the {self.trust} passed to "
                "--trust; refusing to connect (wrong host, or someone in between)"
            )
        keys = paramiko.HostKeys()
        if self.known_hosts.exists():
            keys.load(str(self.known_hosts))
        keys.add(hostname, key.get_name(), key)
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        keys.save(str(self.known_hosts))
        self.known_hosts.chmod(0o600)
        client.get_host_keys().add(hostname, key.get_name(), key)


class Remote:
    """An open SSH session to one host: run shell commands (as root), and write files."""

    def __init__(self, client: paramiko.SSHClient, target: Target) -> None:
        self.client = client
        self.target = target
        self._staging = ""

    def close(self) -> None:
        with contextlib.suppress(KilnError, paramiko.SSHException, OSError):
            if self._staging:
                self.run(f"rm -rf {shlex.quote(self._staging)}", root=False)
        self.client.close()

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, command: str, check: bool = True, root: bool = True, timeout: float = COMMAND_TIMEOUT_S) -> Result:
        """Runs `command` with sh; as root through `sudo -n` when we logged in as someone else."""
        if root and self.target.user != "root":
            command = f"sudo -n -- sh -c {shlex.quote(command)}"
        try:
            _, stdout, stderr = self.client.exec_command(command, timeout=timeout)
            try:
                errors: list[bytes] = []
                reader = threading.Thread(target=lambda: errors.append(stderr.read()), daemon=True)
                reader.start()
                out = stdout.read()
                reader.join(timeout)
                code = stdout.channel.recv_exit_status()
            finally:  # its session now, not when collected: sshd allows a connection only so many (MaxSessions)
                stdout.channel.close()
        except (paramiko.SSHException, OSError) as e:
            raise Unavailable(f"lost the SSH connection to {self.target}: {e}") from None
        result = Result(code, out.decode(errors="replace"), b"".join(errors).decode(errors="replace"))
        if check and code != 0:
            tail = "\n".join((result.err or result.out).strip().splitlines()[-8:])
            raise CommandFailed(f"on {self.target.host}, `{_short(command)}` failed (exit {code}): {tail}")
        return result

    def staging(self) -> str:
        """A private folder on the host (mode 0700, removed on close) to upload into."""
        if not self._staging:
            self._staging = self.run("mktemp -d /tmp/kiln-install.XXXXXXXX", root=False).out.strip()
        return self._staging

    def upload(self, local: Path) -> str:
        """Copies a local file into the staging folder; returns its path on the host."""
        remote = f"{self.staging()}/{local.name}"
        try:
            with self.client.open_sftp() as sftp:
                sftp.put(str(local), remote)
        except (paramiko.SSHException, OSError) as e:
            raise Unavailable(f"could not copy {local.name} to {self.target}: {e}") from None
        return remote

    def write(self, path: str, data: bytes, mode: int, owner: str = "root") -> None:
        """Writes a file as root with `mode` and `owner`; the bytes are never readable by anyone else on
        the way (the staging folder is private, and `install` sets the mode as it copies)."""
        staged = f"{self.staging()}/{Path(path).name}.new"
        try:
            with self.client.open_sftp() as sftp, sftp.open(staged, "wb") as f:
                f.chmod(0o600)
                f.write(data)
        except (paramiko.SSHException, OSError) as e:
            raise Unavailable(f"could not write {path} on {self.target}: {e}") from None
        q = shlex.quote
        self.run(f"install -m {mode:o} -o {q(owner)} {q(staged)} {q(path)} && rm -f {q(staged)}")


def _short(command: str, limit: int = 120) -> str:
    return command if len(command) <= limit else command[: limit - 1] + "…"


def connect(
    target: Target, key_file: Path | None, known_hosts: Path, trust: str = "", system_keys: bool = True
) -> Remote:
    """Logs in to `target`. Host keys come from `known_hosts` (and ~/.ssh/known_hosts when `system_keys`);
    an unknown key needs --trust with its fingerprint; a changed key is always refused."""
    if key_file is not None and not key_file.is_file():
        raise InvalidArgument(f"SSH key {key_file} does not exist")
    client = paramiko.SSHClient()
    try:
        if system_keys:
            with contextlib.suppress(OSError):
                client.load_system_host_keys()
        if known_hosts.exists():
            client.load_host_keys(str(known_hosts))
        client.set_missing_host_key_policy(_TrustPolicy(target, trust, known_hosts))
        client.connect(
            target.host,
            target.port,
            target.user,
            key_filename=str(key_file) if key_file else None,
            look_for_keys=key_file is None,
            allow_agent=key_file is None,
            timeout=CONNECT_TIMEOUT_S,
            banner_timeout=CONNECT_TIMEOUT_S,
            auth_timeout=CONNECT_TIMEOUT_S,
        )
    except BaseException as e:
        client.close()
        raise _explain(e, target, known_hosts) from None
    return Remote(client, target)


def _explain(error: BaseException, target: Target, known_hosts: Path) -> BaseException:
    if isinstance(error, KilnError | KeyboardInterrupt):
        return error
    if isinstance(error, paramiko.BadHostKeyException):
        return PermissionDenied(
            f"SSH HOST KEY CHANGED for {target.known_hosts_name}: it now presents "
            f"{error.key.fingerprint}, not the known {error.expected_key.fingerprint}. If the host was "
            f"reinstalled, remove the old key (ssh-keygen -R '{target.known_hosts_name}' -f {known_hosts}) "
            "and run again with --trust; otherwise do not connect"
        )
    if isinstance(error, paramiko.PasswordRequiredException):
        return InvalidArgument("the SSH key is protected by a passphrase: load it into ssh-agent and omit --key")
    if isinstance(error, paramiko.AuthenticationException):
        return PermissionDenied(f"{target} refused the SSH login ({error}); check --key and the user")
    if isinstance(error, socket.timeout | TimeoutError):
        return Unavailable(f"no SSH answer from {target.host}:{target.port} (timed out)")
    if isinstance(error, paramiko.SSHException | OSError):
        return Unavailable(f"cannot reach SSH on {target.host}:{target.port}: {error}")
    return error
