"""`kiln node add` / `kiln node uninstall` against a real sshd on this machine: the wheel built from this
checkout, a venv under a temp prefix, the agent under Kiln's supervisor (no systemd runs here), enrolled
with a join token that does not stay on the host, then a real run on it; run again, it upgrades in place;
uninstalled, it is drained, stopped, removed, and forgotten by the coordinator. Bad input changes nothing."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from kiln.agent import identity
from kiln.core.runs import RunSpec
from kiln.installers.service import Layout, agent_unit
from kiln.installers.supervisor import running_pid
from kiln.installers.wheel import build_wheel
from tests.conftest import wait_until

pytestmark = pytest.mark.timeout(900)
# The system's Python: the service user must be able to reach the interpreter the venv links to (a
# pyenv Python under /root, as on some test hosts, would be refused, and rightly).
PYTHON = ["--python", "/usr/bin/python3"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def _nothing_changed(signed_in_cli, admin, prefix: Path) -> None:
    assert not prefix.exists()
    assert admin.list_nodes() == []
    assert not [r for r in admin.list_audit() if r.action == "node.token.create"]


def _alive(pid: int, marker: bytes) -> bool:
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _run(admin, tmp_path: Path, command: str):
    from kiln.sync.push import push

    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "input.txt").write_text("from the workstation\n")
    snap = push(admin, src, "p", "", tmp_path / "push-cache").snapshot.id
    run = admin.submit_run(RunSpec("p", ("sh", "-c", command), snap, runtime="process"))
    done = wait_until(lambda: (r := admin.get_run(run.id)) and r.state.terminal and r, 120, "the run to end")
    out = b"".join(c.data for c in admin.read_logs(run.id) if c.stream == "stdout").decode()
    return done, out


def test_add_runs_work_upgrades_in_place_and_uninstalls(signed_in_cli, admin, sshd, node_prefix, tmp_path):
    cli, layout = signed_in_cli, Layout(str(node_prefix))
    admin.create_project("p")
    where = [sshd.target, "--prefix", str(node_prefix), *PYTHON]
    options = ["--name", "ssh-node", "--runtime", "process", "--labels", "site=lab", "--json", "--wait", "90s"]
    out = cli.ok("node", "add", *where, *sshd.ssh_args(), *options)
    assert json.loads(out)["state"] == "ready"
    node = next(n for n in admin.list_nodes() if n.name == "ssh-node")
    assert node.labels == {"site": "lab"} and set(node.runtimes) == {"process"}
    supervisor, cert = _check_installed(layout)
    done, output = _run(admin, tmp_path, "cat input.txt; id -un")
    assert (str(done.state), done.node) == ("succeeded", "ssh-node")
    assert output == "from the workstation\nkiln\n"
    _check_unit_for(layout, tmp_path)

    # again: an upgrade in place, same identity, no new join token, a new agent process
    tokens = len([r for r in admin.list_audit() if r.action == "node.token.create"])
    again = ["--runtime", "process", "--labels", "site=lab,disk=ssd"]
    cli.ok("node", "add", *where, *sshd.ssh_args(trust=False), *again)
    assert (Path(layout.data) / "identity" / "cert.pem").read_bytes() == cert
    assert len([r for r in admin.list_audit() if r.action == "node.token.create"]) == tokens
    assert running_pid(Path(layout.pid_file)) not in (0, supervisor)
    node = next(n for n in admin.list_nodes() if n.name == "ssh-node")
    assert node.state == "ready" and node.labels == {"site": "lab", "disk": "ssd"}
    done, output = _run(admin, tmp_path, "echo after the upgrade")
    assert str(done.state) == "succeeded" and output == "after the upgrade\n"

    # a run that will not finish: uninstalling waits for it, and only --force goes ahead (and stops it)
    busy = admin.submit_run(RunSpec("p", ("sh", "-c", "echo started; sleep 600"), runtime="process"))
    wait_until(lambda: str(admin.get_run(busy.id).state) == "running", 60, "the long run to start")
    uninstall = ["node", "uninstall", sshd.target, *sshd.ssh_args(trust=False), "--prefix", str(node_prefix)]
    result = cli(*uninstall, "--drain-timeout", "1s")
    assert result.code == 1 and "still runs 1 run(s)" in result.err and "--force" in result.err
    assert node_prefix.exists() and next(n for n in admin.list_nodes() if n.name == "ssh-node").drained
    new_supervisor = running_pid(Path(layout.pid_file))
    result = cli.ok(*uninstall, "--force")
    assert "ssh-node uninstalled" in result
    assert not node_prefix.exists()
    assert [n.name for n in admin.list_nodes()] == []
    assert not _alive(new_supervisor, b"kiln.installers.supervisor")
    assert not any(_alive(int(p.name), str(node_prefix).encode()) for p in Path("/proc").iterdir() if p.name.isdigit())
    actions = [r.action for r in admin.list_audit() if r.target == "ssh-node"]
    assert actions[-2:] == ["node.drain", "node.remove"]


def _check_installed(layout: Layout) -> tuple[int, bytes]:
    """Installed as the docs say: a service user, private data, a root-only settings file without the join
    token, a supervisor with its pid file. Returns the supervisor's pid and the node's certificate."""
    record = json.loads(Path(layout.record).read_text())
    assert record["service"] == "supervised" and record["user"] == "kiln"
    env = Path(layout.env_file)
    assert env.stat().st_mode & 0o777 == 0o600 and env.stat().st_uid == 0
    assert "KILN_JOIN_TOKEN" not in env.read_text() and "KILN_COORDINATOR=" in env.read_text()
    assert Path(layout.data).stat().st_uid == pwd.getpwnam("kiln").pw_uid
    supervisor = running_pid(Path(layout.pid_file))
    assert supervisor
    return supervisor, (Path(layout.data) / "identity" / "cert.pem").read_bytes()


def _check_unit_for(layout: Layout, tmp_path: Path) -> None:
    """The unit a systemd host would get, for this very install, passes systemd's own checks."""
    if not shutil.which("systemd-analyze"):
        return
    unit = tmp_path / "kiln-agent.service"
    unit.write_text(agent_unit(layout, "kiln"))
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert verify.returncode == 0 and str(unit) not in verify.stderr, verify.stderr


def test_a_host_without_python_311_is_refused_and_nothing_changes(signed_in_cli, admin, sshd, node_prefix, wheel):
    old = node_prefix.parent / "python3.9"
    old.write_text("#!/bin/sh\necho 3.9.2\n")
    old.chmod(0o755)
    add = ["node", "add", sshd.target, *sshd.ssh_args(), "--prefix", str(node_prefix), "--wheel", str(wheel)]
    result = signed_in_cli(*add, "--python", str(old), "--name", "old")
    assert result.code == 1
    assert "Python 3.9.2; Kiln needs 3.11 or newer" in result.err and "nothing was changed" in result.err
    _nothing_changed(signed_in_cli, admin, node_prefix)

    result = signed_in_cli(*add, "--python", "/nonexistent/python3", "--name", "old")
    assert result.code == 1 and "no /nonexistent/python3 on the host" in result.err
    _nothing_changed(signed_in_cli, admin, node_prefix)


def test_bad_input_is_refused_before_anything_changes(
    signed_in_cli, coordinator, admin, sshd, node_prefix, wheel, tmp_path
):
    base = ["node", "add", sshd.target, "--wheel", str(wheel), *PYTHON, "--name", "n1"]
    cases = [
        ([*sshd.ssh_args(trust=False), "--prefix", str(node_prefix)], "host key is not known"),
        ([*sshd.ssh_args(), "--prefix", "/usr"], "must be an absolute folder of its own"),
        ([*sshd.ssh_args(), "--prefix", str(node_prefix), "--runtime", "docker", "--min-disk", "1000T"], "free for"),
        ([*sshd.ssh_args(), "--prefix", str(node_prefix), "--labels", "oops"], "KEY=VALUE"),
        (["--port", "1", "--key", str(sshd.client_key), "--prefix", str(node_prefix)], "cannot reach SSH"),
    ]
    for extra, message in cases:
        result = signed_in_cli(*base, *extra)
        assert result.code == 1 and message in result.err, (extra, result.err)
        _nothing_changed(signed_in_cli, admin, node_prefix)
    far = signed_in_cli("node", "add", "root@192.0.2.7", "--wheel", str(wheel), *sshd.ssh_args())
    assert far.code == 1 and "which is the node itself" in far.err  # the coordinator's address is loopback
    not_a_wheel = tmp_path / "kiln.txt"
    not_a_wheel.write_text("x")
    result = signed_in_cli(*base[:3], "--wheel", str(not_a_wheel), *sshd.ssh_args(), "--prefix", str(node_prefix))
    assert result.code == 1 and "not a Kiln wheel" in result.err

    identity.enroll(tmp_path / "other", coordinator.address, admin.create_join_token().token, "taken", {})
    result = signed_in_cli(*base[:-1], "taken", *sshd.ssh_args(), "--prefix", str(node_prefix))
    assert result.code == 1 and "already has a node named 'taken'" in result.err
    assert not node_prefix.exists()


def test_uninstall_where_nothing_is_installed_says_so(signed_in_cli, sshd, node_prefix):
    result = signed_in_cli("node", "uninstall", sshd.target, *sshd.ssh_args(), "--prefix", str(node_prefix))
    assert result.code == 1 and "no Kiln agent is installed" in result.err
    assert not os.path.exists(node_prefix)
