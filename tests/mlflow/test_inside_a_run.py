"""MLflow inside a Kiln run: the agent gives the run its project's tracking URI, its own run id, a token
of that run alone and the installation's CA, so unchanged MLflow code logs into the run itself."""

from __future__ import annotations

import sys
from pathlib import Path

from kiln.core.runs import Resources, RunSpec
from tests.compute.conftest import push_folder, running_cluster

TRAIN = """\
import mlflow
from mlflow.exceptions import MlflowException

with mlflow.start_run() as run:  # attaches to the Kiln run (MLFLOW_RUN_ID)
    mlflow.log_param("via", "mlflow")
    mlflow.log_metric("acc", 0.97)
    print("attached", run.info.run_id)
client = mlflow.MlflowClient()
for name, call in (("create", lambda: client.create_run("0")), ("other", lambda: client.log_param(OTHER, "x", "1"))):
    try:
        call()
        print(name, "allowed")
    except MlflowException as e:
        print(name, e.error_code)
"""


def test_mlflow_code_in_a_kiln_run_logs_into_that_run_and_no_other(tmp_path: Path) -> None:
    with running_cluster(tmp_path, mlflow_listen="127.0.0.1:0") as cluster:
        cluster.agent("n1")
        other = cluster.admin.submit_run(RunSpec("p", ("true",), runtime="process", resources=Resources(0.1)))
        cluster.wait_run(other.id)
        snap = push_folder(cluster, {"train.py": TRAIN.replace("OTHER", repr(other.id))})
        spec = RunSpec(
            "p",
            (sys.executable, "train.py"),
            snap,
            runtime="process",
            resources=Resources(0.5),
            env={"MLFLOW_DISABLE_TELEMETRY": "true"},  # the client would ask an internet host otherwise
            network="host",  # to reach the coordinator's MLflow API
        )
        run = cluster.admin.submit_run(spec)
        done = cluster.wait_run(run.id, timeout=120)
        out = cluster.output(run.id)
        assert str(done.state) == "succeeded", out + done.reason
        assert f"attached {run.id}" in out
        assert "create PERMISSION_DENIED" in out and "other PERMISSION_DENIED" in out, out
        record = cluster.admin.run_record(run.id)
        assert record.params["via"] == "mlflow" and [k for k, *_ in record.metrics] == ["acc"]
        assert "MLFLOW_TRACKING_TOKEN" not in cluster.admin.get_run(run.id).spec.env  # never in its record
