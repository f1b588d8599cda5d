"""A job cannot reach its node's identity or another project's files: on one node, while a run of project A
holds its folder, a job of project B tries to read A's run folder and outputs, A's content in the node's
blob cache, the node's private key and certificate, and to connect to the agent port as the node; every
try fails, in each runtime. And a process job with `network none` cannot reach the host's loopback."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from kiln.core.hashing import sha256_bytes
from kiln.core.runs import RunSpec
from kiln.sync.push import push
from tests.compute.conftest import BUSYBOX, Cluster, push_folder
from tests.conftest import wait_until

SECRET = "project A's secret\n"


@pytest.fixture(params=["process", "docker"])
def runtime(request):  # type: ignore[no-untyped-def]
    if request.param == "docker":
        request.getfixturevalue("docker_ready")
    return request.param


def push_to(cluster: Cluster, project: str, files: dict[str, str]) -> str:
    src = cluster.tmp / f"src-{project}-{len(list(cluster.tmp.glob('src-*')))}"
    src.mkdir()
    for name, text in files.items():
        (src / name).write_text(text)
    return push(cluster.admin, src, project, "", cluster.tmp / f"cache-{project}").snapshot.id


def attempts(paths: list[Path]) -> str:
    """A shell script printing, for each path, "read PATH" if it could be read, else "refused"."""
    return "; ".join(f'if cat "{p}" >/dev/null 2>&1; then echo "read {p}"; else echo refused; fi' for p in paths)


def a_run_holding_its_folder(cluster: Cluster, runtime: str) -> tuple[str, Path]:
    """A run of project p (A) that wrote an output and keeps running; its working folder on the node."""
    snap = push_folder(cluster, {"a-secret.txt": SECRET})
    image = BUSYBOX if runtime == "docker" else ""
    command = ("sh", "-c", "echo A-output > a-out.txt; sleep 600")
    run = cluster.admin.submit_run(RunSpec("p", command, snap, image, runtime))
    work = cluster.tmp / "agent-n1" / "runs" / f"{run.id}.1" / "work"
    wait_until(lambda: (work / "a-out.txt").exists(), 60, "A's job to write its output")
    return run.id, work


def test_a_job_of_another_project_cannot_read_the_nodes_identity_or_a_runs_files(cluster, runtime):
    n1 = cluster.agent("n1", runtimes=(runtime,))
    cluster.admin.create_project("b")
    a_run, a_work = a_run_holding_its_folder(cluster, runtime)
    data = n1.agent.config.data
    a_blob = data / "cache" / (d := sha256_bytes(SECRET.encode()))[:2] / d
    identity = data / "identity"
    targets = [a_work / "a-secret.txt", a_work / "a-out.txt", a_blob, identity / "key.pem", identity / "cert.pem"]
    if runtime == "process":
        targets.append(data / "runtimes" / "process" / "jobs" / f"{a_run}.1" / "stdout")
    assert all(p.exists() for p in targets)  # on the node, all there
    b_snap = push_to(cluster, "b", {"b.txt": "mine\n", "connect.py": CONNECT})
    script = "cat b.txt; id -u; " + attempts(targets) + f'; ls -A "{data / "runs"}" 2>/dev/null; true'
    if runtime == "process":  # with the host's network, so only its credentials stand in the way
        script += f"; {sys.executable} connect.py 127.0.0.1 {cluster.coordinator.agent_port} {identity}"
    image = BUSYBOX if runtime == "docker" else ""
    b = cluster.admin.submit_run(RunSpec("b", ("sh", "-c", script), b_snap, image, runtime, network="host"))
    done = cluster.wait_run(b.id)
    assert str(done.state) == "succeeded", cluster.output(b.id)
    lines = cluster.output(b.id).splitlines()
    assert lines[0] == "mine"  # its own files it reads
    assert int(lines[1]) != 0 and int(lines[1]) != os.getuid()  # neither root nor the agent's user
    assert lines[2 : 2 + len(targets)] == ["refused"] * len(targets)
    assert a_run not in "\n".join(lines[2 + len(targets) :])  # A's run folder is not even listed
    if runtime == "process":
        assert lines[-1].startswith("refused to connect as the node:"), lines[-1]
    # A's run went on untouched, its files intact
    assert str(cluster.admin.get_run(a_run).state) == "running"
    assert (a_work / "a-secret.txt").read_text() == SECRET and (a_work / "a-out.txt").read_text() == "A-output\n"
    cluster.admin.cancel_run(a_run)
    assert str(cluster.wait_run(a_run).state) == "cancelled"


CONNECT = """
import socket, ssl, sys
host, port, identity = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    context = ssl.create_default_context(cafile=identity + "/ca.pem")
    context.load_cert_chain(identity + "/cert.pem", identity + "/key.pem")
    with socket.create_connection((host, port), timeout=10) as raw, context.wrap_socket(raw) as tls:
        print("connected as the node")
except Exception as e:
    print(f"refused to connect as the node: {type(e).__name__}")
"""

REACH = """
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10).close()
    print("reached the host")
except OSError as e:
    print(f"unreachable: {e.strerror}")
with socket.create_server(("127.0.0.1", 0)) as own:  # its own loopback works
    socket.create_connection(own.getsockname(), timeout=10).close()
print("own loopback")
"""


def test_a_process_job_with_network_none_cannot_reach_the_hosts_loopback(cluster):
    cluster.agent("n1", runtimes=("process",))
    snap = push_folder(cluster, {"reach.py": REACH})
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        outputs = {}
        for network in ("none", "host"):
            spec = RunSpec("p", (sys.executable, "reach.py", str(port)), snap, runtime="process", network=network)
            run = cluster.admin.submit_run(spec)
            assert str(cluster.wait_run(run.id).state) == "succeeded", cluster.output(run.id)
            outputs[network] = cluster.output(run.id).splitlines()
    assert outputs["none"][0].startswith("unreachable") and outputs["none"][1] == "own loopback"
    assert outputs["host"] == ["reached the host", "own loopback"]  # the listener was there all along
