#!/usr/bin/env python3
"""1,000 simulated agents (real node certificates, real streams, from a few processes) heartbeating every
5 s against one coordinator, then 200 runs submitted per second onto them. Prints the coordinator's CPU
share while only heartbeats flow, its memory per connected agent, and the dispatch rate.

Targets: < 50 % of one core for heartbeats, < 2 MB per agent, >= 200 dispatches/s.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import coordinator_process, print_table  # noqa: E402
from bench.simagents import enroll, worker  # noqa: E402
from kiln.core.runs import Resources, RunSpec  # noqa: E402
from kiln.sync.push import push  # noqa: E402


def coordinator_pid() -> psutil.Process:
    me = psutil.Process()
    return next(c for c in me.children() if "coordinator" in " ".join(c.cmdline()))


def cpu_share(proc: psutil.Process, seconds: float) -> float:
    before = proc.cpu_times()
    time.sleep(seconds)
    after = proc.cpu_times()
    return (after.user + after.system - before.user - before.system) / seconds


def _burst(client, spec: RunSpec, count: int) -> float:  # type: ignore[no-untyped-def]
    """Dispatch capacity: runs submitted as fast as 8 clients can, per second from first accepted to last
    finished (the coordinator both accepts and places them)."""
    from concurrent.futures import ThreadPoolExecutor

    project = "burst"
    client.create_project(project)
    snapshot = push(client, _src(), project, "", Path(tempfile.mkdtemp())).snapshot.id
    burst_spec = RunSpec(project, spec.command, snapshot, resources=spec.resources)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: client.submit_run(burst_spec), range(count)))
    deadline = time.time() + 120
    while time.time() < deadline and len(client.list_runs(project, "succeeded", 100_000)) < count:
        time.sleep(0.1)
    runs = client.list_runs(project, "succeeded", 100_000)
    return len(runs) / (max(r.finished_at for r in runs) - min(r.created_at for r in runs))


def _src() -> Path:
    folder = Path(tempfile.mkdtemp())
    (folder / "x").write_text("x")
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--rate", type=int, default=200, help="runs submitted per second")
    parser.add_argument("--seconds", type=int, default=10, help="how long runs are submitted")
    parser.add_argument("--burst", type=int, default=2000, help="runs submitted at once to measure capacity")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kiln-bench-scale-"))
    with coordinator_process(work / "coordinator") as client:
        coordinator = coordinator_pid()
        client.create_project("bench")
        (work / "src").mkdir()
        (work / "src" / "x").write_text("x")
        snapshot = push(client, work / "src", "bench", "", work / "cache").snapshot.id
        baseline_rss = coordinator.memory_info().rss
        ca = client.server_info().ca_fingerprint and Path(work / "coordinator" / "pki" / "ca.pem").read_bytes()
        token = client.create_join_token(args.agents, 3600).token
        t0 = time.time()
        identities = [(f"sim{i:04d}", *enroll(client.address, ca, token, f"sim{i:04d}")) for i in range(args.agents)]
        print(f"enrolled {args.agents} nodes in {time.time() - t0:.1f}s", file=sys.stderr)
        agent_address = f"{client.address.rpartition(':')[0]}:{client.server_info().agent_port}"
        pipes, procs = [], []
        for p in range(args.processes):
            mine, theirs = multiprocessing.Pipe()
            proc = multiprocessing.Process(
                target=worker, args=(identities[p :: args.processes], ca, agent_address, args.interval, theirs)
            )
            proc.start()
            pipes.append(mine)
            procs.append(proc)

        def counters() -> dict[str, int]:
            total = {"heartbeats": 0, "runs": 0, "connected": 0}
            for pipe in pipes:
                latest = None
                while pipe.poll():
                    latest = pipe.recv()
                if latest:
                    for k in total:
                        total[k] += latest[k]
                    pipe.last = latest  # type: ignore[attr-defined]
                elif hasattr(pipe, "last"):
                    for k in total:
                        total[k] += pipe.last[k]
            return total

        while counters()["connected"] < args.agents:
            time.sleep(0.5)
        print(f"{args.agents} agents connected after {time.time() - t0:.1f}s", file=sys.stderr)
        time.sleep(args.interval)  # let the heartbeats spread out
        rss_per_agent = (coordinator.memory_info().rss - baseline_rss) / args.agents
        beats_before = counters()["heartbeats"]
        heartbeat_cpu = cpu_share(coordinator, 3 * args.interval)
        beats = counters()["heartbeats"] - beats_before

        spec = RunSpec("bench", ("true",), snapshot, resources=Resources(cpus=0.1))
        submitted, start = 0, time.time()
        while time.time() - start < args.seconds:
            due = int((time.time() - start) * args.rate)
            while submitted < due:
                client.submit_run(spec)
                submitted += 1
        submit_elapsed = time.time() - start
        deadline = time.time() + 120
        while time.time() < deadline and len(client.list_runs("bench", "succeeded", 100_000)) < submitted:
            time.sleep(0.1)
        finished = client.list_runs("bench", "succeeded", 100_000)
        done = len(finished)
        last_finish = max(r.finished_at for r in finished) if finished else time.time()
        first_submit = min(r.created_at for r in finished) if finished else start
        dispatch_elapsed = last_finish - first_submit
        lag = last_finish - max(r.created_at for r in finished) if finished else 0.0
        burst = _burst(client, spec, args.burst)
        for pipe in pipes:
            pipe.send("stop")
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
    print_table(
        f"{args.agents} simulated agents, heartbeat every {args.interval:g}s ({beats / (3 * args.interval):.0f}/s), "
        f"{args.rate} runs/s submitted for {args.seconds}s",
        ["measure", "value", "target"],
        [
            [
                "coordinator CPU, heartbeats only",
                f"{heartbeat_cpu * 100:.1f} % of one core",
                f"< 50 % {'ok' if heartbeat_cpu < 0.5 else 'MISSED'}",
            ],
            [
                "coordinator memory per agent",
                f"{rss_per_agent / 1e6:.2f} MB",
                f"< 2 MB {'ok' if rss_per_agent < 2e6 else 'MISSED'}",
            ],
            ["submission rate reached", f"{submitted / submit_elapsed:.0f} runs/s", ""],
            [
                "dispatch rate (first submitted -> last finished)",
                f"{done / dispatch_elapsed:.0f} runs/s",
                f"kept up with {args.rate}/s: {'yes' if done == submitted and lag < 1.0 else 'NO'}",
            ],
            ["last run finished after its submission", f"{lag * 1000:.0f} ms", ""],
            ["runs finished", f"{done} of {submitted}", ""],
            [
                f"burst: {args.burst} runs submitted at once (8 clients), placed and finished",
                f"{burst:.0f} runs/s",
                f">= {args.rate} {'ok' if burst >= args.rate else 'MISSED'}",
            ],
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
