"""A real coordinator serving the MLflow-compatible API on loopback, and the unmodified mlflow client
pointed at a fresh project of it per test (so tests never see each other's experiments, runs or models)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.tracking.fluent as fluent
import pytest
from mlflow import MlflowClient

from kiln.client import Client
from kiln.coordinator.server import RunningCoordinator
from tests.conftest import ADMIN_PASSWORD, login, start_coordinator

_names = itertools.count(1)
ENV = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_SERVER_CERT_PATH",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_RUN_ID",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
)


@dataclass
class Tracking:
    rc: RunningCoordinator
    admin: Client
    token: str
    project: str

    @property
    def url(self) -> str:
        return self.rc.ctx.mlflow_url

    @property
    def uri(self) -> str:
        return f"{self.url}/projects/{self.project}"

    @property
    def ca(self) -> Path:
        return self.rc.ctx.config.data_dir / "pki" / "ca.pem"

    def client(self) -> MlflowClient:
        return MlflowClient(self.uri)


@pytest.fixture(scope="module")
def mlflow_coordinator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningCoordinator, Client, str]]:
    rc = start_coordinator(tmp_path_factory.mktemp("mlflow") / "coordinator", mlflow_listen="127.0.0.1:0")
    admin = login(rc, "admin", ADMIN_PASSWORD)
    token = admin.create_token("mlflow-tests")[0]
    yield rc, admin, token
    admin.close()
    rc.stop()


@pytest.fixture
def tracking(
    mlflow_coordinator: tuple[RunningCoordinator, Client, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Tracking]:
    """The real client's environment set as a user would (token, CA, tracking URI) for a new project."""
    rc, admin, token = mlflow_coordinator
    project = f"ml{next(_names)}"
    admin.create_project(project)
    t = Tracking(rc, admin, token, project)
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(t.ca))
    mlflow.set_tracking_uri(t.uri)
    fluent._active_experiment_id = None  # the fluent API's experiment of an earlier test (another project)
    yield t
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri("")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
