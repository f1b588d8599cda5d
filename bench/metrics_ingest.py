#!/usr/bin/env python3
"""One run logs 1,000,000 metric points through kiln.track, end to end into the coordinator's store; in the
same script MLflow (a `mlflow server` with a SQLite backend on loopback) gets the same kind of points through
`log_metric` (a sample of >= 500 calls) and `log_batch` of 1,000. Prints points/s for each and the ratios.

Kiln's figure is measured from the run's start (as the coordinator recorded it) until every point is in
the store, so it covers the SDK, the agent's socket and spool, the stream and the coordinator's inserts.
Targets: >= 50,000 points/s end to end; >= 20x MLflow's log_batch.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import agent_process, coordinator_process, print_table  # noqa: E402
from kiln.core.runs import RunSpec  # noqa: E402
from kiln.sync.push import push  # noqa: E402

SCRIPT = """
import kiln.track as kt, sys
n = int(sys.argv[1])
for i in range(n):
    kt.log_metric("loss", 1.0 / (i + 1), step=i)
kt.flush(timeout=600)
"""


def kiln_rate(points: int, work: Path) -> float:
    with coordinator_process(work / "coordinator") as client:
        client.create_project("bench")
        with agent_process(client, work / "agent", "--runtime", "process"):
            (work / "src").mkdir()
            (work / "src" / "log.py").write_text(SCRIPT)
            snapshot = push(client, work / "src", "bench", "", work / "cache").snapshot.id
            run = client.submit_run(RunSpec("bench", (sys.executable, "log.py", str(points)), snapshot))
            while True:
                counts = {k: n for k, *_, n in client.run_record(run.id).metrics}  # the summary, not the series
                if counts.get("loss", 0) >= points:
                    stored_at = time.time()
                    break
                r = client.get_run(run.id)
                if r.state.terminal and str(r.state) != "succeeded":
                    raise SystemExit(f"run {r.state}: {r.reason}")
                time.sleep(0.05)
            r = client.get_run(run.id)
            return points / (stored_at - r.started_at)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mlflow_rates(work: Path, calls: int, batches: int) -> tuple[float, float]:
    try:
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise SystemExit("the peer is missing: pip install mlflow") from None
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{work}/mlflow.db",
            "--default-artifact-root",
            str(work / "art"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=2)
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("mlflow server did not come up") from None
                time.sleep(0.5)
        client = MlflowClient(url)
        run_id = client.create_run(client.create_experiment("bench")).info.run_id
        start = time.time()
        for i in range(calls):
            client.log_metric(run_id, "loss", 1.0 / (i + 1), step=i)
        single = calls / (time.time() - start)
        start = time.time()
        for b in range(batches):
            now = int(time.time() * 1000)
            client.log_batch(run_id, metrics=[Metric("batch", 1.0 / (i + 1), now, b * 1000 + i) for i in range(1000)])
        batched = batches * 1000 / (time.time() - start)
        return single, batched
    finally:
        server.terminate()
        server.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--mlflow-calls", type=int, default=500)
    parser.add_argument("--mlflow-batches", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kiln-bench-ingest-"))
    try:
        single, batched = mlflow_rates(work / "mlflow", args.mlflow_calls, args.mlflow_batches)
        kiln = kiln_rate(args.points, work / "kiln")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(
        f"metric ingest, {args.points:,} points through kiln.track; MLflow sampled in the same run",
        ["", "points/s", "kiln / this", "target"],
        [
            [
                "kiln.track -> agent -> coordinator store",
                f"{kiln:,.0f}",
                "1.0x",
                f">= 50,000 {'ok' if kiln >= 50_000 else 'MISSED'}",
            ],
            [f"MLflow log_metric ({args.mlflow_calls} calls)", f"{single:,.0f}", f"{kiln / single:,.0f}x", ""],
            [
                f"MLflow log_batch of 1,000 ({args.mlflow_batches} batches)",
                f"{batched:,.0f}",
                f"{kiln / batched:,.1f}x",
                f">= 20x {'ok' if kiln / batched >= 20 else 'MISSED'}",
            ],
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
