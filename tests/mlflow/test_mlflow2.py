"""The oldest MLflow 2.x client Kiln supports (2.9.2, pinned in mlflow2-requirements.txt), in an environment
of its own built by scripts/setup-test-host, against the same real coordinator: runs, batches, searches,
a model logged, registered, aliased and loaded back, and the error codes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import need
from tests.mlflow.conftest import Tracking

ENV = Path(os.environ.get("KILN_TEST_MLFLOW2", Path.home() / ".cache" / "kiln-test" / "mlflow2"))
CLIENT = Path(__file__).with_name("mlflow2_client.py")


def test_the_mlflow_2_client_logs_registers_and_loads(tracking: Tracking) -> None:
    python = ENV / "bin" / "python"
    need(python.is_file(), f"the MLflow 2 client's environment at {ENV} (scripts/setup-test-host builds it)")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "MLFLOW_TRACKING_URI": tracking.uri,
        "MLFLOW_TRACKING_TOKEN": tracking.token,
        "MLFLOW_TRACKING_SERVER_CERT_PATH": str(tracking.ca),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    done = subprocess.run([str(python), str(CLIENT)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    said = {d["step"]: d for d in map(json.loads, done.stdout.splitlines())}
    assert said["run"] == {"step": "run", "status": "FINISHED", "params": 151, "history": 30}
    assert said["search"]["rows"] == 1
    assert said["model"] == {"step": "model", "version": "1", "same": True}
    assert said["unknown run"]["code"] == "RESOURCE_DOES_NOT_EXIST"
    assert said["bad filter"]["code"] == "INVALID_PARAMETER_VALUE"
    assert said["production"]["code"] == "PERMISSION_DENIED" and "approval" in said["production"]["message"]
    run_id = said["search"]["run"]
    assert str(tracking.admin.get_run(run_id).state) == "succeeded"
