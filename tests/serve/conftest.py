"""Fixtures for kiln.serve: real scikit-learn models trained here, model folders of every kind written
as users write them, and the replica started as a real subprocess on port 0, talked to over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from tests.conftest import wait_until

N_FEATURES = 10
NAMES = [f"x{i}" for i in range(N_FEATURES)]
START_TIMEOUT_S = 60.0


@dataclass
class Trained:
    X: Any  # numpy (200, 10)
    array_model: Any  # fitted on the array: no feature names
    frame_model: Any  # fitted on a DataFrame with columns x0..x9


@pytest.fixture(scope="session")
def trained() -> Trained:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, N_FEATURES))
    y = (X[:, 0] - 2 * X[:, 3] + X[:, 7] > 0).astype(int)
    return Trained(
        X,
        LogisticRegression().fit(X, y),
        LogisticRegression().fit(pd.DataFrame(X, columns=NAMES), y),
    )


def joblib_file(tmp_path: Path, model: Any, name: str = "model.joblib") -> Path:
    path = tmp_path / name
    joblib.dump(model, path)
    return path


def python_model(folder: Path, source: str) -> Path:
    """A plain Python model folder: model.py with load(path) and predict(model, inputs)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.py").write_text(textwrap.dedent(source))
    return folder


def mlflow_folder(folder: Path, model: Any, signature: list[dict[str, Any]] | None) -> Path:
    """An MLflow model folder as mlflow.sklearn.save_model lays it out: MLmodel (written by yaml.safe_dump,
    as mlflow does, so long values are folded over lines) and the model pickled."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "model.pkl").open("wb") as f:
        pickle.dump(model, f)
    meta: dict[str, Any] = {
        "artifact_path": "model",
        "flavors": {
            "python_function": {
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "loader_module": "mlflow.sklearn",
                "model_path": "model.pkl",
                "predict_fn": "predict",
                "python_version": "3.11.7",
            },
            "sklearn": {
                "code": None,
                "pickled_model": "model.pkl",
                "serialization_format": "cloudpickle",
                "sklearn_version": "1.5.0",
            },
        },
        "mlflow_version": "2.14.1",
        "model_uuid": "0a1b2c3d4e5f",
        "utc_time_created": "2024-06-01 10:00:00.123456",
    }
    if signature is not None:
        meta["signature"] = {"inputs": json.dumps(signature), "outputs": '[{"type": "long", "required": true}]'}
    (folder / "MLmodel").write_text(yaml.safe_dump(meta))
    return folder


def blocked_imports(tmp_path: Path, *names: str) -> Path:
    """A folder that, put first on PYTHONPATH, makes `import NAME` fail as if NAME were not installed."""
    folder = tmp_path / "blocked"
    for name in names:
        package = folder / name
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text(f"raise ImportError('{name} is blocked in this test', name='{name}')\n")
    return folder


class Replica:
    """`python -m kiln.serve` as a subprocess, with one keep-alive connection to it."""

    def __init__(self, model: Path, workdir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port_file = workdir / "port"
        self.stdout_path, self.stderr_path = workdir / "stdout", workdir / "stderr"
        command = [sys.executable, "-m", "kiln.serve", "--model", str(model), "--port", "0"]
        command += ["--port-file", str(self.port_file), *args]
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            # run from the work folder, as a job does: `python -m` puts the current folder first on sys.path
            self.proc = subprocess.Popen(
                command, stdout=out, stderr=err, cwd=workdir, env={**os.environ, **(env or {})}
            )
        self._conn: http.client.HTTPConnection | None = None
        self.host, self.port = "", 0

    def wait_ready(self) -> Replica:
        def listening() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"the replica exited with {self.proc.returncode}: {self.stderr()}")
            return self.port_file.is_file()

        wait_until(listening, START_TIMEOUT_S, "the replica's port file")
        host, port = self.port_file.read_text().rsplit(":", 1)
        self.host, self.port = host, int(port)
        return self

    @property
    def conn(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        return self._conn

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        self.conn.request(method, path, body, headers or {})
        response = self.conn.getresponse()
        data = response.read()
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self._conn = None
        return response.status, json.loads(data) if data else None

    def post(self, doc: Any, content_type: str = "application/json") -> tuple[int, Any]:
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        return self.request("POST", "/invocations", body, {"Content-Type": content_type})

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self) -> int:
        if self._conn is not None:
            self._conn.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def replica(tmp_path: Path) -> Iterator[Any]:
    """replica(model_path, *args, env=None) -> a started, listening Replica; all stopped at the end."""
    started: list[Replica] = []

    def start(model: Path, *args: str, env: dict[str, str] | None = None, ready: bool = True) -> Replica:
        r = Replica(model, tmp_path / f"replica-{len(started)}", *args, env=env)
        started.append(r)
        return r.wait_ready() if ready else r

    yield start
    for r in started:
        r.stop()
