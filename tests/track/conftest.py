"""Fixtures for the tracking SDK against the agent's real socket server: the SDK folder a run gets, a
server on a short socket path (Unix socket addresses hold at most 107 bytes), and run scripts as real
subprocesses of any Python."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.agent.tracking import TrackingServer, prepare_sdk

SCRIPT_TIMEOUT_S = 120


class Collector:
    """What the server delivered, in delivery order (the agent's on_batch, without the durability)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches: list[dict[str, Any]] = []

    def __call__(self, batch: dict[str, Any]) -> None:
        with self.lock:
            self.batches.append(batch)

    def all(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.batches)

    def metrics(self, key: str | None = None) -> list[list[Any]]:
        return [m for b in self.all() for m in b.get("metrics", []) if key is None or m[0] == key]

    def points(self, key: str) -> Counter[int]:
        """How often each step of `key` was delivered."""
        return Counter(m[2] for m in self.metrics(key))

    def merged(self, field: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for b in self.all():
            out.update(b.get(field, {}))
        return out

    def listed(self, field: str) -> list[Any]:
        return [x for b in self.all() for x in b.get(field, [])]


@pytest.fixture(scope="session")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_sdk(tmp_path_factory.mktemp("sdk-cache"))


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="kt-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def server(sock_dir: Path, collector: Collector) -> Iterator[TrackingServer]:
    with TrackingServer(sock_dir / "track.sock", collector) as running:
        yield running


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def script_env(sdk: Path, socket_path: Path | None, workdir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "PYTHON"))}
    env.update(PYTHONPATH=str(sdk), KILN_WORKDIR=str(workdir), KILN_RUN_ID="run-1", **extra)
    if socket_path is not None:
        env["KILN_TRACK_SOCKET"] = str(socket_path)
    return env


def start_script(
    code: str, sdk: Path, socket_path: Path | None, workdir: Path, python: str = sys.executable
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [python, "-c", textwrap.dedent(code)],
        cwd=workdir,
        env=script_env(sdk, socket_path, workdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_script(
    code: str, sdk: Path, socket_path: Path | None, workdir: Path, python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    proc = start_script(code, sdk, socket_path, workdir, python)
    out, err = proc.communicate(timeout=SCRIPT_TIMEOUT_S)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def exchange(socket_path: Path, data: bytes) -> list[dict[str, Any]]:
    """Sends raw bytes as a client would and returns every answer until the server closes or goes quiet
    after answering each line sent."""
    expected = data.count(b"\n") or 1
    answers: list[dict[str, Any]] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(SCRIPT_TIMEOUT_S)
        client.connect(str(socket_path))
        client.sendall(data)
        with client.makefile("rb") as stream:
            while len(answers) < expected:
                line = stream.readline()
                if not line:
                    break
                answers.append(json.loads(line))
    return answers
