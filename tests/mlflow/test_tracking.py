"""The unmodified mlflow client against a real coordinator: experiments, runs, params, metrics, tags,
batches with MLflow's limits, searches with MLflow's filter syntax, and the errors it maps to its codes.
What it logs is an ordinary Kiln run: the same records `kiln runs` and the run's page show."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.request
from urllib.error import HTTPError

import mlflow
import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from kiln.coordinator import tracking as kiln_tracking
from kiln.core.paging import PageRequest
from kiln.core.permissions import Principal
from tests.conftest import ADMIN_PASSWORD, login
from tests.mlflow.conftest import Tracking


def test_the_fluent_api_logs_a_run_that_kiln_records_as_its_own(tracking: Tracking) -> None:
    mlflow.set_experiment("baseline")
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({f"p{i}": i for i in range(100)})
        for step in range(50):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.93, "f1": 0.9})
        mlflow.set_tags({"team": "vision", "stage": "try"})
    got = mlflow.get_run(run.info.run_id)
    assert got.info.status == "FINISHED" and got.info.run_name == "first" and got.info.end_time
    assert got.data.params["lr"] == "0.1" and len(got.data.params) == 101
    assert got.data.metrics == {"loss": pytest.approx(1 / 50), "acc": 0.93, "f1": 0.9}
    assert got.data.tags["team"] == "vision" and got.data.tags["mlflow.user"] == "admin"
    history = tracking.client().get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(50)) and history[0].value == 1.0

    kiln_run = tracking.admin.get_run(run.info.run_id)  # the same run, through Kiln's own door
    assert (kiln_run.spec.project, str(kiln_run.state), kiln_run.user) == (tracking.project, "succeeded", "admin")
    assert kiln_run.spec.runtime == "external" and not kiln_run.node
    record = tracking.admin.run_record(run.info.run_id)
    assert record.params["lr"] == "0.1" and {k for k, *_ in record.metrics} == {"loss", "acc", "f1"}
    found = kiln_tracking.search(
        tracking.rc.ctx, Principal("admin", True), tracking.project, "metrics.acc > 0.9", "", PageRequest(10)
    )
    assert [r.id for r in found.items] == [run.info.run_id]


def test_experiments_live_in_the_project(tracking: Tracking) -> None:
    client = tracking.client()
    default = client.get_experiment("0")
    assert default.name == tracking.project and client.get_experiment_by_name("Default").experiment_id == "0"
    first = client.create_experiment("tuning", tags={"owner": "ana"})
    assert client.get_experiment(first).tags == {"owner": "ana"}
    with pytest.raises(MlflowException) as taken:
        client.create_experiment("tuning")
    assert taken.value.error_code == "RESOURCE_ALREADY_EXISTS"
    client.rename_experiment(first, "tuning-v2")
    assert client.get_experiment_by_name("tuning-v2").experiment_id == first
    assert client.get_experiment_by_name("tuning") is None
    names = {e.name for e in client.search_experiments()}
    assert names == {tracking.project, "tuning-v2"}
    assert [e.name for e in client.search_experiments(filter_string="name LIKE 'tun%'")] == ["tuning-v2"]
    client.delete_experiment(first)
    assert client.get_experiment(first).lifecycle_stage == "deleted"
    with pytest.raises(MlflowException, match="is deleted"):
        client.create_run(first)
    client.restore_experiment(first)
    run = client.create_run(first)
    assert run.info.experiment_id == first
    with pytest.raises(MlflowException) as default_delete:
        client.delete_experiment("0")
    assert default_delete.value.error_code == "INVALID_PARAMETER_VALUE"


def test_the_client_api_batches_with_mlflow_s_limits_and_ends_runs(tracking: Tracking) -> None:
    client = tracking.client()
    run = client.create_run("0", run_name="batched", tags={"source": "lightning"})
    run_id = run.info.run_id
    for chunk in range(3):  # Hugging Face's callback: params in batches of 100
        client.log_batch(run_id, params=[Param(f"hp{chunk}_{i}", str(i)) for i in range(100)])
    client.log_batch(run_id, metrics=[Metric("m", float(i), 1_700_000_000_000 + i, i) for i in range(1000)])
    over = {"run_id": run_id, "metrics": [{"key": "m", "value": 0, "timestamp": 0, "step": i} for i in range(1001)]}
    status, refused = _call(tracking, "POST", "runs/log-batch", over)  # the client splits batches itself
    assert (status, refused["error_code"]) == (400, "INVALID_PARAMETER_VALUE") and "1000" in refused["message"]
    with pytest.raises(MlflowException, match="logged once"):
        client.log_param(run_id, "hp0_1", "changed")
    client.set_tag(run_id, "temp", "x")
    client.delete_tag(run_id, "temp")
    client.log_batch(run_id, tags=[RunTag("kept", "yes")])
    client.set_terminated(run_id, "FAILED")
    got = client.get_run(run_id)
    assert got.info.status == "FAILED" and len(got.data.params) == 300 and "temp" not in got.data.tags
    assert len(client.get_metric_history(run_id, "m")) == 1000
    assert str(tracking.admin.get_run(run_id).state) == "failed"
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs(["0"]) == []
    assert len(client.search_runs(["0"], run_view_type=3)) == 1  # ViewType.ALL
    client.restore_run(run_id)
    assert len(client.search_runs(["0"])) == 1


def test_points_logged_without_a_step_are_all_kept(tracking: Tracking) -> None:
    with mlflow.start_run() as run:
        for i in range(25):  # step 0 each time, as MLflow sends a log_metric without one
            mlflow.log_metric("loss", 1.0 / (i + 1), timestamp=1_700_000_000_000 + i)
    history = tracking.client().get_metric_history(run.info.run_id, "loss")
    assert [m.timestamp for m in history] == [1_700_000_000_000 + i for i in range(25)]
    assert {m.step for m in history} == {0} and mlflow.get_run(run.info.run_id).data.metrics["loss"] == 1 / 25


def test_async_logging_lands_every_point(tracking: Tracking) -> None:
    with mlflow.start_run() as run:
        for step in range(300):
            mlflow.log_metric("async", float(step), step=step, synchronous=False)
        mlflow.flush_async_logging()
    assert len(tracking.client().get_metric_history(run.info.run_id, "async")) == 300


def test_search_runs_translates_mlflow_filters_and_returns_a_dataframe(tracking: Tracking) -> None:
    client = tracking.client()
    ids = {}
    for lr, acc, team in ((0.1, 0.7, "a"), (0.01, 0.9, "b"), (0.001, 0.95, "b")):
        with mlflow.start_run(run_name=f"lr{lr}") as run:
            mlflow.log_param("lr", lr)
            mlflow.log_metric("acc", acc)
            mlflow.set_tag("team", team)
        ids[lr] = run.info.run_id
    frame = mlflow.search_runs(filter_string="metrics.acc > 0.8 and tags.team = 'b'", order_by=["metrics.acc DESC"])
    assert list(frame["run_id"]) == [ids[0.001], ids[0.01]] and list(frame["params.lr"]) == ["0.001", "0.01"]
    assert len(mlflow.search_runs(filter_string="params.lr IN ('0.1', '0.01')")) == 2
    assert len(mlflow.search_runs(filter_string="attributes.status = 'FINISHED'")) == 3
    assert len(mlflow.search_runs(filter_string="attributes.run_name = 'lr0.1'")) == 1
    page = client.search_runs(["0"], max_results=2)
    assert len(page) == 2 and page.token
    assert len(client.search_runs(["0"], max_results=2, page_token=page.token)) == 1
    with pytest.raises(MlflowException) as bad:
        mlflow.search_runs(filter_string="metrics.acc >> 1")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"


def test_errors_carry_mlflow_s_codes(tracking: Tracking) -> None:
    client = tracking.client()
    with pytest.raises(MlflowException) as unknown:
        client.get_run("r-0000000000000000")
    assert unknown.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as no_experiment:
        client.get_experiment("42")
    assert no_experiment.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    run = client.create_run("0")
    status, bad_status = _call(tracking, "POST", "runs/update", {"run_id": run.info.run_id, "status": "DONE"})
    assert (status, bad_status["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert "FINISHED" in bad_status["message"]

    tracking.admin.create_user("viewer1", "viewer-password", False)
    tracking.admin.set_member(tracking.project, "viewer1", "viewer")
    viewer = login(tracking.rc, "viewer1", "viewer-password")
    viewer_token = viewer.create_token("v")[0]
    status, body = _call(tracking, "POST", "runs/create", {"experiment_id": "0"}, bearer=viewer_token)
    assert (status, body["error_code"]) == (403, "PERMISSION_DENIED") and "viewer" in body["message"]
    status, body = _call(tracking, "GET", "experiments/get?experiment_id=0", bearer=viewer_token)
    assert status == 200 and body["experiment"]["name"] == tracking.project


def test_credentials_and_bad_requests_through_the_real_server(tracking: Tracking) -> None:
    assert _call(tracking, "GET", "experiments/get?experiment_id=0", bearer="")[1]["error_code"] == "UNAUTHENTICATED"
    status, body = _call(tracking, "GET", "experiments/get?experiment_id=0", bearer="not-a-token")
    assert (status, body["error_code"]) == (401, "UNAUTHENTICATED")
    for forged in ("kiln-run.r-0011223344556677.1." + "0" * 64, "kiln-run.garbage", "kiln-run.r-1.x.y"):
        status, body = _call(tracking, "GET", "experiments/get?experiment_id=0", bearer=forged)
        assert (status, body["error_code"]) == (401, "UNAUTHENTICATED"), forged
    basic = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
    assert _call(tracking, "GET", "experiments/get?experiment_id=0", basic=basic)[0] == 200
    wrong = base64.b64encode(b"admin:wrong-password").decode()
    assert _call(tracking, "GET", "experiments/get?experiment_id=0", basic=wrong)[0] == 401
    for body, fragment in (
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"run_id": ["a"] * 3, "key": "k", "value": 1}).encode(), "must be a string"),
        (json.dumps({"run_id": "x" * 300, "key": "k", "value": 1}).encode(), "at most 250"),
        (json.dumps({"run_id": "r-1", "key": "k", "value": "high"}).encode(), "must be a number"),
    ):
        status, answer = _call(tracking, "POST", "runs/log-metric", body)
        assert (status, answer["error_code"]) == (400, "INVALID_PARAMETER_VALUE") and fragment in answer["message"]
    status, answer = _call(tracking, "POST", "runs/no-such-call", {})
    assert (status, answer["error_code"]) == (404, "ENDPOINT_NOT_FOUND")
    status, answer = _call(tracking, "GET", "experiments/get?experiment_id=0", root=True)
    assert status == 404 and "/projects/" in answer["message"]
    page = urllib.request.urlopen(f"{tracking.uri}/", context=ssl.create_default_context(cafile=str(tracking.ca)))
    assert "kiln runs -p" in page.read().decode()  # where the client's "View run at" links land
    status, answer = _call(tracking, "GET", "experiments/get?experiment_id=0", project="nope")
    assert (status, answer["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def _call(
    tracking: Tracking,
    method: str,
    path: str,
    body: object = None,
    bearer: str | None = None,
    basic: str = "",
    root: bool = False,
    project: str = "",
) -> tuple[int, dict[str, str]]:
    base = tracking.url if root else f"{tracking.url}/projects/{project or tracking.project}"
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}/api/2.0/mlflow/{path}", data=data, method=method)
    if basic:
        request.add_header("Authorization", f"Basic {basic}")
    elif bearer if bearer is not None else tracking.token:
        request.add_header("Authorization", f"Bearer {bearer if bearer is not None else tracking.token}")
    context = ssl.create_default_context(cafile=str(tracking.ca))
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as r:
            return r.status, json.loads(r.read())
    except HTTPError as e:
        return e.code, json.loads(e.read())
