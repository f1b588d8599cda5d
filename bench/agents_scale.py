#!/usr/bin/env python3
"""1,000 simulated agents (real node certificates, real streams, from a few processes) heartbeating every
5 s against one coordinator; then 200 runs submitted per second onto them (from 4 client threads, paced);
then 2,000 runs submitted at once by 8 clients. Prints the coordinator's CPU share while only heartbeats
flow and while the 200 submissions/s are placed and finished, its memory per connected agent, the
sustained dispatch rate, the burst rate (first accepted to last finished), and the scheduler alone
(bench/scheduler.py: one pass over 10,000 queued runs and 1,000 nodes, in-process).

Completion is watched through the simulated agents' own counters, so the benchmark does not load the
coordinator with listings while it measures; the rates come from the coordinator's records of the runs.

Targets: < 50 % of one core for heartbeats, < 2 MB per agent, >= 200 dispatches/s kept up with, < 50 % of
one core while 200 submissions/s are placed and finished, >= 400 runs/s in the burst.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import coordinator_process, print_table  # noqa: E402
from bench.scheduler import TARGET as SCHEDULER_TARGET  # noqa: E402
from bench.scheduler import measure as measure_scheduler  # noqa: E402
from bench.simagents import enroll, worker  # noqa: E402
from kiln.client import Client  # noqa: E402
from kiln.core.runs import Resources, Run, RunSpec  # noqa: E402
from kiln.sync.push import push  # noqa: E402

HEARTBEAT_CPU_TARGET = 0.5  # of one core
MEMORY_TARGET = 2e6  # bytes per agent
SUSTAINED_CPU_TARGET = 0.5  # of one core, while `--rate` submissions/s are placed and finished
BURST_TARGET = 400.0  # runs/s
SUBMITTERS = 4  # client threads sharing the paced submissions
BURST_CLIENTS = 8


def coordinator_pid() -> psutil.Process:
    me = psutil.Process()
    return next(c for c in me.children() if "coordinator" in " ".join(c.cmdline()))


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def cpu_share(proc: psutil.Process, seconds: float) -> float:
    before = cpu_seconds(proc)
    time.sleep(seconds)
    return (cpu_seconds(proc) - before) / seconds


class Agents:
    """The simulated agents, `processes` processes of asyncio tasks, and the counters they report."""

    def __init__(
        self, identities: list[tuple[str, bytes, bytes]], ca: bytes, address: str, interval: float, processes: int
    ) -> None:
        self.pipes: list[Connection] = []
        self.procs: list[multiprocessing.Process] = []
        self.latest: list[dict[str, int]] = [{} for _ in range(processes)]
        for p in range(processes):
            mine, theirs = multiprocessing.Pipe()
            proc = multiprocessing.Process(
                target=worker, args=(identities[p::processes], ca, address, interval, theirs)
            )
            proc.start()
            self.pipes.append(mine)
            self.procs.append(proc)

    def counters(self) -> dict[str, int]:
        total = {"heartbeats": 0, "runs": 0, "connected": 0}
        for i, pipe in enumerate(self.pipes):
            while pipe.poll():
                self.latest[i] = pipe.recv()
            for k in total:
                total[k] += self.latest[i].get(k, 0)
        return total

    def wait_for(self, counter: str, count: int, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline and self.counters()[counter] < count:
            time.sleep(0.1)

    def stop(self) -> None:
        for pipe in self.pipes:
            pipe.send("stop")
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()


def finished(client: Client, agents: Agents, project: str, count: int, runs_before: int) -> list[Run]:
    """The runs of `project` once the agents have finished `count` more runs and the coordinator has
    recorded them: the coordinator is only asked once the agents say they are done."""
    agents.wait_for("runs", runs_before + count, 120)
    deadline = time.time() + 30
    found = client.list_runs(project, "succeeded")
    while time.time() < deadline and len(found) < count:
        time.sleep(0.1)
        found = client.list_runs(project, "succeeded")
    return found


def sustain(client: Client, spec: RunSpec, rate: int, seconds: float) -> tuple[int, float]:
    """Submits `rate` runs per second for `seconds`, paced, from SUBMITTERS threads (one client's calls
    wait for their replies); returns the runs submitted and how long it took."""
    slots, lock, start = iter(range(int(rate * seconds))), threading.Lock(), time.time()

    def submitter() -> int:
        done = 0
        while True:
            with lock:
                slot = next(slots, None)
            if slot is None:
                return done
            time.sleep(max(0.0, start + slot / rate - time.time()))
            client.submit_run(spec)
            done += 1

    with ThreadPoolExecutor(SUBMITTERS) as pool:
        submitted = sum(pool.map(lambda _: submitter(), range(SUBMITTERS)))
    return submitted, time.time() - start


def burst(client: Client, agents: Agents, spec: RunSpec, count: int) -> float:
    """Dispatch capacity: runs submitted as fast as BURST_CLIENTS clients can, per second from first
    accepted to last finished (the coordinator both accepts and places them)."""
    project = "burst"
    client.create_project(project)
    snapshot = push(client, _src(), project, "", Path(tempfile.mkdtemp())).snapshot.id
    burst_spec = RunSpec(project, spec.command, snapshot, resources=spec.resources)
    runs_before = agents.counters()["runs"]
    with ThreadPoolExecutor(BURST_CLIENTS) as pool:
        list(pool.map(lambda _: client.submit_run(burst_spec), range(count)))
    runs = finished(client, agents, project, count, runs_before)
    return len(runs) / (max(r.finished_at for r in runs) - min(r.created_at for r in runs))


def _src() -> Path:
    folder = Path(tempfile.mkdtemp())
    (folder / "x").write_text("x")
    return folder


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


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
        snapshot = push(client, _src(), "bench", "", work / "cache").snapshot.id
        baseline_rss = coordinator.memory_info().rss
        ca = Path(work / "coordinator" / "pki" / "ca.pem").read_bytes()
        token = client.create_join_token(args.agents, 3600).token
        t0 = time.time()
        identities = [(f"sim{i:04d}", *enroll(client.address, ca, token, f"sim{i:04d}")) for i in range(args.agents)]
        print(f"enrolled {args.agents} nodes in {time.time() - t0:.1f}s", file=sys.stderr)
        agent_address = f"{client.address.rpartition(':')[0]}:{client.server_info().agent_port}"
        agents = Agents(identities, ca, agent_address, args.interval, args.processes)
        try:
            agents.wait_for("connected", args.agents, 300)
            print(f"{args.agents} agents connected after {time.time() - t0:.1f}s", file=sys.stderr)
            time.sleep(args.interval)  # let the heartbeats spread out
            rss_per_agent = (coordinator.memory_info().rss - baseline_rss) / args.agents
            beats_before = agents.counters()["heartbeats"]
            heartbeat_cpu = cpu_share(coordinator, 3 * args.interval)
            beats = agents.counters()["heartbeats"] - beats_before

            spec = RunSpec("bench", ("true",), snapshot, resources=Resources(cpus=0.1))
            runs_before, cpu_before = agents.counters()["runs"], cpu_seconds(coordinator)
            submitted, submit_elapsed = sustain(client, spec, args.rate, args.seconds)
            sustained_cpu = (cpu_seconds(coordinator) - cpu_before) / submit_elapsed
            runs = finished(client, agents, "bench", submitted, runs_before)
            burst_rate = burst(client, agents, spec, args.burst)
        finally:
            agents.stop()
    placed, pass_times = measure_scheduler(10_000, 1_000, 5)
    report(args, beats, heartbeat_cpu, rss_per_agent, submitted, submit_elapsed, sustained_cpu, runs, burst_rate)
    scheduler_rate = placed / sorted(pass_times)[len(pass_times) // 2]
    print_table(
        "the scheduler alone, in-process: one pass over 10,000 queued runs and 1,000 nodes (median of 5)",
        ["measure", "value", "target"],
        [
            [
                "placements/s",
                f"{scheduler_rate:,.0f} ({placed:,} placed)",
                f">= {SCHEDULER_TARGET:.0f} {_verdict(scheduler_rate >= SCHEDULER_TARGET)}",
            ]
        ],
    )
    return 0


def report(
    args: argparse.Namespace,
    beats: int,
    heartbeat_cpu: float,
    rss_per_agent: float,
    submitted: int,
    submit_elapsed: float,
    sustained_cpu: float,
    runs: list[Run],
    burst_rate: float,
) -> None:
    done = len(runs)
    last_finish = max((r.finished_at for r in runs), default=0.0)
    dispatch_elapsed = last_finish - min((r.created_at for r in runs), default=0.0)
    lag = last_finish - max((r.created_at for r in runs), default=0.0)
    kept_up = done == submitted and lag < 1.0
    print_table(
        f"{args.agents} simulated agents, heartbeat every {args.interval:g}s ({beats / (3 * args.interval):.0f}/s), "
        f"{args.rate} runs/s submitted for {args.seconds}s",
        ["measure", "value", "target"],
        [
            [
                "coordinator CPU, heartbeats only",
                f"{heartbeat_cpu * 100:.1f} % of one core",
                f"< {HEARTBEAT_CPU_TARGET:.0%} {_verdict(heartbeat_cpu < HEARTBEAT_CPU_TARGET)}",
            ],
            [
                "coordinator memory per agent",
                f"{rss_per_agent / 1e6:.2f} MB",
                f"< {MEMORY_TARGET / 1e6:g} MB {_verdict(rss_per_agent < MEMORY_TARGET)}",
            ],
            ["submission rate reached", f"{submitted / submit_elapsed:.0f} runs/s", f"{args.rate}"],
            [
                f"coordinator CPU while {args.rate} runs/s are submitted, placed and finished",
                f"{sustained_cpu * 100:.1f} % of one core",
                f"< {SUSTAINED_CPU_TARGET:.0%} {_verdict(sustained_cpu < SUSTAINED_CPU_TARGET)}",
            ],
            [
                "dispatch rate (first submitted -> last finished)",
                f"{done / dispatch_elapsed if dispatch_elapsed > 0 else 0:.0f} runs/s",
                f"kept up with {args.rate}/s: {'yes' if kept_up else 'NO'}",
            ],
            ["last run finished after its submission", f"{lag * 1000:.0f} ms", ""],
            ["runs finished", f"{done} of {submitted}", ""],
            [
                f"burst: {args.burst} runs submitted at once ({BURST_CLIENTS} clients), placed and finished",
                f"{burst_rate:.0f} runs/s = {burst_rate / BURST_TARGET:.2f}x the target",
                f">= {BURST_TARGET:.0f} {_verdict(burst_rate >= BURST_TARGET)}",
            ],
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
