#!/usr/bin/env python3
"""The unmodified `mlflow` client against Kiln's MLflow-compatible REST API and against `mlflow server`, in
the same run: create_run latency, params, log_metric and log_batch points/s, artifact MB/s, and a
scikit-learn model logged, registered and loaded back.

Kiln: a coordinator process started with `--mlflow-listen 127.0.0.1:PORT` (HTTPS, the installation's CA),
tracking URI `https://127.0.0.1:PORT/projects/bench`, MLFLOW_TRACKING_TOKEN a Kiln API token and
MLFLOW_TRACKING_SERVER_CERT_PATH the CA. Peer: `mlflow server` as shipped (default workers) with a SQLite
backend and proxied artifacts (`--artifacts-destination`) on loopback, plain HTTP. The client workload runs
in a fresh child process per target (`bench/mlflow_api.py --client URI --out FILE`: the mlflow client
caches its session and credentials per process) and writes its figures as JSON; a step that fails on one
side is reported with its error and the rest go on.

Workload: ~50 create_run calls (MlflowClient, as mlflow.start_run does), 100 params in one log_batch,
10,000 points by log_metric (one call each, step=i), 10,000 by log_batch of 1,000, 20 artifacts of 1 MB
(log_artifact of files), mlflow.sklearn.log_model of a tiny LogisticRegression + register_model, and
mlflow.pyfunc.load_model("models:/NAME/VERSION") + predict. Each step's result is checked afterwards
(outside the timing): the params, the metric histories, the artifact listing and the predictions.

Targets: >= 10x MLflow's server on log_metric and log_batch points/s; create_run p50 < 10 ms; artifact
upload >= 200 MB/s on loopback. `--quick` is a small run (1,000 points, 10 runs, 5 artifacts) for a smoke test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import coordinator_process, print_table  # noqa: E402

TARGET_RATIO = 10.0
TARGET_START_RUN_MS = 10.0
TARGET_ARTIFACT_MB_S = 200.0
MODEL_NAME = "bench-lr"
CLIENT_TIMEOUT_S = 3600
BATCH = 1000
MB = 1 << 20


# ---------------------------------------------------------------- the client workload (a child per target)


def client_main(uri: str, out: Path, runs: int, points: int, artifacts: int) -> int:
    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    results: dict[str, dict[str, object]] = {}
    state: dict[str, object] = {"experiment": "0"}

    def step(name: str, fn: Callable[[], float], check: Callable[[], str] | None = None) -> None:
        try:
            results[name] = {"value": fn()}
        except Exception as e:  # a missing feature on one side is a figure of this bench, not a crash
            results[name] = {"error": _error_text(e)}
            print(f"step {name} failed:\n{traceback.format_exc()}", file=sys.stderr)
            return
        if check is not None:
            try:
                problem = check()
            except Exception as e:
                problem = f"check raised {_error_text(e)}"
            if problem:
                results[name]["check"] = problem

    def experiment() -> float:
        t0 = time.perf_counter()  # also the connection's warm-up
        found = client.get_experiment_by_name("bench")
        state["experiment"] = found.experiment_id if found else client.create_experiment("bench")
        return time.perf_counter() - t0

    def start_runs() -> float:
        latencies, ids = [], []
        for i in range(runs):
            t0 = time.perf_counter()
            run = client.create_run(str(state["experiment"]), run_name=f"bench-{i}")
            latencies.append(time.perf_counter() - t0)
            ids.append(run.info.run_id)
        state["run"], state["others"] = ids[0], ids[1:]  # the first is the one the rest of the workload logs into
        return statistics.median(latencies) * 1000

    def params() -> float:
        batch = [Param(f"p{i}", str(i)) for i in range(100)]
        t0 = time.perf_counter()
        client.log_batch(str(state["run"]), params=batch)
        return (time.perf_counter() - t0) * 1000

    def check_params() -> str:
        got = client.get_run(str(state["run"])).data.params
        return "" if len(got) == 100 and got.get("p42") == "42" else f"{len(got)} params read back, not 100"

    def log_metric() -> float:
        run_id = str(state["run"])
        t0 = time.perf_counter()
        for i in range(points):
            client.log_metric(run_id, "loss", 1.0 / (i + 1), step=i)
        return points / (time.perf_counter() - t0)

    def log_batch() -> float:
        run_id = str(state["run"])
        now = int(time.time() * 1000)
        batches = [
            [Metric("batch", 1.0 / (i + 1), now, b + i) for i in range(min(BATCH, points - b))]
            for b in range(0, points, BATCH)
        ]
        t0 = time.perf_counter()
        for metrics in batches:
            client.log_batch(run_id, metrics=metrics)
        return points / (time.perf_counter() - t0)

    def check_history(key: str) -> Callable[[], str]:
        def check() -> str:
            history = client.get_metric_history(str(state["run"]), key)
            steps = {m.step for m in history}
            if len(history) != points or steps != set(range(points)):
                return f"{len(history)} points ({len(steps)} steps) of {key!r} read back, not {points}"
            return ""

        return check

    blobs = Path(tempfile.mkdtemp(prefix="kiln-bench-mlflow-blobs-"))
    files = []
    for i in range(artifacts):
        files.append(blobs / f"blob-{i:02d}.bin")
        files[-1].write_bytes(os.urandom(MB))

    def log_artifacts() -> float:
        run_id = str(state["run"])
        t0 = time.perf_counter()
        for f in files:
            client.log_artifact(run_id, str(f), "blobs")
        return artifacts / (time.perf_counter() - t0)  # files of 1 MB

    def check_artifacts() -> str:
        listed = client.list_artifacts(str(state["run"]), "blobs")
        sizes = sorted(a.file_size or 0 for a in listed)
        return "" if sizes == [MB] * artifacts else f"listing has {len(listed)} files of sizes {sizes[:3]}..."

    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] - x[:, 1] > 0).astype(int)
    model = LogisticRegression().fit(x, y)

    def register() -> float:
        import mlflow.sklearn

        t0 = time.perf_counter()
        with mlflow.start_run(experiment_id=str(state["experiment"])):
            # explicit requirements: inferring them loads the model in a subprocess, client time either way
            info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        version = mlflow.register_model(info.model_uri, MODEL_NAME)
        state["version"] = version.version
        return time.perf_counter() - t0

    def load() -> float:
        import mlflow.pyfunc

        t0 = time.perf_counter()
        loaded = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{state.get('version', 1)}")
        state["predicted"] = np.asarray(loaded.predict(x[:10])).tolist()
        return time.perf_counter() - t0

    def check_predictions() -> str:
        want = model.predict(x[:10]).tolist()
        return "" if state["predicted"] == want else f"predictions {state['predicted']} != {want}"

    try:
        step("experiment", experiment)
        step("start_run", start_runs)
        step("params", params, check_params)
        step("log_metric", log_metric, check_history("loss"))
        step("log_batch", log_batch, check_history("batch"))
        step("artifacts", log_artifacts, check_artifacts)
        step("register", register)
        step("load", load, check_predictions)
        if "run" in state:  # housekeeping, untimed: a failure here is listed, not a figure

            def terminate() -> float:
                for run_id in [state["run"], *state["others"]]:  # type: ignore[misc]
                    client.set_terminated(str(run_id))
                return 1.0

            step("set_terminated", terminate)
    finally:
        shutil.rmtree(blobs, ignore_errors=True)
        out.write_text(json.dumps(results))
    return 0


def _error_text(e: BaseException) -> str:
    text = " ".join(str(e).split()) or "(no message)"
    return f"{type(e).__name__}: {text}"


# ---------------------------------------------------------------- the two targets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)  # the benchmark's own polling, not a measured interval


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def run_client(uri: str, env: dict[str, str], work: Path, sizes: list[str]) -> dict[str, dict[str, object]]:
    """The workload in a fresh child process against `uri`: its figures, or every step failed with why."""
    out, log = work / "figures.json", work / "client.log"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    child_env.update(
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",  # a retried request would hide in the timings; fail instead
        MLFLOW_HTTP_REQUEST_TIMEOUT="120",
        MLFLOW_ENABLE_ASYNC_LOGGING="false",
        GIT_PYTHON_REFRESH="quiet",
        **env,
    )
    cmd = [sys.executable, str(Path(__file__).resolve()), "--client", uri, "--out", str(out), *sizes]
    try:
        with log.open("w") as f:
            rc = subprocess.run(
                cmd, env=child_env, stdout=f, stderr=subprocess.STDOUT, timeout=CLIENT_TIMEOUT_S
            ).returncode
    except subprocess.TimeoutExpired:
        rc = -1
    if out.exists():
        return json.loads(out.read_text())
    tail = " ".join(log.read_text(errors="replace").split()[-40:])
    return {"experiment": {"error": f"client process exited {rc} without figures: {tail}"}}


def mlflow_figures(work: Path, sizes: list[str]) -> dict[str, dict[str, object]]:
    work.mkdir(parents=True)
    port = free_port()
    server_log = (work / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{work}/mlflow.db",
         "--artifacts-destination", str(work / "artifacts"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=server_log,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"},  # its uvicorn
    )  # fmt: skip

    def healthy() -> bool:
        if server.poll() is not None:
            raise RuntimeError(f"mlflow server exited {server.returncode}: see {work / 'server.log'}")
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200
        except OSError:
            return False

    try:
        wait_until(healthy, 180, "mlflow server")
        return run_client(f"http://127.0.0.1:{port}", {}, work, sizes)
    except Exception as e:
        return {"experiment": {"error": f"mlflow server: {_error_text(e)}"}}
    finally:
        server.terminate()
        server.wait(30)
        server_log.close()


def kiln_figures(work: Path, sizes: list[str]) -> dict[str, dict[str, object]]:
    work.mkdir(parents=True)
    port = free_port()
    data = work / "coordinator"
    try:
        with coordinator_process(data, "--mlflow-listen", f"127.0.0.1:{port}") as client:
            client.create_project("bench")
            token = client.create_token("bench-mlflow")[0]
            ca = data / "pki" / "ca.pem"
            if not ca.exists():
                from kiln.pinning import presented_ca

                ca = work / "ca.pem"
                ca.write_bytes(presented_ca(client.address).pem)
            wait_until(lambda: port_open(port), 30, f"the MLflow listener on 127.0.0.1:{port}")
            env = {"MLFLOW_TRACKING_TOKEN": token, "MLFLOW_TRACKING_SERVER_CERT_PATH": str(ca)}
            return run_client(f"https://127.0.0.1:{port}/projects/bench", env, work, sizes)
    except Exception as e:
        return {"experiment": {"error": f"kiln coordinator --mlflow-listen: {_error_text(e)}"}}


# ---------------------------------------------------------------- the table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 points, 10 runs, 5 artifacts: a smoke test")
    parser.add_argument("--runs", type=int, help="create_run calls timed (default 50)")
    parser.add_argument("--points", type=int, help="metric points per way of logging (default 10,000)")
    parser.add_argument("--artifacts", type=int, help="1 MB artifacts uploaded (default 20)")
    parser.add_argument("--only", choices=["kiln", "mlflow"], help="run one target alone (no ratios)")
    parser.add_argument("--client", metavar="URI", help=argparse.SUPPRESS)  # the child: run the workload
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    runs = args.runs or (10 if args.quick else 50)
    points = args.points or (1000 if args.quick else 10_000)
    artifacts = args.artifacts or (5 if args.quick else 20)
    if args.client:
        return client_main(args.client, args.out, runs, points, artifacts)

    sizes = ["--runs", str(runs), "--points", str(points), "--artifacts", str(artifacts)]
    tmp = Path(tempfile.mkdtemp(prefix="kiln-bench-mlflow-api-"))
    try:
        peer = mlflow_figures(tmp / "mlflow", sizes) if args.only != "kiln" else {}
        kiln = kiln_figures(tmp / "kiln", sizes) if args.only != "mlflow" else {}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rows: list[list[object]] = []
    steps = ("start_run", "params", "log_metric", "log_batch", "artifacts", "register", "load")
    notes = [f"{side} experiment: {r['experiment']['error']}" for side, r in (("kiln", kiln), ("mlflow", peer))
             if "error" in r.get("experiment", {})]  # fmt: skip
    for key, what, unit, faster, target in (
        ("start_run", f"create_run p50, {runs} runs", "ms", "lower", ("<", TARGET_START_RUN_MS, "ms")),
        ("params", "log_batch of 100 params", "ms", "lower", None),
        ("log_metric", f"log_metric, {points:,} calls", "points/s", "higher", (">=x", TARGET_RATIO, "")),
        ("log_batch", f"log_batch, {points:,} points / {BATCH:,}", "points/s", "higher", (">=x", TARGET_RATIO, "")),
        ("artifacts", f"log_artifact, {artifacts} x 1 MB", "MB/s", "higher", (">=", TARGET_ARTIFACT_MB_S, "MB/s")),
        ("register", "sklearn log_model + register_model", "s", "lower", None),
        ("load", "pyfunc load_model models:/ + predict", "s", "lower", None),
    ):
        k, p = _figure(kiln, key), _figure(peer, key)
        for side, results in (("kiln", kiln), ("mlflow", peer)):
            r = _result(results, key)
            if key in results and ("error" in r or "check" in r):
                notes.append(f"{side} {key}: {r.get('error') or 'wrong result: ' + str(r['check'])}")
        ratio = (k / p if faster == "higher" else p / k) if k and p else None
        met = "-"
        if target is not None:
            op, want, _ = target
            if op == ">=x":
                met = _yes(ratio is not None and ratio >= want)
            elif op == "<":
                met = _yes(k is not None and k < want)
            else:
                met = _yes(k is not None and k >= want)
        rows.append([
            what, unit, _cell(kiln, key), _cell(peer, key), f"{ratio:,.1f}x" if ratio else "-",
            _target_text(target), met,
        ])  # fmt: skip
    notes += [f"{side} {key}: {r[key]['error']}" for side, r in (("kiln", kiln), ("mlflow", peer))
              for key in r if key not in ("experiment", *steps) and "error" in r[key]]  # fmt: skip
    print_table(
        "MLflow client 3.x against Kiln (--mlflow-listen, HTTPS, token) and mlflow server (SQLite, proxied "
        "artifacts, HTTP), same run; ratio = how many times faster Kiln is",
        ["STEP", "UNIT", "KILN", "MLFLOW SERVER", "RATIO", "TARGET", "MET"],
        rows,
    )
    if notes:
        print("\nFailed steps (error text):")
        for note in notes:
            print(f"  {note}")
    return 0


def _result(results: dict[str, dict[str, object]], key: str) -> dict[str, object]:
    if not results:
        return {"error": "not run (--only)"}
    if key in results:
        return results[key]
    first = next(iter(results.values()), {})  # the child never got this far: its first error says why
    return {"error": f"not run ({first.get('error', 'no figures')})"} if "error" in first else {"error": "not run"}


def _figure(results: dict[str, dict[str, object]], key: str) -> float | None:
    r = _result(results, key)
    value = r.get("value")
    return float(value) if isinstance(value, (int, float)) and "check" not in r and value > 0 else None


def _cell(results: dict[str, dict[str, object]], key: str) -> str:
    r = _result(results, key)
    if not results:
        return "-"
    if "error" in r:
        text = str(r["error"])
        return "ERROR " + (text if len(text) <= 48 else text[:45] + "...")
    value = float(r["value"])  # type: ignore[arg-type]
    shown = f"{value:,.0f}" if value >= 100 else f"{value:.2f}" if value >= 1 else f"{value:.3f}"
    return shown + (" (WRONG RESULT)" if "check" in r else "")


def _target_text(target: tuple[str, float, str] | None) -> str:
    if target is None:
        return "-"
    op, want, unit = target
    return f">= {want:g}x MLflow" if op == ">=x" else f"{op} {want:g} {unit}"


def _yes(ok: bool) -> str:
    return "yes" if ok else "no"


if __name__ == "__main__":
    raise SystemExit(main())
