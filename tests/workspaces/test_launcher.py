"""The workspace launcher's activity signals, each against the real thing it reads: its own process tree's
CPU time in /proc, and a GPU's utilisation as an nvidia-smi on PATH reports it."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kiln.workspace.__main__ import cpu_seconds, gpus_busy
from tests.conftest import wait_until


def test_cpu_seconds_counts_what_the_children_use() -> None:
    """An idle parent whose child computes: the parent's tree is using CPU (a kernel is the tool's child)."""
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; subprocess.run([sys.executable, '-c', 'while True: pass'])"],
        start_new_session=True,
    )
    try:
        wait_until(lambda: cpu_seconds(parent.pid) > 0.5, 30, "the child's CPU time in its parent's tree")
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(30)


@pytest.mark.parametrize(("reported", "busy"), [("37", True), ("0", False), ("3\n80", True)])
def test_gpus_busy_reads_nvidia_smi_for_the_workspace_s_gpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reported: str, busy: bool
) -> None:
    smi = tmp_path / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\necho \"$1\" > {tmp_path}/asked\nprintf '{reported}\\n'\n")
    smi.chmod(smi.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-1234")
    assert gpus_busy() is busy
    assert (tmp_path / "asked").read_text().strip() == "--id=GPU-1234"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # given no GPU: nothing asked
    assert gpus_busy() is False
