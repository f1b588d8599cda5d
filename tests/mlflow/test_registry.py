"""MLflow's model registry and logged models through the real client, as Kiln registry entries: a logged
sklearn model registered, aliased and loaded back by alias; `production` only through an approval."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

from kiln.core import lineage
from tests.conftest import login
from tests.mlflow.conftest import Tracking

_users = itertools.count(1)


@pytest.fixture
def trained() -> Iterator[tuple[LogisticRegression, np.ndarray]]:
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 1.0]])
    y = np.array([0, 0, 0, 1, 1, 1])
    yield LogisticRegression().fit(x, y), x


def test_log_register_alias_load(tracking: Tracking, trained: tuple[LogisticRegression, np.ndarray]) -> None:
    model, x = trained
    mlflow.set_experiment("iris")
    with mlflow.start_run() as run:
        mlflow.log_metric("acc", 0.97)
        info = mlflow.sklearn.log_model(model, name="model", input_example=x[:2])
    assert info.model_id.startswith("m-") and info.model_uri == f"models:/{info.model_id}"
    client = MlflowClient()
    logged = client.get_logged_model(info.model_id)
    assert logged.source_run_id == run.info.run_id and logged.name == "model"
    names = {f.path for f in client.list_logged_model_artifacts(info.model_id)}
    assert "MLmodel" in names and any(n.startswith("model.") for n in names), names
    assert tracking.rc.ctx.store.logged_model(info.model_id)["run_id"] == run.info.run_id  # log-outputs linked it

    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", "classifier")
    assert mv.version == "1" and mv.status == "READY" and mv.run_id == run.info.run_id
    again = mlflow.register_model(info.model_uri, "classifier")
    assert again.version == "2" and again.source == info.model_uri
    client.set_registered_model_alias("classifier", "champion", "2")
    assert client.get_model_version_by_alias("classifier", "champion").version == "2"

    loaded = mlflow.pyfunc.load_model("models:/classifier@champion")
    assert list(loaded.predict(x)) == list(model.predict(x))
    assert list(mlflow.sklearn.load_model("models:/classifier/1").predict(x)) == list(model.predict(x))

    kiln_model = tracking.admin.get_model(tracking.project, "classifier")
    assert [v.version for v in kiln_model.versions] == [1, 2] and kiln_model.aliases == {"champion": 2}
    version = kiln_model.versions[1]
    assert version.run_id == run.info.run_id and version.path == "model" and version.metrics == {"acc": 0.97}
    files = {e.path for e in tracking.rc.ctx.store.manifest(tracking.project, version.snapshot)}
    assert "model/MLmodel" in files and len(files) == len(names), files
    edges = tracking.rc.ctx.store.edges_of(lineage.model_id(tracking.project, "classifier", 2), upstream=True)
    assert [e.src for e, _ in edges] == [lineage.run_id(run.info.run_id)]


def test_production_needs_approval(tracking: Tracking, trained: tuple[LogisticRegression, np.ndarray]) -> None:
    model, x = trained
    mlflow.set_experiment("gate")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name="gated")
    assert str(info.registered_model_version) == "1"
    client = MlflowClient()
    with pytest.raises(MlflowException) as refused:
        client.set_registered_model_alias("gated", "production", "1")
    assert refused.value.error_code == "PERMISSION_DENIED"
    [request] = tracking.admin.alias_requests(tracking.project, "gated")
    assert request.state == "open" and request.alias == "production"
    assert request.id in str(refused.value) and "kiln model review" in str(refused.value)
    with pytest.raises(MlflowException, match="no alias"):
        client.get_model_version_by_alias("gated", "production")

    reviewer = f"val{next(_users)}"
    tracking.admin.create_user(reviewer, "validator-password")
    tracking.admin.set_member(tracking.project, reviewer, "editor")
    tracking.admin.set_validator(tracking.project, reviewer)
    with login(tracking.rc, reviewer, "validator-password") as validator:
        assert validator.review(tracking.project, "gated", 1, True).state == "approved"
    assert client.get_model_version_by_alias("gated", "production").version == "1"
    assert client.get_model_version("gated", "1").current_stage == "Production"
    loaded = mlflow.pyfunc.load_model("models:/gated@production")
    assert list(loaded.predict(x)) == list(model.predict(x))


def test_registered_models_and_versions(tracking: Tracking, trained: tuple[LogisticRegression, np.ndarray]) -> None:
    model, _ = trained
    client = MlflowClient()
    client.create_registered_model("alpha", tags={"team": "vision"}, description="first")
    client.create_registered_model("beta")
    with pytest.raises(MlflowException) as twice:
        client.create_registered_model("alpha")
    assert twice.value.error_code == "RESOURCE_ALREADY_EXISTS"
    client.rename_registered_model("beta", "gamma")
    client.update_registered_model("alpha", description="changed")
    client.set_registered_model_tag("alpha", "stage", "dev")
    client.delete_registered_model_tag("alpha", "team")
    alpha = client.get_registered_model("alpha")
    assert alpha.description == "changed" and alpha.tags == {"stage": "dev"}
    assert [m.name for m in client.search_registered_models()] == ["alpha", "gamma"]
    assert [m.name for m in client.search_registered_models("name LIKE 'gam%'")] == ["gamma"]
    assert [m.name for m in client.search_registered_models("tags.stage = 'dev'")] == ["alpha"]
    client.delete_registered_model("gamma")

    mlflow.set_experiment("versions")
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, name="model")
        mlflow.log_text("notes", "extra/notes.txt")
    rid = run.info.run_id
    mv = client.create_model_version("alpha", f"runs:/{rid}/extra", run_id=rid, tags={"k": "v"}, description="d")
    assert mv.version == "1" and mv.tags == {"k": "v"}
    client.update_model_version("alpha", "1", description="better")
    client.set_model_version_tag("alpha", "1", "k2", "v2")
    client.delete_model_version_tag("alpha", "1", "k")
    got = client.get_model_version("alpha", "1")
    assert got.description == "better" and got.tags == {"k2": "v2"} and got.current_stage == "None"
    assert client.get_model_version_download_uri("alpha", "1") == "mlflow-artifacts:/versions/alpha/1"
    assert mlflow.artifacts.load_text("models:/alpha/1/notes.txt") == "notes"
    assert [v.version for v in client.search_model_versions("name = 'alpha'")] == ["1"]
    assert [v.version for v in client.search_model_versions(f"run_id = '{rid}'")] == ["1"]
    assert [v.version for v in client.get_latest_versions("alpha")] == ["1"]
    with pytest.raises(MlflowException, match="Kiln keeps every registered version"):
        client.delete_model_version("alpha", "1")
    with pytest.raises(MlflowException, match="model names are permanent"):
        client.rename_registered_model("alpha", "delta")
    with pytest.raises(MlflowException) as bad:
        client.create_model_version("alpha", "s3://bucket/model")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"
    client.transition_model_version_stage("alpha", "1", "Staging")
    assert client.get_registered_model("alpha").aliases == {"staging": "1"}
    assert [v.version for v in client.get_latest_versions("alpha", ["Staging"])] == ["1"]


def test_logged_models_calls(tracking: Tracking) -> None:
    client = MlflowClient()
    exp = mlflow.set_experiment("lm")
    with mlflow.start_run() as run:
        created = mlflow.initialize_logged_model(name="draft", model_type="agent", tags={"a": "1"})
    assert str(created.status) == "PENDING" and created.model_type == "agent"
    client.set_logged_model_tags(created.model_id, {"b": "2"})
    client.delete_logged_model_tag(created.model_id, "a")
    client.log_model_params(created.model_id, {"lr": "0.1"})
    done = client.finalize_logged_model(created.model_id, mlflow.entities.LoggedModelStatus.READY)
    assert str(done.status) == "READY" and done.tags["b"] == "2" and "a" not in done.tags
    assert done.params == {"lr": "0.1"} and done.source_run_id == run.info.run_id
    found = client.search_logged_models([exp.experiment_id], filter_string="name = 'draft'")
    assert [m.model_id for m in found] == [created.model_id]
    assert client.search_logged_models([exp.experiment_id], filter_string="name = 'other'") == []
    client.delete_logged_model(created.model_id)
    with pytest.raises(MlflowException) as gone:
        client.get_logged_model(created.model_id)
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"
