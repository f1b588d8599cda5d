#!/usr/bin/env python3
"""Submit -> started latency (p50, p99 over >= 50 runs) for the process runtime and for Docker, beside a bare
`docker create` + `docker start` of the same image timed in the same run.

Kiln's figure is the coordinator's own record: from the moment the run was accepted (created_at) to the
moment the agent's report that it runs arrived (started_at), through the scheduler, the agent stream,
preparing the run folder from the snapshot, and starting the job; the run's events split it into phases
(accepted -> assigned: the scheduler; assigned -> preparing: the assignment's trip and the agent's journal;
preparing -> running: the agent's own work and the report's trip back). The bare figure is the Docker
engine alone, through the same SDK: from the create call until the start call returned (the engine's own
StartedAt, a little before that, is shown too). Each loop waits for the last container to be removed
before the next begins (the agent removes a run's container once its end is acknowledged).
Targets: process <= 28 ms at p50 (0.1's figure); Docker <= 50 ms over bare Docker at p50 and at p99.
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

from bench.common import agent_process, coordinator_process, print_table, succeeded  # noqa: E402
from kiln.core.runs import RunSpec  # noqa: E402
from kiln.sync.push import push  # noqa: E402

IMAGE = "kiln-test/busybox:1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def kiln_latencies(client, snapshot: str, runtime: str, n: int, phases: list | None = None) -> list[float]:
    found = []
    phases = [] if phases is None else phases
    for _ in range(n):
        image = IMAGE if runtime == "docker" else ""
        r = succeeded(client, RunSpec("bench", ("true",), snapshot, image, runtime))
        if runtime == "docker":
            gone(r.id)
        found.append(r.started_at - r.created_at)
        at = {str(e.state): e.time for e in r.events}
        phases.append(
            (
                at["assigned"] - r.created_at,
                at["preparing"] - at["assigned"],
                r.started_at - at["preparing"],
            )
        )
    return found


def gone(run_id: str) -> None:
    """Waits until the agent has removed the run's container, as the bare loop removes each container
    before it creates the next: an engine still tearing one down starts the next more slowly."""
    import docker

    api = docker.from_env().api
    deadline = time.monotonic() + 30
    while api.containers(all=True, filters={"label": f"kiln.run={run_id}"}):
        if time.monotonic() > deadline:
            raise SystemExit(f"the container of run {run_id} was not removed within 30 s")
        time.sleep(0.01)


def bare_docker_latencies(n: int) -> tuple[list[float], list[float]]:
    """create + start until start returned, and until the engine's StartedAt, per container."""
    import docker

    api = docker.from_env().api
    returned, engine_started = [], []
    for _ in range(n):
        start = time.time()
        container = api.create_container(IMAGE, ["true"], host_config=api.create_host_config(network_mode="none"))
        api.start(container["Id"])
        returned.append(time.time() - start)
        state = api.inspect_container(container["Id"])["State"]
        engine_started.append(datetime.fromisoformat(state["StartedAt"][:26] + "+00:00").timestamp() - start)
        api.wait(container["Id"])
        api.remove_container(container["Id"])
    return returned, engine_started


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
            phases: dict[str, list] = {"process": [], "docker": []}
            kiln_latencies(client, snapshot, "process", 3)  # warm caches: the SDK copy, the blob cache
            proc = kiln_latencies(client, snapshot, "process", args.runs, phases["process"])
            rows.append(["kiln, process runtime", proc, None, 0.028])
            runtimes = [n.runtimes for n in client.list_nodes()][0]
            if "docker" in runtimes:
                kiln_latencies(client, snapshot, "docker", 3)
                dock = kiln_latencies(client, snapshot, "docker", args.runs, phases["docker"])
                bare, engine_started = bare_docker_latencies(args.runs)
                rows.append(["kiln, docker runtime", dock, bare, 0.050])
                rows.append(["bare docker (create+start returned)", bare, None, None])
                rows.append(["  engine's StartedAt, for reference", engine_started, None, None])
    table = []
    for name, values, bare, target in rows:
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        over, verdict = "", ""
        if bare:
            b50, b99 = statistics.median(bare), percentile(bare, 0.99)
            over = f"+{(p50 - b50) * 1000:.0f} ms p50 ({p50 / b50:.2f}x), +{(p99 - b99) * 1000:.0f} ms p99"
            ok = p50 - b50 <= target and p99 - b99 <= target
            verdict = f"<= +{target * 1000:.0f} ms p50 and p99 {'ok' if ok else 'MISSED'}"
        elif target is not None:
            verdict = f"<= {target * 1000:.0f} ms p50 {'ok' if p50 <= target else 'MISSED'}"
        table.append([name, f"{p50 * 1000:.1f}", f"{p99 * 1000:.1f}", over, verdict])
    print_table(
        f"submit -> started, {args.runs} runs each, {os.cpu_count()} cores",
        ["", "p50 ms", "p99 ms", "vs bare docker", "target"],
        table,
    )
    print_table(
        "where Kiln's time goes (p50 ms of each phase, from the run's events)",
        ["runtime", "accepted -> assigned", "assigned -> preparing", "preparing -> running"],
        [
            [rt, *(f"{statistics.median(col) * 1000:.1f}" for col in zip(*found, strict=True))]
            for rt, found in phases.items()
            if found
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
