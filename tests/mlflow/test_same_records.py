"""A run logged through MLflow is an ordinary Kiln record: `kiln compare` sets it beside others, lineage
follows it to its output snapshot and the model version registered from it, and the OpenLineage export
holds its events, valid against the official schema, exactly as for a run logged with kiln.track."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow

from kiln.core import lineage
from tests.conftest import Cli
from tests.mlflow.conftest import Tracking
from tests.records.test_openlineage import registry, validate


def test_an_mlflow_run_is_compared_traced_and_exported_like_any_run(
    tracking: Tracking, cli: Cli, tmp_path: Path
) -> None:
    ids = []
    for lr in ("0.1", "0.01"):
        with mlflow.start_run() as run:
            mlflow.log_param("lr", lr)
            mlflow.log_metric("acc", 0.8 if lr == "0.1" else 0.9)
            folder = tmp_path / f"model-{lr}"
            folder.mkdir()
            (folder / "MLmodel").write_text("flavors: {}\n")  # an MLflow model folder, as register_model wants
            (folder / "weights.txt").write_text(lr)
            mlflow.log_artifacts(str(folder), "model")
        ids.append(run.info.run_id)
    version = mlflow.register_model(f"runs:/{ids[1]}/model", "tuned")

    cli.sign_in(tracking.rc)
    compared = json.loads(cli.ok("compare", *ids, "--json"))
    assert "lr" in json.dumps(compared) and "0.01" in json.dumps(compared) and "acc" in json.dumps(compared)

    done = tracking.admin.get_run(ids[1])
    graph = tracking.admin.lineage(lineage.run_id(ids[1]), "down")
    found = {n.id for n in graph.nodes}
    assert lineage.snapshot_id(done.output_snapshot) in found
    assert lineage.model_id(tracking.project, "tuned", int(version.version)) in found

    reg = registry()
    events = [json.loads(line) for line in tracking.admin.export_openlineage(tracking.project)]
    for event in events:
        validate(event, reg)
    kinds = [e["eventType"] for e in events if e["run"]["facets"]["kiln_run"]["runId"] == ids[1]]
    assert kinds == ["START", "COMPLETE", "OTHER"]  # OTHER: the model version registered from it
