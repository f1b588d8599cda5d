"""`kiln up`: one command gives a working Kiln on this machine, and a second one resumes it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import wait_until


def start_up(tmp: Path, listen: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kiln",
            "up",
            "--data",
            str(tmp / "data"),
            "--listen",
            listen,
            "--gateway-listen",
            "127.0.0.1:0",
            "--runtime",
            "process",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KILN_HOME": str(tmp / "home")},
    )
    lines: list[str] = []
    assert proc.stdout is not None
    while not (lines and lines[-1].startswith("Try:")):
        line = proc.stdout.readline()
        assert line, f"kiln up exited early: {proc.stderr.read() if proc.stderr else ''}"
        lines.append(line.strip())
    return proc, lines


def kiln(tmp: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiln", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "KILN_HOME": str(tmp / "home")},
    )


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    return out


def test_kiln_up_runs_work_at_once_and_resumes(tmp_path):
    proc, lines = start_up(tmp_path, "127.0.0.1:0")
    try:
        address = re.search(r"coordinator (\S+),", lines[0]).group(1)
        assert any(re.search(r"password '.+' \(shown once", line) for line in lines)
        assert any(re.match(r"Model endpoints: https://127\.0\.0\.1:\d+/endpoints/NAME/invocations", x) for x in lines)
        assert kiln(tmp_path, "project", "create", "demo").returncode == 0
        work = tmp_path / "work"
        work.mkdir()
        (work / "train.py").write_text("print('trained')\n")
        ran = kiln(tmp_path, "run", "-p", "demo", "--follow", "--", sys.executable, "train.py", cwd=work)
        assert ran.returncode == 0 and ran.stdout == "trained\n", ran.stderr
        failed = kiln(tmp_path, "run", "-p", "demo", "--follow", "--", "sh", "-c", "exit 4", cwd=work)
        assert failed.returncode == 4
    finally:
        out = stop(proc)
    assert "resumes" in out

    proc, lines = start_up(tmp_path, address)
    try:
        assert not any("password" in line for line in lines)
        runs = json.loads(kiln(tmp_path, "runs", "--json").stdout)
        assert [r["state"] for r in runs] == ["failed", "succeeded"]
        nodes = json.loads(kiln(tmp_path, "nodes", "--json").stdout)
        wait_until(
            lambda: json.loads(kiln(tmp_path, "nodes", "--json").stdout)[0]["state"] == "ready",
            30,
            "the local agent to reconnect",
        )
        assert len(nodes) == 1
    finally:
        stop(proc)
