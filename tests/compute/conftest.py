"""A small real cluster for compute tests: a coordinator with fast heartbeats and a short grace period,
agents started in-process (real gRPC, mutual TLS, real runtimes) or as their own processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kiln.agent.daemon import Agent, AgentConfig
from kiln.agent.liveness import Probe
from kiln.agent.runtimes.base import RuntimeUnavailable
from kiln.agent.runtimes.docker import DockerRuntime
from kiln.client import Client
from kiln.coordinator.server import RunningCoordinator
from kiln.sync.locks import IndexSettings
from tests.conftest import ADMIN_PASSWORD, login, need, start_coordinator, wait_until

BUSYBOX = "kiln-test/busybox:1"
FAST = {"heartbeat_interval_s": 0.3, "heartbeat_timeout_s": 1.5, "lost_grace_s": 4.0, "cancel_grace_s": 2.0}


@dataclass
class AgentHandle:
    agent: Agent
    thread: threading.Thread
    errors: list[BaseException] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.agent.name

    def stop(self) -> None:
        self.agent.stop()
        self.thread.join(30)


@dataclass
class Cluster:
    tmp: Path
    coordinator: RunningCoordinator
    admin: Client
    agents: list[AgentHandle] = field(default_factory=list)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def join_token(self, uses: int = 1) -> str:
        return self.admin.create_join_token(uses, 600).token

    def agent(
        self,
        name: str,
        runtimes: tuple[str, ...] = ("process",),
        gpus: list[dict] | None = None,
        labels: dict[str, str] | None = None,
        cpus: float | None = None,
        index: IndexSettings | None = None,
        serve_host: str = "127.0.0.1",
        liveness_probe: Probe | None = None,
    ) -> AgentHandle:
        """An agent in this process, enrolled, connected, and seen as ready by the coordinator; `index`
        says where its environment builds find packages."""
        data = self.tmp / f"agent-{name}"
        inventory = _declare(data, gpus, cpus)
        config = AgentConfig(
            self.coordinator.address,
            data,
            self.join_token(),
            name,
            labels or {},
            runtimes,
            inventory,
            index=index or IndexSettings(),
            serve_host=serve_host,
            liveness_probe=liveness_probe or Probe(),
        )
        handle = AgentHandle(Agent(config), threading.Thread())
        handle.thread = threading.Thread(target=_run, args=(handle,), name=f"agent-{name}", daemon=True)
        handle.thread.start()
        self.agents.append(handle)
        wait_until(lambda: self.node_state(name) == "ready", 20, f"node {name} to be ready")
        return handle

    def agent_process(
        self,
        name: str,
        runtimes: tuple[str, ...] = ("process",),
        token: str | None = None,
        extra: tuple[str, ...] = (),
        environ: dict[str, str] | None = None,
    ) -> subprocess.Popen[str]:
        """`kiln agent` as its own process (to be killed with SIGKILL and started again), with `extra`
        options and `environ` added to its environment (DOCKER_HOST: another engine)."""
        cmd = [
            sys.executable,
            "-m",
            "kiln",
            "agent",
            "--coordinator",
            self.coordinator.address,
            "--data",
            str(self.tmp / f"agent-{name}"),
            "--name",
            name,
            "--log-level",
            "DEBUG",
        ]
        for r in runtimes:
            cmd += ["--runtime", r]
        cmd += extra
        env = {**os.environ, **(environ or {}), "KILN_JOIN_TOKEN": token if token is not None else self.join_token()}
        log = open(self.tmp / f"agent-{name}.log", "a")  # noqa: SIM115
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.processes.append(proc)
        return proc

    def node_state(self, name: str) -> str:
        return next((n.state for n in self.admin.list_nodes() if n.name == name), "")

    def wait_run(
        self,
        run_id: str,
        states: tuple[str, ...] = ("succeeded", "failed", "cancelled", "lost"),
        timeout: float = 60,
    ):
        return wait_until(
            lambda: (r := self.admin.get_run(run_id)) and str(r.state) in states and r,
            timeout,
            f"run {run_id} to reach {states}",
        )

    def output(self, run_id: str) -> str:
        return b"".join(c.data for c in self.admin.read_logs(run_id) if c.stream == "stdout").decode()


def _declare(data: Path, gpus: list[dict] | None, cpus: float | None) -> Path | None:
    if gpus is None and cpus is None:
        return None
    data.mkdir(parents=True, exist_ok=True)
    declared: dict[str, object] = {}
    if gpus is not None:
        declared["gpus"] = gpus
    if cpus is not None:
        declared["cpus"] = cpus
    (data / "inventory.json").write_text(json.dumps(declared))
    return data / "inventory.json"


def _run(handle: AgentHandle) -> None:
    try:
        handle.agent.run()
    except BaseException as e:
        handle.errors.append(e)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with running_cluster(tmp_path) as c:
        yield c


@contextlib.contextmanager
def running_cluster(tmp_path: Path, **config: Any) -> Iterator[Cluster]:
    """A coordinator (the fast test settings, and `config`) with project p, and the agents a test adds,
    all stopped at the end with every job they left."""
    rc = start_coordinator(tmp_path / "coordinator", **{**FAST, **config})
    admin = login(rc, "admin", ADMIN_PASSWORD)
    admin.create_project("p")
    c = Cluster(tmp_path, rc, admin)
    yield c
    for a in c.agents:
        a.stop()
        process = a.agent.runtimes.get("process")
        for job in process.running() if process else []:  # jobs outlive their agent by design: end them
            process.reap(job)
    for p in c.processes:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)
    c.admin.close()
    c.coordinator.stop()


@pytest.fixture
def docker_ready() -> None:
    try:
        DockerRuntime.probe()
    except RuntimeUnavailable as e:
        need(False, f"a Docker engine ({e}); run scripts/setup-test-host")
    import docker

    client = docker.from_env()
    try:
        client.images.get(BUSYBOX)
    except docker.errors.ImageNotFound:
        need(False, f"the test image {BUSYBOX} (scripts/setup-test-host builds it)")
    finally:
        client.close()


def push_folder(cluster: Cluster, files: dict[str, str]) -> str:
    from kiln.sync.push import push

    src = cluster.tmp / f"src-{len(list(cluster.tmp.glob('src-*')))}"
    src.mkdir(parents=True)
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    return push(cluster.admin, src, "p", "", cluster.tmp / "push-cache").snapshot.id
