"""Fixtures for real servers: a coordinator on a free loopback port with a temporary data folder, clients
signed in to it, and the CLI run against it with its own KILN_HOME."""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Tests use a real keyring backend that works without a desktop session: keyrings.alt's file backend,
# kept in a throwaway folder. Set before keyring picks its backend.
_KEYRING_HOME = tempfile.mkdtemp(prefix="kiln-test-keyring-")
os.environ["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"
os.environ["XDG_DATA_HOME"] = _KEYRING_HOME
os.environ.pop("KILN_TOKEN", None)
os.environ.pop("KILN_PROJECT", None)
# The mlflow client asks an internet host for its telemetry settings at import: tests reach loopback only.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"

from kiln.client import Client  # noqa: E402
from kiln.coordinator.context import CoordinatorConfig  # noqa: E402
from kiln.coordinator.server import RunningCoordinator, start_in_thread  # noqa: E402

ADMIN_PASSWORD = "admin-password-1"
IN_CI = os.environ.get("CI") == "true"


def need(condition: bool, what: str) -> None:
    """Skips on a laptop when a real component is missing; in CI a missing component is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must provide {what}")
    pytest.skip(f"needs {what}")


def wait_until(condition, timeout: float = 10.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Polls `condition` until it returns something truthy, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def idle_node(rc: RunningCoordinator, name: str = "n1", cpus: float = 4) -> None:
    """A node enrolled in the coordinator's store that could run runs, with no agent: runs queue for it."""
    from kiln.core.models import Inventory

    now = time.time()
    rc.ctx.store.add_node(name, "fp", {}, now)
    rc.ctx.store.update_node(
        name, now, runtimes={"process": "here"}, inventory=Inventory(cpus=cpus, memory_bytes=8 << 30)
    )


def start_coordinator(data: Path, **overrides: object) -> RunningCoordinator:
    settings: dict[str, object] = {"listen": "127.0.0.1:0", "admin_password": ADMIN_PASSWORD, **overrides}
    config = CoordinatorConfig(data, **settings)  # type: ignore[arg-type]
    return start_in_thread(config)


@pytest.fixture
def coordinator(tmp_path: Path) -> Iterator[RunningCoordinator]:
    running = start_coordinator(tmp_path / "coordinator")
    yield running
    running.stop()


def client_for(rc: RunningCoordinator, token: str | None = None) -> Client:
    return Client(rc.address, rc.ctx.tls.ca_pem, token)


def login(rc: RunningCoordinator, user: str, password: str) -> Client:
    with client_for(rc) as anonymous:
        token, _, _ = anonymous.login(user, password)
    return client_for(rc, token)


@pytest.fixture
def admin(coordinator: RunningCoordinator) -> Iterator[Client]:
    client = login(coordinator, "admin", ADMIN_PASSWORD)
    yield client
    client.close()


@pytest.fixture
def make_user(coordinator: RunningCoordinator, admin: Client) -> Iterator[object]:
    """make_user(name, project=None, role=None) -> a Client signed in as a new user."""
    clients: list[Client] = []

    def make(name: str, project: str | None = None, role: str | None = None) -> Client:
        admin.create_user(name, f"{name}-password")
        if project and role:
            admin.set_member(project, name, role)
        c = login(coordinator, name, f"{name}-password")
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


@dataclass
class CliResult:
    code: int
    out: str
    err: str


class Cli:
    """Runs `kiln` in-process with its own KILN_HOME, as a person would type it."""

    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.home = home
        self.capsys = capsys
        self.monkeypatch = monkeypatch
        monkeypatch.setenv("KILN_HOME", str(home))

    def __call__(self, *argv: str, stdin: str = "") -> CliResult:
        from kiln.cli import main

        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main([str(a) for a in argv])
        captured = self.capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    def sign_in(self, rc: RunningCoordinator) -> Cli:
        """`kiln login` to `rc` as the admin, the way a script does it (no prompts)."""
        self.ok(
            "login",
            rc.address,
            "--user",
            "admin",
            "--password-stdin",
            "--fingerprint",
            rc.ctx.tls.ca_fingerprint,
            stdin=ADMIN_PASSWORD + "\n",
        )
        return self

    def ok(self, *argv: str, stdin: str = "") -> str:
        result = self(*argv, stdin=stdin)
        assert result.code == 0, f"kiln {' '.join(argv)} failed: {result.err}"
        return result.out


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(tmp_path / "kiln-home", capsys, monkeypatch)


@pytest.fixture
def signed_in_cli(cli: Cli, coordinator: RunningCoordinator) -> Cli:
    return cli.sign_in(coordinator)
