"""The mlflow-artifacts proxy through the real client: uploads land in Kiln's content-addressed store, list
and download as MLflow's server answers, and become the run's output snapshot when the run ends."""

from __future__ import annotations

import hashlib
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from tests.mlflow.conftest import Tracking


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_artifacts_round_trip_into_blobs_and_output_snapshot(tracking: Tracking, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 100)
    (src / "sub" / "deeper" / "same.txt").write_text("alpha")  # the same bytes as a.txt: one blob
    (tmp_path / "single.json").write_text('{"x": 1}')
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(src), artifact_path="out")
        mlflow.log_artifact(str(tmp_path / "single.json"))
        mlflow.log_text("hello", "notes/hello.txt")
    client = MlflowClient()
    rid = run.info.run_id
    top = client.list_artifacts(rid)
    assert [(f.path, f.is_dir) for f in top] == [("notes", True), ("out", True), ("single.json", False)]
    assert top[2].file_size == len('{"x": 1}')
    inner = client.list_artifacts(rid, "out/sub")
    assert [(f.path, f.is_dir, f.file_size) for f in inner] == [
        ("out/sub/b.bin", False, 25600),
        ("out/sub/deeper", True, None),
    ]
    assert client.list_artifacts(rid, "single.json") == []
    got = Path(mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="out", dst_path=str(tmp_path / "dl")))
    assert _tree(got) == _tree(src)
    assert mlflow.artifacts.load_text(f"runs:/{rid}/notes/hello.txt") == "hello"

    ctx = tracking.rc.ctx
    rows = ctx.store.artifacts(rid)
    digests = {r["path"]: r["digest"] for r in rows}
    assert digests["out/a.txt"] == digests["out/sub/deeper/same.txt"] == hashlib.sha256(b"alpha").hexdigest()
    assert all(ctx.blobs.has(d) for d in digests.values())
    kiln_run = tracking.admin.get_run(rid)
    assert kiln_run.output_snapshot, kiln_run
    manifest = {e.path: e.digest for e in ctx.store.manifest(tracking.project, kiln_run.output_snapshot)}
    assert manifest == digests


def test_delete_and_overwrite(tracking: Tracking, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("one")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "f.txt"), "d")
        (tmp_path / "f.txt").write_text("two")
        mlflow.log_artifact(str(tmp_path / "f.txt"), "d")  # replaces the file; both blobs stay stored
        mlflow.log_text("x", "gone/x.txt")
        get_artifact_repository(run.info.artifact_uri).delete_artifacts("gone")
    assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/d/f.txt") == "two"
    assert [f.path for f in MlflowClient().list_artifacts(run.info.run_id)] == ["d"]
    assert tracking.rc.ctx.blobs.has(hashlib.sha256(b"one").hexdigest())


def _put(tracking: Tracking, path: str, data: bytes = b"x", project: str = "") -> requests.Response:
    base = f"{tracking.url}/projects/{project or tracking.project}/api/2.0/mlflow-artifacts/artifacts"
    return requests.put(
        f"{base}/{path}", data=data, headers={"Authorization": f"Bearer {tracking.token}"}, verify=str(tracking.ca)
    )


def test_refusals(tracking: Tracking) -> None:
    with mlflow.start_run() as run:
        rid = run.info.run_id
    assert _put(tracking, f"runs/{rid}/ok.txt").status_code == 200
    bad = _put(tracking, f"runs/{rid}/a/%2E%2E/%2E%2E/escape.txt")
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE", bad.text
    assert _put(tracking, "runs/no-such-run/f.txt").json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    tracking.admin.create_project(f"{tracking.project}-other")
    elsewhere = _put(tracking, f"runs/{rid}/f.txt", project=f"{tracking.project}-other")
    assert elsewhere.status_code == 404, elsewhere.text  # a run answers only under its own project's URI
    clash = _put(tracking, f"runs/{rid}/ok.txt/below.txt")
    assert clash.status_code == 400 and "ok.txt" in clash.json()["message"], clash.text
    anonymous = requests.put(
        f"{tracking.url}/projects/{tracking.project}/api/2.0/mlflow-artifacts/artifacts/runs/{rid}/n.txt",
        data=b"x",
        verify=str(tracking.ca),
    )
    assert anonymous.status_code == 401


def test_multipart_asked_for_falls_back_to_one_put(
    tracking: Tracking, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "10")
    (tmp_path / "big.bin").write_bytes(b"z" * 5000)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "big.bin"))
    assert tracking.rc.ctx.store.artifact(run.info.run_id, "big.bin")["size"] == 5000
