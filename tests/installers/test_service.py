"""The systemd units (checked as text, and by systemd-analyze where it is installed) and Kiln's own
supervisor for hosts without systemd: restart on failure, the environment file, stop, one at a time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiln.installers.service import Layout, agent_unit, coordinator_unit, parse_unit
from kiln.installers.supervisor import expand, read_env_file, running_pid
from tests.conftest import wait_until

UNITS = Path(__file__).resolve().parents[2] / "installers" / "systemd"


def test_the_checked_in_units_are_the_rendered_defaults():
    assert (UNITS / "kiln-agent.service").read_text() == agent_unit()
    assert (UNITS / "kiln-coordinator.service").read_text() == coordinator_unit()


@pytest.mark.parametrize("text", [agent_unit(), coordinator_unit()])
def test_units_restart_on_failure_and_are_hardened(text):
    unit = parse_unit(text)
    service = {k: v[-1] for k, v in unit["Service"].items()}
    assert service["Restart"] == "on-failure" and service["User"] == "kiln"
    for option in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "ProtectKernelTunables"):
        assert service[option] in ("yes", "strict"), option
    # every connection holds a file: systemd's default 1,024 is a flood of idle connections away from locking
    # users and agents out
    assert int(service["LimitNOFILE"]) >= 65536
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    with pytest.raises(ValueError):
        parse_unit("[Service]\nnot a setting\n")


def test_systemd_accepts_the_units(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed; the units were checked as text")
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "kiln").write_text("#!/bin/sh\n")
    (tmp_path / "venv" / "bin" / "kiln").chmod(0o755)
    files = [tmp_path / "kiln-agent.service", tmp_path / "kiln-coordinator.service"]
    files[0].write_text(agent_unit(Layout(str(tmp_path))))
    files[1].write_text(coordinator_unit(str(tmp_path)))
    done = subprocess.run(["systemd-analyze", "verify", *map(str, files)], capture_output=True, text=True)
    assert done.returncode == 0 and "service:" not in done.stderr, done.stderr


def test_the_environment_file_is_read_and_expanded_as_systemd_does(tmp_path):
    env = tmp_path / "agent.env"
    env.write_text('# comment\nKILN_COORDINATOR=10.0.0.1:7443\nKILN_AGENT_ARGS=--name n1  --runtime process\nQ="a b"\n')
    values = read_env_file(env)
    assert values == {
        "KILN_COORDINATOR": "10.0.0.1:7443",
        "KILN_AGENT_ARGS": "--name n1  --runtime process",
        "Q": "a b",
    }
    argv = ["kiln", "--coordinator", "${KILN_COORDINATOR}", "$KILN_AGENT_ARGS", "x${Q}y", "$MISSING"]
    assert expand(argv, values) == [
        "kiln",
        "--coordinator",
        "10.0.0.1:7443",
        "--name",
        "n1",
        "--runtime",
        "process",
        "xa by",
    ]


def _supervise(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kiln.installers.supervisor", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_the_supervisor_restarts_a_failing_command_and_stops_cleanly(tmp_path):
    pid_file, log, runs = tmp_path / "run" / "svc.pid", tmp_path / "svc.log", tmp_path / "runs"
    (tmp_path / "svc.env").write_text(f"RUNS={runs}\nSECRET=only-in-the-file\n")
    # fails on its first start, then stays up; prints what it got from the environment file
    script = 'echo run >> "$RUNS"; echo "secret=$SECRET"; [ "$(wc -l < "$RUNS")" -ge 2 ] || exit 3; exec sleep 600'
    start = ["start", "--pid-file", str(pid_file), "--log", str(log), "--env-file", str(tmp_path / "svc.env")]
    done = _supervise(*start, "--", "/bin/sh", "-c", script)
    assert done.returncode == 0, done.stderr
    pid = running_pid(pid_file)
    assert pid
    try:
        _check_running(pid_file, log, runs, start)
    finally:
        assert _supervise("stop", "--pid-file", str(pid_file)).returncode == 0
    assert not os.path.exists(f"/proc/{pid}") or b"supervisor" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert not pid_file.exists()
    assert _supervise("status", "--pid-file", str(pid_file)).returncode == 3


def _check_running(pid_file: Path, log: Path, runs: Path, start: list[str]) -> None:
    wait_until(lambda: runs.exists() and len(runs.read_text().split()) == 2, 30, "the restart")
    wait_until(lambda: "exited with 3; restarting" in log.read_text(), 10, "the restart to be logged")
    assert log.read_text().count("secret=only-in-the-file") >= 1

    again = _supervise(*start, "--", "/bin/true")
    assert again.returncode == 1 and "already running" in again.stderr
    assert _supervise("status", "--pid-file", str(pid_file)).returncode == 0


def test_the_desktop_bundle_spec_is_python_and_names_the_app_entry_point():
    spec = UNITS.parent / "desktop" / "kiln-desktop.spec"
    compile(spec.read_text(), str(spec), "exec")  # PyInstaller runs it as Python
    root = UNITS.parents[1]
    assert (root / "desktop" / "__main__.py").exists() and '"desktop" / "__main__.py"' in spec.read_text()
