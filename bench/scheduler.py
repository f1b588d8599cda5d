#!/usr/bin/env python3
"""The scheduler alone, in-process: one pass of `kiln.core.scheduling.schedule` over 10,000 queued runs and
1,000 nodes, timed several times (median). The mix is a cluster's: mostly CPU nodes, a tenth with 8 GPUs,
two zones; runs of several sizes from 20 users at two priorities, a tenth asking for GPUs (more than there
are, so some wait), some pinned to a zone, some with an environment a few nodes hold.

Target: the pass places runs at >= 400 placements/s even at this size, so a scheduling pass is never what
holds a burst back (the cluster-wide burst target of bench/agents_scale.py).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, print_table  # noqa: E402
from kiln.core.models import GpuInfo  # noqa: E402
from kiln.core.runs import Resources  # noqa: E402
from kiln.core.scheduling import NodeView, Pending, schedule  # noqa: E402

TARGET = 400.0  # placements/s
ENVIRONMENTS = [f"{i:064x}" for i in range(1, 6)]


def cluster(count: int, rng: random.Random) -> list[NodeView]:
    nodes = []
    for i in range(count):
        a100 = (GpuInfo(f"GPU-{i}-{g}", "NVIDIA A100-SXM4-80GB", 80 << 30) for g in range(8))
        gpus = tuple(a100) if i % 10 == 0 else ()
        nodes.append(
            NodeView(
                f"node{i:04d}",
                96 if gpus else 64,
                (512 if gpus else 256) << 30,
                gpus,
                labels={"zone": "ab"[i % 2]},
                runtimes=frozenset({"process", "docker"}),
                used_cpus=rng.choice([0, 8, 32]),
                environments=frozenset(e for e in ENVIRONMENTS if rng.random() < 0.05),
            )
        )
    return nodes


def queue(count: int, rng: random.Random) -> list[Pending]:
    runs = []
    for i in range(count):
        gpus = rng.choice([1, 2, 4]) if i % 10 == 0 else 0
        resources = Resources(rng.choice([0.5, 1, 2, 4]), rng.choice([1, 4, 16]) << 30, gpus)
        runs.append(
            Pending(
                f"r-{i:08x}",
                f"user{rng.randrange(20)}",
                rng.choice([1, 1, 1, 2]),
                1_000_000.0 + i / 100,
                resources,
                image="python:3.12" if i % 7 == 0 else "",
                node_labels={"zone": "a"} if i % 5 == 0 else {},
                environment=rng.choice(ENVIRONMENTS) if i % 4 == 0 else "",
            )
        )
    return runs


def measure(run_count: int, node_count: int, repeat: int) -> tuple[int, list[float]]:
    """Runs placed by one pass, and the seconds each of `repeat` passes took."""
    rng = random.Random(14)
    nodes, runs = cluster(node_count, rng), queue(run_count, rng)
    running = Counter({f"user{u}": rng.randrange(50) for u in range(20)})
    times, placed = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        placed = len(schedule(runs, nodes, running))
        times.append(time.perf_counter() - start)
    return placed, times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    placed, times = measure(args.runs, args.nodes, args.repeat)
    pass_s = median(times)
    rate = placed / pass_s
    print_table(
        f"one scheduling pass: {args.runs:,} queued runs, {args.nodes:,} nodes (median of {args.repeat})",
        ["measure", "value", "target"],
        [
            ["runs placed in the pass (the rest wait for room)", f"{placed:,} of {args.runs:,}", ""],
            ["time per pass", f"{pass_s * 1000:.0f} ms (min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})", ""],
            [
                "placements/s",
                f"{rate:,.0f}",
                f">= {TARGET:.0f}: {'ok' if rate >= TARGET else 'MISSED'} ({rate / TARGET:.0f}x the target)",
            ],
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
