"""Shared plumbing for benchmarks: a real coordinator process on loopback, timing, and the result table."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kiln.client import Client
from kiln.core.runs import Run, RunSpec
from kiln.pinning import presented_ca

ADMIN_PASSWORD = "bench-admin-password"


@contextmanager
def coordinator_process(data: Path, *extra: str) -> Iterator[Client]:
    """A coordinator in its own process (as deployed), and an admin client signed in to it."""
    data.mkdir(parents=True, exist_ok=True)
    (data.parent / "admin-password").write_text(ADMIN_PASSWORD)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kiln",
            "coordinator",
            "--data",
            str(data),
            "--listen",
            "127.0.0.1:0",
            "--admin-password-file",
            str(data.parent / "admin-password"),
            "--log-level",
            "WARNING",
            *extra,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        address = ""
        while not address:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("coordinator exited before it was ready")
            if m := re.search(r"listening on (\S+)", line):
                address = m.group(1)
        ca = presented_ca(address).pem
        with Client(address, ca) as anonymous:
            token = anonymous.login("admin", ADMIN_PASSWORD)[0]
        with Client(address, ca, token, timeout=3600) as client:
            yield client
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def agent_process(client: Client, data: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """`kiln agent` enrolled with a fresh join token, as its own process, ready before this yields."""
    token = client.create_join_token(1, 600).token
    cmd = [
        sys.executable,
        "-m",
        "kiln",
        "agent",
        "--coordinator",
        client.address,
        "--data",
        str(data),
        "--name",
        "bench",
        "--log-level",
        "WARNING",
        *extra,
    ]
    agent = subprocess.Popen(cmd, env={**os.environ, "KILN_JOIN_TOKEN": token})
    try:
        while not any(n.state == "ready" for n in client.list_nodes()):
            if agent.poll() is not None:
                raise RuntimeError("the agent exited before it was ready")
            time.sleep(0.05)
        yield agent
    finally:
        agent.terminate()
        agent.wait(30)


def succeeded(client: Client, spec: RunSpec) -> Run:
    """`spec` submitted, and its record once it ended, which must be a success (else the bench stops)."""
    run = client.submit_run(spec)
    while True:
        r = client.get_run(run.id)
        if r.state.terminal:
            break
        time.sleep(0.01)  # the benchmark's own polling; its figures come from the coordinator's record
    if str(r.state) != "succeeded":
        raise SystemExit(f"run {r.id} {r.state}: {r.reason}")
    return r


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median(values: list[float]) -> float:
    return statistics.median(values)


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    print(f"\n{title}")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    for row in [header, *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)))
