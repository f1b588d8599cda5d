"""`kiln mlflow env -p P`: the variables that point the real mlflow client at a project, which then works."""

from __future__ import annotations

import json
import shlex

import pytest
from mlflow import MlflowClient

from kiln.client import Client
from kiln.coordinator.server import RunningCoordinator
from tests.conftest import Cli


def test_the_printed_variables_point_the_real_client_at_the_project(
    cli: Cli, mlflow_coordinator: tuple[RunningCoordinator, Client, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rc, admin, _ = mlflow_coordinator
    admin.create_project("envdemo")
    cli.sign_in(rc)
    out = cli.ok("mlflow", "env", "-p", "envdemo")
    values = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    values = {k: shlex.split(v)[0] for k, v in values.items()}
    assert values["MLFLOW_TRACKING_URI"] == f"{rc.ctx.mlflow_url}/projects/envdemo"
    assert json.loads(cli.ok("mlflow", "env", "-p", "envdemo", "--json")).keys() == values.keys()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    run = MlflowClient(values["MLFLOW_TRACKING_URI"]).create_run("0")
    assert admin.get_run(run.info.run_id).spec.project == "envdemo"

    missing = cli("mlflow", "env", "-p", "nope")
    assert missing.code == 1 and "nope" in missing.err


def test_a_coordinator_without_the_mlflow_api_says_how_to_start_it(signed_in_cli: Cli) -> None:
    result = signed_in_cli("mlflow", "env", "-p", "p")
    assert result.code == 1 and "--mlflow-listen" in result.err
