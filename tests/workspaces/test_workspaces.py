"""Workspaces with a real Jupyter server (its own environment, built by scripts/setup-test-host) on a real
agent: reached through the tunnel, its REST API answers and a kernel executes code over its websocket; the
tunnel is cut and made again while the kernel keeps its state; the folder is saved into the project; the
idle stop fires on a fake clock only once the kernel has been idle, saving first; others are refused."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from kiln.client.tunnels import Forwarder
from kiln.coordinator import workspaces
from kiln.core.errors import FailedPrecondition, PermissionDenied
from kiln.core.runs import Resources, RunSpec
from kiln.core.workspaces import ACTIVE_TAG, PATH_TAG, PORT_TAG, idle_action
from kiln.desktop.tray.watch import idle_text, read_cluster
from kiln.workspace import ACTIVE_TAG as LAUNCHER_ACTIVE_TAG
from kiln.workspace import PATH_TAG as LAUNCHER_PATH_TAG
from kiln.workspace import PORT_TAG as LAUNCHER_PORT_TAG
from tests.compute.conftest import Cluster, push_folder, running_cluster
from tests.conftest import login, need, wait_until

ENV = Path(os.environ.get("KILN_TEST_JUPYTER", "/var/tmp/kiln-test/jupyter"))


def test_the_launcher_s_tag_names_are_the_core_s() -> None:
    assert (LAUNCHER_PORT_TAG, LAUNCHER_PATH_TAG, LAUNCHER_ACTIVE_TAG) == (PORT_TAG, PATH_TAG, ACTIVE_TAG)


def test_idle_action_on_a_fake_clock() -> None:
    hour = 3600.0
    assert idle_action(now=1000.0, last_active=1000.0, limit_s=2 * hour, warned_at=0) == ""
    assert idle_action(now=2 * hour - 600, last_active=0.0, limit_s=2 * hour, warned_at=0) == "warn"
    assert idle_action(now=2 * hour - 600, last_active=0.0, limit_s=2 * hour, warned_at=5.0) == ""
    assert idle_action(now=2 * hour, last_active=0.0, limit_s=2 * hour, warned_at=5.0) == "stop"
    assert idle_action(now=2 * hour, last_active=2 * hour - 60, limit_s=2 * hour, warned_at=5.0) == "clear"


class Kernel:
    """A Jupyter kernel spoken to over its websocket, as JupyterLab does."""

    def __init__(self, base: str, token: str, kernel_id: str) -> None:
        self.ws = websocket.create_connection(f"ws://{base}/api/kernels/{kernel_id}/channels?token={token}", timeout=60)

    def run(self, code: str) -> str:
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "t", "session": uuid.uuid4().hex, "msg_type": "execute_request",
                       "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False},
        }))  # fmt: skip
        out, replied, idle = "", False, False
        while not (replied and idle):  # outputs (iopub) and the reply (shell) come on channels of their own
            m = json.loads(self.ws.recv())
            if m.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if m["msg_type"] == "stream":
                out += m["content"]["text"]
            elif m["msg_type"] == "execute_reply":
                assert m["content"]["status"] == "ok", m["content"]
                replied = True
            elif m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                idle = True  # the kernel sends it after every output of the request
        return out

    def close(self) -> None:
        self.ws.close()


def _http(base: str, method: str, path: str, token: str) -> Any:
    request = urllib.request.Request(f"http://{base}{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=60) as r:
        return json.loads(r.read() or b"null")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    python = ENV / "bin" / "python"
    need(python.is_file(), f"the Jupyter environment at {ENV} (scripts/setup-test-host builds it)")
    with running_cluster(tmp_path) as c:
        c.agent("n1")
        push_folder(c, {"README.md": "notes\n", ".gitignore": "scratch/\n"})
        yield c


def _start(cluster: Cluster, name: str = "nb") -> Any:
    spec = RunSpec("p", (), runtime="process", resources=Resources(0.5), env={"KILN_WORKSPACE_CHECK_S": "0.3"})
    cluster.admin.start_workspace("p", name, spec, python=str(ENV / "bin" / "python"), idle_limit_s=3600)
    return wait_until(lambda: (w := cluster.admin.get_workspace("p", name)).port and w, 120, "the tool to listen")


def test_jupyter_through_the_tunnel_keeps_its_kernel_across_reconnects_and_saves(cluster: Cluster) -> None:
    w = _start(cluster)
    assert w.state == "running" and w.owner == "admin" and w.path.startswith("/api/status?token=")
    token = w.path.split("token=", 1)[1]
    forwarder = Forwarder(cluster.admin, w.run_id, w.port).start()
    local = forwarder.local_port
    base = f"127.0.0.1:{local}"
    assert "started" in _http(base, "GET", "/api/status", token)
    kernel_id = _http(base, "POST", "/api/kernels", token)["id"]
    kernel = Kernel(base, token, kernel_id)
    assert kernel.run("x = 41 + 1\nprint('ready')") == "ready\n"
    kernel.run("open('notes.txt', 'w').write('kept'); import os; os.makedirs('scratch', exist_ok=True)")
    kernel.run("open('scratch/junk.bin', 'w').write('ignored')")
    kernel.close()
    forwarder.stop()  # the tunnel is cut (a laptop asleep); the tool and its kernel keep running

    again = Forwarder(cluster.admin, w.run_id, w.port, local).start()  # the same local port, a new tunnel
    try:
        kernel = Kernel(base, token, kernel_id)
        assert kernel.run("print(x)") == "42\n"
        kernel.close()
    finally:
        again.stop()

    saved = cluster.admin.save_workspace("p", "nb", "checkpoint")
    paths = {e.path for e in cluster.admin.get_snapshot(saved.last_saved, "p")[1]}
    assert {"notes.txt", "README.md"} <= paths and not any(p.startswith("scratch") for p in paths)
    run = cluster.admin.submit_run(
        RunSpec("p", (sys.executable, "-c", "print(open('notes.txt').read())"), saved.last_saved, runtime="process")
    )  # promote to run: the saved state as a normal run
    assert str(cluster.wait_run(run.id).state) == "succeeded" and "kept" in cluster.output(run.id)

    cluster.admin.create_user("eve", "eve-password", False)
    cluster.admin.set_member("p", "eve", "editor")
    eve = login(cluster.coordinator, "eve", "eve-password")
    assert eve.get_workspace("p", "nb").path == ""  # listed, without its token
    with pytest.raises(PermissionDenied):
        list(eve.tunnel(w.run_id, w.port, iter([])))
    with pytest.raises(PermissionDenied):
        eve.save_workspace("p", "nb")
    cluster.admin.create_user("olga", "olga-password", False)
    cluster.admin.set_member("p", "olga", "owner")
    olga = login(cluster.coordinator, "olga", "olga-password")
    with pytest.raises(PermissionDenied, match="share"):  # a project owner, until the owner shares it
        list(olga.tunnel(w.run_id, w.port, iter([])))
    assert cluster.admin.share_workspace("p", "nb").shared
    assert olga.get_workspace("p", "nb").path and list(olga.tunnel(w.run_id, w.port, iter([]))) == []


def test_the_idle_stop_waits_for_the_kernel_then_saves_and_stops(cluster: Cluster) -> None:
    w = _start(cluster, "idle")
    token = w.path.split("token=", 1)[1]
    forwarder = Forwarder(cluster.admin, w.run_id, w.port).start()
    base = f"127.0.0.1:{forwarder.local_port}"
    kernel_id = _http(base, "POST", "/api/kernels", token)["id"]
    kernel = Kernel(base, token, kernel_id)
    forwarder_traffic = cluster.coordinator.ctx.tunnel_traffic
    ctx, link = cluster.coordinator.ctx, cluster.coordinator.link
    try:
        before = time.time()
        kernel.run("import time; time.sleep(1.5); open('result.txt', 'w').write('done')")  # a busy kernel
        wait_until(
            lambda: float(cluster.admin.run_record(w.run_id).tags.get(ACTIVE_TAG, 0)) / 1000 > before, 30, "activity"
        )
        busy_at = workspaces.get(ctx, workspaces.SYSTEM, "p", "idle").last_active
        assert busy_at > before
        forwarder_traffic.pop(w.run_id, None)  # count only the kernel's own activity from here
        # on a fake clock just short of the limit after the busy spell: warned, not stopped
        assert workspaces.idle_pass(ctx, link, busy_at + 3600 - 60) == [("p", "idle", "warn")]
        assert cluster.admin.get_workspace("p", "idle").warned_at
        seen = read_cluster(cluster.admin)  # the admin tray names it too
        assert [w.name for w in seen.idle_soon] == ["idle"] and "p/idle (admin)" in idle_text(seen.idle_soon)
        assert str(cluster.admin.get_run(w.run_id).state) == "running"
    finally:
        kernel.close()
        forwarder.stop()
    last = workspaces.get(ctx, workspaces.SYSTEM, "p", "idle").last_active
    assert workspaces.idle_pass(ctx, link, last + 3600 + 1) == [("p", "idle", "stop")]
    stopped = cluster.wait_run(w.run_id)
    assert str(stopped.state) == "cancelled"
    ended = cluster.admin.get_workspace("p", "idle")
    assert "idle for" in ended.stop_reason and ended.last_saved
    assert "result.txt" in {e.path for e in cluster.admin.get_snapshot(ended.last_saved, "p")[1]}
    with pytest.raises(FailedPrecondition, match="only a running run"):
        list(cluster.admin.tunnel(w.run_id, w.port, iter([])))
