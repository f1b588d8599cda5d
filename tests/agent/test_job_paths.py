"""Every runtime gets the same mounts and the same paths (as a container sees them) and makes them work
for its jobs: Docker binds the mounts and passes the paths as they are; a plain process is given the real
folders, and a folder holding mounts (/datasets) becomes a folder of links. The run's own environment wins."""

from __future__ import annotations

from pathlib import Path

from kiln.agent.runtimes import JobSpec, Mount
from kiln.agent.runtimes.docker import container_config
from kiln.agent.runtimes.process import build_view, job_env

PATHS = {
    "PYTHONPATH": "/kiln/sdk",
    "KILN_TRACK_SOCKET": "/kiln/track/sock",
    "KILN_WORKDIR": "/work",
    "KILN_DATASETS": "/datasets",
    "KILN_DATASET_IMAGES": "/datasets/images",
}


def spec(tmp: Path, env: dict[str, str] | None = None) -> JobSpec:
    for d in ("sdk", "sock", "images", "work"):
        (tmp / d).mkdir(exist_ok=True)
    mounts = (
        Mount(tmp / "sdk", "/kiln/sdk"),
        Mount(tmp / "sock", "/kiln/track", read_only=False),
        Mount(tmp / "images", "/datasets/images"),
    )
    return JobSpec("r-1", 1, ["true"], tmp / "work", image="img", env=env or {"A": "1"}, paths=PATHS, mounts=mounts)


def test_a_process_is_given_the_real_folders(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)
    job, view = spec(tmp_path), tmp_path / "job" / "view"
    build_view(job, view)
    env = job_env(job, view)
    assert env["PYTHONPATH"] == str(tmp_path / "sdk")
    assert env["KILN_TRACK_SOCKET"] == str(tmp_path / "sock" / "sock")
    assert env["KILN_WORKDIR"] == str(tmp_path / "work")
    assert env["KILN_DATASET_IMAGES"] == str(tmp_path / "images")
    assert env["KILN_DATASETS"] == str(view / "datasets")
    assert (view / "datasets" / "images").resolve() == tmp_path / "images"  # the folder lists the datasets
    assert env["A"] == "1" and env["CUDA_VISIBLE_DEVICES"] == ""


def test_a_process_keeps_the_agents_python_path_and_the_runs_own_variables_win(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/opt/site")
    view = tmp_path / "view"
    assert job_env(spec(tmp_path), view)["PYTHONPATH"] == f"{tmp_path / 'sdk'}:/opt/site"
    assert job_env(spec(tmp_path, {"PYTHONPATH": "/mine"}), view)["PYTHONPATH"] == "/mine"


def test_a_container_sees_the_paths_as_they_are_with_the_mounts_bound_there(tmp_path):
    config = container_config(spec(tmp_path, {"A": "1", "KILN_DATASETS": "/elsewhere"}), 1000, 1000)
    env = config["environment"]
    assert env["PYTHONPATH"] == "/kiln/sdk" and env["KILN_TRACK_SOCKET"] == "/kiln/track/sock"
    assert env["KILN_DATASET_IMAGES"] == "/datasets/images" and env["A"] == "1"
    assert env["KILN_DATASETS"] == "/elsewhere"  # the run's own variable wins
    binds = {m["Target"]: (m["Source"], m["ReadOnly"]) for m in config["mounts"]}
    assert binds["/work"] == (str(tmp_path / "work"), False)
    assert binds["/kiln/sdk"] == (str(tmp_path / "sdk"), True)
    assert binds["/kiln/track"] == (str(tmp_path / "sock"), False)
    assert binds["/datasets/images"] == (str(tmp_path / "images"), True)
