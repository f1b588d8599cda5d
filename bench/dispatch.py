#!/usr/bin/env python3
"""Submit -> started latency (p50, p99 over >= 50 runs) for the process runtime and for Docker, beside a bare
`docker run` of the same image timed in the same run.

Kiln's figure is the coordinator's own record: from the moment the run was accepted (created_at) to the
moment the agent reported it running (started_at), through the scheduler, the agent stream, preparing the
run folder from the snapshot, and starting the job. The bare figure is the Docker engine alone: from the
create call to the container's StartedAt. Targets: process <= 50 ms at p50; Docker <= 100 ms over bare
Docker at p50.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import agent_process, coordinator_process, print_table  # noqa: E402
from kiln.core.runs import RunSpec  # noqa: E402
from kiln.sync.push import push  # noqa: E402

IMAGE = "kiln-test/busybox:1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def kiln_latencies(client, snapshot: str, runtime: str, n: int) -> list[float]:
    found = []
    for _ in range(n):
        image = IMAGE if runtime == "docker" else ""
        run = client.submit_run(RunSpec("bench", ("true",), snapshot, image, runtime))
        while True:
            r = client.get_run(run.id)
            if r.state.terminal:
                break
            time.sleep(0.01)  # the benchmark's own polling; the figure comes from the coordinator's record
        if str(r.state) != "succeeded":
            raise SystemExit(f"run {r.id} {r.state}: {r.reason}")
        found.append(r.started_at - r.created_at)
    return found


def bare_docker_latencies(n: int) -> list[float]:
    import docker

    engine = docker.from_env()
    found = []
    for _ in range(n):
        start = time.time()
        container = engine.containers.create(IMAGE, ["true"], network_mode="none")
        container.start()
        container.reload()
        started = datetime.fromisoformat(container.attrs["State"]["StartedAt"][:26] + "+00:00").timestamp()
        found.append(started - start)
        container.wait()
        container.remove()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kiln-bench-dispatch-"))
    with coordinator_process(work / "coordinator") as client:
        client.create_project("bench")
        with agent_process(client, work / "agent"):
            (work / "src").mkdir()
            (work / "src" / "train.py").write_text("print('hi')\n")
            snapshot = push(client, work / "src", "bench", "", work / "cache").snapshot.id
            rows = []
            kiln_latencies(client, snapshot, "process", 3)  # warm caches: the SDK copy, the blob cache
            proc = kiln_latencies(client, snapshot, "process", args.runs)
            rows.append(["kiln, process runtime", proc, None, 0.050])
            runtimes = [n.runtimes for n in client.list_nodes()][0]
            if "docker" in runtimes:
                kiln_latencies(client, snapshot, "docker", 3)
                dock = kiln_latencies(client, snapshot, "docker", args.runs)
                bare = bare_docker_latencies(args.runs)
                rows.append(["kiln, docker runtime", dock, statistics.median(bare), 0.100])
                rows.append(["bare docker (create+start)", bare, None, None])
    table = []
    for name, values, bare_p50, target in rows:
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        over = f"{(p50 - bare_p50) * 1000:.0f} ms over bare ({p50 / bare_p50:.2f}x)" if bare_p50 else ""
        verdict = ""
        if target is not None:
            measured = p50 - bare_p50 if bare_p50 else p50
            verdict = f"<= {target * 1000:.0f} ms {'ok' if measured <= target else 'MISSED'}"
        table.append([name, f"{p50 * 1000:.1f}", f"{p99 * 1000:.1f}", over, verdict])
    print_table(
        f"submit -> started, {args.runs} runs each, {os.cpu_count()} cores",
        ["", "p50 ms", "p99 ms", "vs bare docker", "target"],
        table,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
