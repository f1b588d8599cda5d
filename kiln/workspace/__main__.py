"""`python -m kiln.workspace --tool TOOL`: see kiln/workspace/__init__.py."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import kiln.track as kt
from kiln.workspace import (
    ACTIVE_TAG,
    BUSY_CPU,
    BUSY_GPU_PERCENT,
    CHECK_S,
    CHECK_S_ENV,
    PATH_TAG,
    PORT_TAG,
    TOKEN_TAG,
    TOOLS,
)

START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def kernels_busy(port: int, token: str) -> bool:
    """Whether a kernel of the tool is executing code (Jupyter's own view of its kernels)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/kernels", headers={"Authorization": f"token {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return any(k.get("execution_state") == "busy" for k in json.loads(r.read()))
    except (OSError, ValueError):
        return False


def gpus_busy() -> bool:
    """Whether the workspace's GPUs (CUDA_VISIBLE_DEVICES, given it alone by its node) are computing, as
    nvidia-smi reports their utilisation; False without GPUs or without nvidia-smi."""
    given = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    if not given or not shutil.which("nvidia-smi"):
        return False
    try:
        said = subprocess.run(
            ["nvidia-smi", f"--id={given}", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return any(line.strip().isdigit() and int(line.strip()) >= BUSY_GPU_PERCENT for line in said.splitlines())


def cpu_seconds(root: int) -> float:
    """CPU time used so far by `root` and every process below it (Linux /proc)."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += times.get(pid, 0.0)
        stack.extend(children.get(pid, ()))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m kiln.workspace")
    parser.add_argument("--tool", choices=sorted(TOOLS), default="jupyter-server")
    args = parser.parse_args()
    module, options, path = TOOLS[args.tool]
    if importlib.util.find_spec(module) is None:
        print(
            f"kiln.workspace: {args.tool} is not installed for {sys.executable} (no module {module}); start the "
            f"workspace in an environment that has it (--env NAME), or name an interpreter that does (--python)",
            file=sys.stderr,
        )
        return 2
    port, token = free_port(), secrets.token_urlsafe(24)
    root = os.environ.get("KILN_WORKDIR") or os.getcwd()
    command = [sys.executable, "-m", module, *options.format(port=port, token=token, root=root).split()]
    tool = subprocess.Popen(command)
    signal.signal(signal.SIGTERM, lambda *_: tool.terminate())
    deadline = time.monotonic() + START_TIMEOUT_S
    while not answers(port):
        if tool.poll() is not None or time.monotonic() > deadline:
            print(f"kiln.workspace: {args.tool} did not start listening on port {port}", file=sys.stderr)
            tool.kill()
            return tool.wait() or 1
        time.sleep(0.2)
    kt.set_tags({PORT_TAG: port, TOKEN_TAG: token, PATH_TAG: path.format(token=token)})
    kt.flush()
    print(f"kiln.workspace: {args.tool} listening on 127.0.0.1:{port}", flush=True)
    every = float(os.environ.get(CHECK_S_ENV) or CHECK_S)
    used = cpu_seconds(tool.pid)
    while True:
        try:
            tool.wait(every)
            return tool.returncode
        except subprocess.TimeoutExpired:
            pass
        now_used = cpu_seconds(tool.pid)
        busy = kernels_busy(port, token) or (now_used - used) / every > BUSY_CPU or gpus_busy()
        used = now_used
        if busy:
            kt.set_tag(ACTIVE_TAG, int(time.time() * 1000))


if __name__ == "__main__":
    sys.exit(main())
