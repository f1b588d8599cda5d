"""Every runtime gets the same mounts and the same paths (as a container sees them) and makes them work
for its jobs: Docker binds the mounts and passes the paths as they are; a plain process is given the real
folders, and a folder holding mounts (/datasets) becomes a folder of links. The run's own environment wins.
A plain process starts from a short allow-list of the agent's environment, never the whole of it."""

from __future__ import annotations

import json
import os
import pwd
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


def test_a_process_is_given_the_real_folders(tmp_path):
    job, jobdir = spec(tmp_path), tmp_path / "job"
    view = jobdir / "view"
    build_view(job, view)
    env = job_env(job, jobdir, {})
    assert env["PYTHONPATH"] == str(tmp_path / "sdk")
    assert env["KILN_TRACK_SOCKET"] == str(tmp_path / "sock" / "sock")
    assert env["KILN_WORKDIR"] == str(tmp_path / "work")
    assert env["KILN_DATASET_IMAGES"] == str(tmp_path / "images")
    assert env["KILN_DATASETS"] == str(view / "datasets")
    assert (view / "datasets" / "images").resolve() == tmp_path / "images"  # the folder lists the datasets
    assert env["A"] == "1" and env["CUDA_VISIBLE_DEVICES"] == ""


AGENT_ENV = {
    "PATH": "/opt/agent/bin:/usr/bin",
    "LANG": "de_DE.UTF-8",
    "LC_TIME": "en_GB.UTF-8",
    "TZ": "Europe/Berlin",
    "HOME": "/root",
    "KILN_HOME": "/root/.kiln",
    "PYTHONPATH": "/opt/site",
    "AWS_SECRET_ACCESS_KEY": "s3cret",
    "USER": "someone-else",
}


def test_a_process_gets_a_clean_environment_from_an_allow_list(tmp_path):
    job, jobdir = spec(tmp_path, {"A": "1", "TZ": "UTC"}), tmp_path / "job"
    env = job_env(job, jobdir, AGENT_ENV)
    assert env["PATH"] == "/opt/agent/bin:/usr/bin"
    assert env["LANG"] == "de_DE.UTF-8" and env["LC_TIME"] == "en_GB.UTF-8"
    assert env["TZ"] == "UTC"  # the run's own variable wins
    assert env["HOME"] == str(jobdir / "home") and env["TMPDIR"] == str(jobdir / "tmp")
    assert env["USER"] == env["LOGNAME"] == pwd.getpwuid(os.getuid()).pw_name
    assert env["PYTHONPATH"] == str(tmp_path / "sdk")  # the agent's own is not passed on
    assert "KILN_HOME" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    kiln = {"KILN_TRACK_SOCKET", "KILN_WORKDIR", "KILN_DATASETS", "KILN_DATASET_IMAGES", "KILN_MOUNTS"}
    assert set(env) == kiln | {"PATH", "LANG", "LC_TIME", "TZ", "HOME", "TMPDIR", "USER", "LOGNAME"} | {
        "PYTHONPATH",
        "CUDA_VISIBLE_DEVICES",
        "A",
    }


def test_a_process_gets_a_path_and_a_language_where_the_agent_has_none(tmp_path):
    env = job_env(spec(tmp_path), tmp_path / "job", {})
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin" and env["LANG"] == "C.UTF-8"
    assert "TZ" not in env


def test_the_runs_own_python_path_wins(tmp_path):
    assert job_env(spec(tmp_path, {"PYTHONPATH": "/mine"}), tmp_path / "job", AGENT_ENV)["PYTHONPATH"] == "/mine"


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


def test_both_runtimes_name_the_same_kiln_variables_and_say_where_the_mounts_are(tmp_path):
    job = spec(tmp_path)
    process = job_env(job, tmp_path / "job", AGENT_ENV)
    container = container_config(job, 1000, 1000)["environment"]
    assert {k for k in process if k.startswith("KILN_")} == {k for k in container if k.startswith("KILN_")}
    assert json.loads(container["KILN_MOUNTS"])["/datasets/images"] == "/datasets/images"
    assert json.loads(process["KILN_MOUNTS"])["/datasets/images"] == str(tmp_path / "images")
