"""A second, independent Docker engine on this machine (its own data root, exec root and socket): a node
that never had an image, for tests of images shipped through the coordinator."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import need, wait_until


@dataclass
class Engine:
    url: str  # DOCKER_HOST for it
    client: Any  # a docker.DockerClient


@contextmanager
def second_engine_running() -> Iterator[Engine]:
    import docker

    dockerd = shutil.which("dockerd")
    need(dockerd is not None and os.geteuid() == 0, "dockerd and root, to start a second Docker engine")
    assert dockerd is not None
    d = Path(tempfile.mkdtemp(prefix="kd-", dir="/tmp"))  # a unix socket path must stay short
    args = [f"--data-root={d}/root", f"--exec-root={d}/exec", f"--pidfile={d}/docker.pid", f"-H=unix://{d}/docker.sock"]
    with open(d / "log", "wb") as log:
        proc = subprocess.Popen([dockerd, *args, "--bridge=none", "--iptables=false"], stdout=log, stderr=log)
    url = f"unix://{d}/docker.sock"

    def answers() -> Any:
        assert proc.poll() is None, (d / "log").read_text()[-2000:]
        try:
            return docker.DockerClient(base_url=url, timeout=60)  # asks the engine for its version
        except docker.errors.DockerException:
            return None

    try:
        client = wait_until(answers, timeout=60, what="the second dockerd")
        yield Engine(url, client)
        client.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)
