"""Run by tests/mlflow/test_mlflow2.py in the MLflow 2.x client's own environment (not collected by pytest):
the calls of the conformance suite through that client, each outcome printed as one JSON line."""

import json
import sys

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression


def say(**fields):
    print(json.dumps(fields), flush=True)


def main():
    mlflow.set_experiment("v2")
    with mlflow.start_run(run_name="old-client") as run:
        mlflow.log_params({f"p{i}": i for i in range(150)})
        for step in range(30):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        X = np.random.default_rng(1).normal(size=(50, 3))
        model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
        mlflow.sklearn.log_model(model, "model")
    run_id = run.info.run_id
    client = MlflowClient()
    client.log_batch(run_id, params=[Param("extra", "1")], metrics=[Metric("acc", 0.9, 0, 0)])
    got = client.get_run(run_id)
    say(
        step="run",
        status=got.info.status,
        params=len(got.data.params),
        history=len(client.get_metric_history(run_id, "loss")),
    )
    frame = mlflow.search_runs(filter_string="metrics.acc > 0.5 and params.extra = '1'")
    say(step="search", rows=len(frame), run=str(frame["run_id"][0]) if len(frame) else "")
    version = mlflow.register_model(f"runs:/{run_id}/model", "oldclient")
    client.set_registered_model_alias("oldclient", "champion", version.version)
    loaded = mlflow.pyfunc.load_model("models:/oldclient@champion")
    say(step="model", version=str(version.version), same=bool((loaded.predict(X) == model.predict(X)).all()))
    for name, call in (
        ("unknown run", lambda: client.get_run("r-0000000000000000")),
        ("bad filter", lambda: mlflow.search_runs(filter_string="metrics.acc >> 1")),
        ("production", lambda: client.set_registered_model_alias("oldclient", "production", version.version)),
    ):
        try:
            call()
            say(step=name, code="none")
        except MlflowException as e:
            say(step=name, code=e.error_code, message=str(e)[:300])


if __name__ == "__main__":
    sys.exit(main())
