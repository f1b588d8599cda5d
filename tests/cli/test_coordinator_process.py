"""`kiln coordinator` as its own process: first start, the printed sign-in, Ctrl-C, and restart."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from kiln.client import Client
from kiln.pinning import presented_ca


def start(data: Path, *extra: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiln", "coordinator", "--data", str(data), "--listen", "127.0.0.1:0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    while not (lines and lines[-1].startswith("Sign in:")):
        line = proc.stdout.readline()
        assert line, f"coordinator exited early: {proc.stderr.read() if proc.stderr else ''}"
        lines.append(line.strip())
    return proc, lines


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=20)


def test_first_start_prints_the_password_once_and_restart_resumes(tmp_path):
    data = tmp_path / "data"
    proc, lines = start(data)
    try:
        address = re.search(r"listening on (\S+)", lines[0]).group(1)
        password = re.search(r"password '([^']+)'", "\n".join(lines)).group(1)
        fingerprint = subprocess.run(
            [sys.executable, "-m", "kiln", "coordinator", "fingerprint", "--data", str(data)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert f"CA fingerprint: {fingerprint}" in lines
        ca = presented_ca(address)
        assert ca.fingerprint == fingerprint
        with Client(address, ca.pem) as c:
            token, user, _ = c.login("admin", password)
        with Client(address, ca.pem, token) as c:
            c.create_project("kept")
    finally:
        assert stop(proc) == 0
    assert password not in (data / "kiln.db").read_bytes().decode("latin-1")

    proc, lines = start(data)
    try:
        assert not any("password" in line for line in lines)
        address = re.search(r"listening on (\S+)", lines[0]).group(1)
        with Client(address, presented_ca(address).pem, token) as c:
            assert [p.name for p in c.list_projects()] == ["kept"]
    finally:
        assert stop(proc) == 0


def test_password_file_sets_the_bootstrap_password_and_bad_flags_fail_cleanly(tmp_path):
    (tmp_path / "pw").write_text("from-a-file-123\n")
    proc, lines = start(tmp_path / "data", "--admin-password-file", str(tmp_path / "pw"))
    try:
        address = re.search(r"listening on (\S+)", lines[0]).group(1)
        with Client(address, presented_ca(address).pem) as c:
            assert c.login("admin", "from-a-file-123")[1].name == "admin"
    finally:
        stop(proc)
    bad = subprocess.run(
        [sys.executable, "-m", "kiln", "coordinator", "--data", str(tmp_path / "d2"), "--listen", "nonsense"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "HOST:PORT" in bad.stderr and not (tmp_path / "d2").exists()
    missing = subprocess.run(
        [sys.executable, "-m", "kiln", "coordinator", "fingerprint", "--data", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1 and "start the coordinator there first" in missing.stderr


def test_metrics_and_json_logs_are_switched_on_from_the_command_line(tmp_path):
    import json
    import urllib.request

    proc, lines = start(
        tmp_path / "data", "--metrics-listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "INFO"
    )
    try:
        url = next(line.split()[1] for line in lines if line.startswith("Metrics: "))
        body = urllib.request.urlopen(url, timeout=10).read().decode()
        assert "kiln_runs" in body
    finally:
        stop(proc)
    logged = [json.loads(line) for line in proc.stderr.read().splitlines() if line.startswith("{")]
    assert logged and {"time", "level", "logger", "message"} <= set(logged[0])
