#!/usr/bin/env python3
"""Search and lineage at scale: 1,000,000 runs with params and metrics in the store, a three-condition
filter with a sort answered through the real coordinator; lineage ancestors to depth 10 in a graph of
1,000,000 edges. Targets: search < 1 s; lineage < 100 ms.

There is no peer in this script: the targets are absolute. The data is written straight into the store in
bulk (as a year of use would leave it), then queried through gRPC like any client.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiln.client import Client  # noqa: E402
from kiln.coordinator.context import CoordinatorConfig  # noqa: E402
from kiln.coordinator.server import start_in_thread  # noqa: E402
from kiln.coordinator.store import SqliteStore  # noqa: E402
from kiln.core import lineage  # noqa: E402

PASSWORD = "bench-admin-password"
SPEC = json.dumps(
    {
        "project": "bench",
        "command": ["python", "train.py"],
        "snapshot": "",
        "image": "",
        "runtime": "",
        "resources": {"cpus": 1.0, "memory_bytes": 0, "gpus": 0, "gpu_model": ""},
        "priority": "normal",
        "node_labels": {},
        "retries": 0,
        "env": {},
        "network": "none",
        "datasets": [],
        "parent_run": "",
    }
)


def fill_runs(store: SqliteStore, count: int) -> None:
    rng = random.Random(7)
    conn = store.db.conn
    with store.transaction():
        conn.execute(
            "INSERT INTO projects (name, description, created_by, created_at) VALUES ('bench', '', 'admin', 0)"
        )
        conn.execute("INSERT INTO members (project, user, role) VALUES ('bench', 'admin', 'owner')")
    for start in range(0, count, 100_000):
        runs, params, metrics = [], [], []
        for i in range(start, min(count, start + 100_000)):
            run_id = f"r-{i:012x}"
            runs.append((run_id, "bench", "admin", SPEC, "succeeded", 1, 1_700_000_000 + i))
            lr = rng.choice([0.0001, 0.001, 0.003, 0.01, 0.03, 0.1])
            params += [(run_id, "lr", str(lr), lr), (run_id, "optimizer", rng.choice(["adam", "sgd"]), None)]
            acc = rng.random()
            metrics += [(run_id, "acc", 99, acc, acc * 0.5, acc, 100), (run_id, "loss", 99, 1 - acc, 1 - acc, 1.0, 100)]
        with store.transaction():
            conn.executemany(
                "INSERT INTO runs (id, project, user, spec_json, state, priority, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                runs,
            )
            conn.executemany("INSERT INTO run_params (run_id, key, value, value_num) VALUES (?, ?, ?, ?)", params)
            conn.executemany(
                "INSERT INTO metric_summary (run_id, key, last_step, last_value, min_value, max_value, "
                "points) VALUES (?, ?, ?, ?, ?, ?, ?)",
                metrics,
            )
    store.db.conn.execute("ANALYZE")


def fill_lineage(store: SqliteStore, count: int) -> str:
    """Chains of 20 runs (snapshot -> run -> snapshot -> ...), plus dataset inputs: `count` edges. The runs
    are real rows, so the coordinator can check each entity it shows."""
    edges, runs, made, chain = [], [], 0, 0
    snapshots: dict[str, float] = {}  # id -> birth: lineage follows only edges from older to younger
    deepest = ""
    while made < count:
        previous = lineage.snapshot_id(f"{chain:08x}" + "0" * 56)
        snapshots[previous] = 1_600_000_000 + made - 0.5
        for step in range(20):
            run_name = f"r-c{chain:07x}s{step:02d}"
            runs.append((run_name, "bench", "admin", SPEC, "succeeded", 1, 1_600_000_000 + made))
            run = lineage.run_id(run_name)
            out = lineage.snapshot_id(f"{chain:08x}{step + 1:08x}" + "0" * 48)
            snapshots[out] = 1_600_000_000 + made + 0.5  # after the run that made it
            edges += [
                (previous, run, "input", 0.0),
                (run, out, "output", 0.0),
                (lineage.dataset_id("bench", f"d{chain % 100}", 1), run, "input", 0.0),
            ]
            previous = out
            made += 3
            deepest = run
        chain += 1
    with store.transaction():
        store.db.conn.executemany("INSERT OR IGNORE INTO lineage (src, dst, relation, time) VALUES (?, ?, ?, ?)", edges)
        store.db.conn.executemany(
            "INSERT INTO runs (id, project, user, spec_json, state, priority, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            runs,
        )
        empty = zlib.compress(b"[]")
        store.db.conn.executemany(
            "INSERT INTO snapshots (project, id, author, created_at, files, bytes, manifest) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [("bench", s.partition(":")[2], "admin", at, 0, 0, empty) for s, at in snapshots.items()],
        )
        store.db.conn.executemany(
            "INSERT INTO datasets (project, name, version, snapshot, created_by, created_at) VALUES (?, ?, 1, ?, ?, 0)",
            [("bench", f"d{i}", "0" * 64, "admin") for i in range(100)],
        )
    return deepest


def timed(call, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=1_000_000)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="kiln-bench-search-"))
    config = CoordinatorConfig(data, listen="127.0.0.1:0", admin_password=PASSWORD)
    start_in_thread(config).stop()  # creates the data folder, schema and admin
    store = SqliteStore(data / "kiln.db")
    t = time.time()
    fill_runs(store, args.runs)
    deepest = fill_lineage(store, args.edges)
    store.close()
    print(f"filled {args.runs:,} runs and {args.edges:,} edges in {time.time() - t:.0f}s", file=sys.stderr)
    rc = start_in_thread(config)
    try:
        with Client(rc.address, rc.ctx.tls.ca_pem) as anonymous:
            token = anonymous.login("admin", PASSWORD)[0]
        with Client(rc.address, rc.ctx.tls.ca_pem, token, timeout=600) as client:
            query = "params.lr >= 0.01 and params.optimizer = adam and metrics.acc > 0.9"
            found = client.search_runs("bench", query, "-metrics.acc", 100)
            search_s = timed(lambda: client.search_runs("bench", query, "-metrics.acc", 100))
            assert found and all(found[i].id for i in range(len(found)))
            graph = client.lineage(deepest, "up", 10)
            lineage_s = timed(lambda: client.lineage(deepest, "up", 10))
    finally:
        rc.stop()
    print(f"\nsearch and lineage over {args.runs:,} runs and {args.edges:,} lineage edges (median of 5, via gRPC)")
    print(
        f"{'filter (3 conditions) + sort, top 100':44s} {search_s * 1000:8.1f} ms   target < 1000 ms "
        f"{'ok' if search_s < 1 else 'MISSED'}   ({len(found)} runs: {query!r})"
    )
    print(
        f"{'lineage ancestors to depth 10':44s} {lineage_s * 1000:8.1f} ms   target < 100 ms "
        f"{'ok' if lineage_s < 0.1 else 'MISSED'}   ({len(graph.nodes)} nodes, {len(graph.edges)} edges)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
