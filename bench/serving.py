#!/usr/bin/env python3
"""Model serving: requests/s and latency through Kiln's gateway beside `mlflow models serve` of the same
model, what the prediction ledger's capture costs, how fast a weight change reaches routing, and batch
scoring's rows/s.

The model: a 10-feature scikit-learn logistic regression, trained by a real Kiln run (process runtime)
and registered; the same training code and seed make the MLflow copy. Kiln: a coordinator process with
its gateway (HTTPS, the installation's CA) and an agent process running one replica. MLflow: `mlflow
models serve --env-manager local` (plain HTTP). Clients: 1 and 8 keep-alive connections (threads with
http.client), 1-row requests in `inputs` and `dataframe_split` JSON.

Targets (issue 15): >= 3x MLflow's requests/s on `inputs` and >= 10x on `dataframe_split`; p50 <= 3 ms;
capture adding <= 0.3 ms at p50; a weight change routed within 1 s; batch scoring >= 1M rows/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import agent_process, coordinator_process, print_table, succeeded  # noqa: E402
from kiln.client import Client  # noqa: E402
from kiln.core.deployments import MODEL_VERSION_HEADER, Split  # noqa: E402
from kiln.core.runs import Resources, RunSpec  # noqa: E402
from kiln.pinning import presented_ca  # noqa: E402
from kiln.sync.push import push  # noqa: E402

TRAIN = """
import os, sys
import joblib, numpy as np
from sklearn.linear_model import LogisticRegression
rng = np.random.default_rng(int(sys.argv[1]))
X = rng.normal(size=(2000, 10))
y = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] > 0).astype(int)
model = LogisticRegression().fit(X, y)
out = sys.argv[2] if len(sys.argv) > 2 else "model"
os.makedirs(out, exist_ok=True)
joblib.dump(model, os.path.join(out, "model.joblib"))
"""
COLUMNS = [f"x{i}" for i in range(10)]
ROW = [0.12, -0.5, 1.3, 0.0, 0.7, -1.1, 0.25, 0.9, -0.3, 0.05]
BODIES = {
    "inputs": json.dumps({"inputs": [ROW]}).encode(),
    "dataframe_split": json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [ROW]}}).encode(),
}
TARGET_INPUTS_RATIO = 3.0
TARGET_SPLIT_RATIO = 10.0
TARGET_P50_MS = 3.0
TARGET_CAPTURE_MS = 0.3
TARGET_SWITCH_S = 1.0
TARGET_BATCH_ROWS_S = 1_000_000


class Target:
    """Where a load generator sends its requests: host, port, path, TLS, headers."""

    def __init__(self, url: str, path: str, token: str = "", ca: str = "") -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, path
        self.context = ssl.create_default_context(cafile=ca) if parts.scheme == "https" else None
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def connect(self) -> http.client.HTTPConnection:
        if self.context is not None:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(self.host, self.port, context=self.context)
        else:
            conn = http.client.HTTPConnection(self.host, self.port)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn


def load(target: Target, body: bytes, clients: int, seconds: float) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, failures) of `clients` keep-alive connections for `seconds`."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(i: int) -> None:
        conn = target.connect()
        for _ in range(20):  # warm the connection and the replica
            conn.request("POST", target.path, body, target.headers)
            conn.getresponse().read()
        start.wait()
        mine = latencies[i]
        while (t0 := time.perf_counter()) < deadline[0]:
            conn.request("POST", target.path, body, target.headers)
            r = conn.getresponse()
            r.read()
            mine.append(time.perf_counter() - t0)
            if r.status != 200:
                failures[i] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds + 0.05
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    took = time.perf_counter() - began
    every = sorted(x for xs in latencies for x in xs)
    p50 = statistics.median(every) * 1000
    p99 = every[min(len(every) - 1, int(len(every) * 0.99))] * 1000
    return len(every) / took, p50, p99, sum(failures)


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)  # the benchmark's own polling, not a measured interval


def ready(client: Client, name: str, version: int) -> None:
    def serving() -> bool:
        d = client.get_deployment(name)
        return any(s.version == version for s in d.serving) and any(r.ready for r in d.replica_list)

    wait_for(serving, 120, f"endpoint {name}")


def mlflow_serve(model_dir: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model_dir), "-h", "127.0.0.1", "-p", str(port),
         "--env-manager", "local"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "MLFLOW_TRACKING_URI": "file:///tmp/mlruns-bench",
             "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"},  # its uvicorn
    )  # fmt: skip

    def up() -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/ping")
            return conn.getresponse().status == 200
        except OSError:
            return False

    wait_for(up, 120, "mlflow models serve")
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def switch_time(client: Client, target: Target, name: str, versions: tuple[int, int], rounds: int) -> list[float]:
    """Seconds from SetTraffic's answer to the first request the new version answers, each way in turn."""
    conn = target.connect()
    times = []
    for i in range(rounds):
        new, old = (versions[1], versions[0]) if i % 2 == 0 else versions
        client.set_traffic(name, (Split(new, 100), Split(old, 0, shadow=True)), follow_alias=False)
        changed = time.perf_counter()
        while True:
            conn.request("POST", target.path, BODIES["inputs"], target.headers)
            r = conn.getresponse()
            r.read()
            if r.getheader(MODEL_VERSION_HEADER) == str(new):
                times.append(time.perf_counter() - changed)
                break
    conn.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement (default 3)")
    parser.add_argument("--batch-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kiln-bench-serving-"))
    with coordinator_process(tmp / "coordinator", "--gateway-listen", "127.0.0.1:0") as client:
        ca = tmp / "ca.pem"
        ca.write_bytes(presented_ca(client.address).pem)
        with agent_process(client, tmp / "agent", "--runtime", "process"):
            client.create_project("bench")
            (tmp / "src").mkdir()
            (tmp / "src" / "train.py").write_text(TRAIN)
            snap = push(client, tmp / "src", "bench", "", tmp / "cache").snapshot.id
            versions = []
            for seed in (1, 2):
                spec = RunSpec("bench", (sys.executable, "train.py", str(seed)), snap, runtime="process")
                versions.append(client.register_model(succeeded(client, spec).id, "model", "lr").version)
            subprocess.run([sys.executable, "-c", TRAIN, "1", str(tmp / "local")], check=True)
            token = client.create_token("bench")[0]
            for name, rate in (("lr", 1.0), ("lr-nocapture", 1e-9)):
                client.create_deployment(
                    "bench", name, "lr", version=versions[0], resources=Resources(1.0), sample_rate=rate
                )
            for name in ("lr", "lr-nocapture"):
                ready(client, name, versions[0])
            url = client.get_deployment("lr").url.rsplit("/endpoints/", 1)[0]
            time.sleep(1.0)  # the gateway's route poll (0.25 s) has the replicas: the figures start from a steady state

            mlflow_dir = tmp / "mlflow-model"
            import joblib
            import mlflow.sklearn

            mlflow.sklearn.save_model(joblib.load(tmp / "local" / "model.joblib"), str(mlflow_dir))
            port = free_port()
            peer = mlflow_serve(mlflow_dir, port)
            try:
                rows, figures = _serving_rows(url, token, str(ca), port, args.seconds)
            finally:
                peer.terminate()
                peer.wait(30)
            print_table(
                "Serving, 1-row requests (figure: Kiln gateway + replica, 100% capture; peer: mlflow models serve)",
                ["FORMAT", "CLIENTS", "KILN REQ/S", "P50 MS", "P99 MS", "MLFLOW REQ/S", "P50 MS", "RATIO", "TARGET",
                 "MET"],
                rows,
            )  # fmt: skip
            capture = figures["capture"] - figures["nocapture"]
            print_table("Ledger capture, inputs, 1 client",
                        ["WITH CAPTURE P50 MS", "WITHOUT P50 MS", "ADDED MS", "TARGET", "MET"],
                        [[f"{figures['capture']:.3f}", f"{figures['nocapture']:.3f}", f"{capture:.3f}",
                          f"<= {TARGET_CAPTURE_MS}", "yes" if capture <= TARGET_CAPTURE_MS else "no"]])  # fmt: skip

            client.stop_deployment("lr-nocapture")
            target = Target(url, "/endpoints/lr/invocations", token, str(ca))
            client.set_traffic("lr", (Split(versions[0], 100), Split(versions[1], 0, shadow=True)), follow_alias=False)
            ready(client, "lr", versions[1])
            time.sleep(1.0)
            switches = switch_time(client, target, "lr", (versions[0], versions[1]), 6)
            print_table("A weight change reaching routing (SetTraffic answered -> first answer of the new version)",
                        ["ROUNDS", "MEDIAN S", "MAX S", "PEER (ClearML Serving, documented)", "TARGET", "MET"],
                        [[len(switches), f"{statistics.median(switches):.3f}", f"{max(switches):.3f}", "up to 300 s",
                          f"<= {TARGET_SWITCH_S} s", "yes" if max(switches) <= TARGET_SWITCH_S else "no"]])  # fmt: skip

            _batch(client, tmp, versions[0], args.batch_rows)
            _stop_all(client)  # a replica outlives its agent by design: end them before the agent goes
    return 0


def _stop_all(client: Client) -> None:
    for d in client.list_deployments():
        if d.state == "active":
            client.stop_deployment(d.name)
    wait_for(lambda: not any(d.replica_list for d in client.list_deployments()), 60, "the replicas to end")


def _serving_rows(
    url: str, token: str, ca: str, port: int, seconds: float
) -> tuple[list[list[object]], dict[str, float]]:
    rows: list[list[object]] = []
    figures: dict[str, float] = {}
    for fmt, body in BODIES.items():
        for clients in (1, 8):
            kiln = load(Target(url, "/endpoints/lr/invocations", token, ca), body, clients, seconds)
            peer = load(Target(f"http://127.0.0.1:{port}", "/invocations"), body, clients, seconds)
            if kiln[3] or peer[3]:
                raise SystemExit(f"failed requests: kiln {kiln[3]}, mlflow {peer[3]}")
            ratio = kiln[0] / peer[0]
            want = TARGET_INPUTS_RATIO if fmt == "inputs" else TARGET_SPLIT_RATIO
            met = ratio >= want and kiln[1] <= TARGET_P50_MS
            rows.append([fmt, clients, f"{kiln[0]:.0f}", f"{kiln[1]:.2f}", f"{kiln[2]:.2f}", f"{peer[0]:.0f}",
                         f"{peer[1]:.2f}", f"{ratio:.1f}x", f">= {want:g}x, p50 <= {TARGET_P50_MS:g} ms",
                         "yes" if met else "no"])  # fmt: skip
            if fmt == "inputs" and clients == 1:
                figures["capture"] = kiln[1]
                figures["nocapture"] = load(
                    Target(url, "/endpoints/lr-nocapture/invocations", token, ca), body, 1, seconds
                )[1]
    return rows, figures


def _batch(client: Client, tmp: Path, version: int, n: int) -> None:
    import joblib
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = np.random.default_rng(5).normal(size=(n, 10))
    client.stop_deployment("lr")  # its replicas' CPUs go to the scoring runs
    model = joblib.load(tmp / "local" / "model.joblib")
    t0 = time.perf_counter()
    model.predict(rows)
    alone = n / (time.perf_counter() - t0)
    table = []
    for kind in ("csv", "parquet"):
        data = tmp / f"data-{kind}"
        data.mkdir()
        if kind == "csv":
            with (data / "rows.csv").open("w") as f:
                f.write(",".join(COLUMNS) + "\n")
                np.savetxt(f, rows, delimiter=",", fmt="%.5f")
        else:
            pq.write_table(pa.table({c: rows[:, i] for i, c in enumerate(COLUMNS)}), data / "rows.parquet")
        snap = push(client, data, "bench", "", tmp / "cache").snapshot.id
        client.add_dataset_version("bench", f"rows-{kind}", snap)
        run = client.score_batch("bench", "lr", version, f"rows-{kind}", f"scores-{kind}", Resources(2.0))
        while not (done := client.get_run(run.id)).state.terminal:
            time.sleep(0.05)  # the benchmark's own polling; the figure is the scorer's own
        log = b"".join(c.data for c in client.read_logs(run.id)).decode()
        if str(done.state) != "succeeded":
            raise SystemExit(f"scoring run {run.id} {done.state}: {done.reason}\n{log}")
        rate = _rate(log)
        end_to_end = n / (done.finished_at - done.started_at) if done.finished_at > done.started_at else 0.0
        met = "yes" if rate >= TARGET_BATCH_ROWS_S else "no"
        table.append([kind, f"{n:,}", f"{rate:,.0f}", f"{end_to_end:,.0f}", f"{alone:,.0f}", f"{rate / alone:.2f}",
                      f">= {TARGET_BATCH_ROWS_S:,} rows/s", met])  # fmt: skip
    print_table(
        "Batch scoring, rows x 10 features (figure: the scoring run's own rate; peer: model.predict in memory)",
        ["INPUT", "ROWS", "SCORER ROWS/S", "RUN START->END ROWS/S", "PREDICT ALONE ROWS/S", "RATIO", "TARGET", "MET"],
        table,
    )


def _rate(log: str) -> float:
    """The scorer's own rows/s, from its summary line ("scored N rows of K file(s) in S s")."""
    found = re.search(r"scored ([\d,]+) rows of \d+ file\(s\) in ([\d.]+) s", log)
    if not found:
        raise SystemExit(f"the scoring run printed no summary:\n{log[-2000:]}")
    return int(found.group(1).replace(",", "")) / float(found.group(2))


if __name__ == "__main__":
    raise SystemExit(main())
