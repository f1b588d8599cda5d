"""Python environments end to end: locked from a local wheel folder, built once by a build run, cached on the
node that ran it and preferred there, named by runs (python there is the environment's), recorded in full
whether or not the job imports the SDK, and reproduced exactly by a rerun."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from kiln.core.environments import Definition, EnvKind
from kiln.core.errors import FailedPrecondition, InvalidArgument, NotFound
from kiln.core.runs import RunSpec
from kiln.sync.locks import IndexSettings
from tests.compute.conftest import Cluster, push_folder
from tests.conftest import Cli, wait_until
from tests.wheels import build_wheel

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
TRAIN = """\
import kilnhello, kiln.track as kt
kt.log_params({"lr": 0.1})
kt.log_metric("loss", 0.25)
kt.flush()
print("hello", kilnhello.VERSION)
"""


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    build_wheel(folder, "kilntiny", "1.0")
    build_wheel(folder, "kilnhello", "1.0", ("kilntiny>=1",))
    build_wheel(folder, "kilnhello", "2.0", ("kilntiny>=1",))
    return folder


@pytest.fixture
def cli(cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(tmp_path / "home", capsys, monkeypatch).sign_in(cluster.coordinator)


def create(cli: Cli, tmp_path: Path, wheels: Path, name: str, requirements: str) -> dict:
    req = tmp_path / f"{name}-{abs(hash(requirements))}.txt"
    req.write_text(requirements)
    out = cli.ok(
        "env",
        "create",
        name,
        "-p",
        "p",
        "--requirements",
        req,
        "--python",
        PYTHON,
        "--find-links",
        wheels,
        "--no-index",
        "--json",
    )
    return json.loads(out)


def test_a_python_environment_is_locked_built_once_versioned_by_digest_and_run_in(
    cluster: Cluster, cli: Cli, wheels: Path, tmp_path: Path
) -> None:
    cluster.agent("n1", index=IndexSettings(find_links=(str(wheels),), no_index=True))
    first = create(cli, tmp_path, wheels, "ml", "kilnhello==1.0\n")
    assert (first["version"], first["state"], first["kind"]) == (1, "ready", "python")
    assert "kilnhello==1.0" in first["packages"] and "kilntiny==1.0" in first["packages"]
    assert first["python_version"].startswith(PYTHON)
    # the same definition is the same version; a changed one the next
    assert create(cli, tmp_path, wheels, "ml", "kilnhello==1.0\n")["version"] == 1
    second = create(cli, tmp_path, wheels, "ml", "kilnhello==2.0\n")
    assert second["version"] == 2 and second["digest"] != first["digest"]
    listed = json.loads(cli.ok("env", "list", "-p", "p", "--json"))
    assert [(e["ref"], e["state"]) for e in listed] == [("ml:1", "ready"), ("ml:2", "ready")]
    shown = json.loads(cli.ok("env", "show", "ml:1", "-p", "p", "--json"))
    assert "--hash=sha256:" in shown["definition"] and shown["build_run"].startswith("r-")
    assert "kilnhello" in cli.ok("env", "log", "ml:1", "-p", "p")  # the build log is kept
    # the node keeps both built and says so
    wait_until(
        lambda: json.loads(cli.ok("env", "show", "ml:1", "-p", "p", "--json"))["cached_on"] == ["n1"],
        10,
        "n1 to report ml:1 held",
    )

    snap = push_folder(cluster, {"train.py": TRAIN})
    run = cluster.admin.submit_run(RunSpec("p", ("python", "train.py"), snap, environment="ml:1"))
    done = cluster.wait_run(run.id)
    assert str(done.state) == "succeeded", (done.reason, b"".join(c.data for c in cluster.admin.read_logs(run.id)))
    assert "hello 1.0" in cluster.output(run.id)  # python is the environment's
    record = cluster.admin.run_record(run.id)
    assert record.run.spec.environment == "ml:1"
    assert record.environment["environment"] == "ml:1"
    assert record.environment["environment_digest"] == first["digest"]
    assert "kilnhello==1.0" in record.environment["packages"].splitlines()
    assert any("environment ml:1: on this node" in e.cause for e in done.events)

    # a rerun runs in that same version, though a newer one exists, and logs the same params and metrics
    again = cluster.wait_run(cluster.admin.rerun(run.id).id)
    assert str(again.state) == "succeeded" and again.spec.environment == "ml:1"
    rerun = cluster.admin.run_record(again.id)
    assert rerun.params == record.params == {"lr": "0.1"}
    assert [m[:2] for m in rerun.metrics] == [m[:2] for m in record.metrics] == [("loss", 0.25)]
    # compare and env diff say which packages differ
    diff = json.loads(cli.ok("env", "diff", "ml:1", "ml:2", "-p", "p", "--json"))
    assert [(d["name"], d["a"], d["b"]) for d in diff["packages"]] == [("kilnhello", "1.0", "2.0")]
    same = json.loads(cli.ok("env", "diff", run.id, again.id, "--json"))
    assert same["packages"] == []


def test_the_project_default_is_what_a_run_naming_none_runs_in(
    cluster: Cluster, cli: Cli, wheels: Path, tmp_path: Path
) -> None:
    cluster.agent("n1", index=IndexSettings(find_links=(str(wheels),), no_index=True))
    create(cli, tmp_path, wheels, "ml", "kilnhello==2.0\n")
    cli.ok("env", "default", "ml", "-p", "p")
    assert json.loads(cli.ok("env", "default", "-p", "p", "--json"))["default"] == "ml"
    snap = push_folder(cluster, {"a.py": "import kilnhello; print(kilnhello.VERSION)"})
    run = cluster.admin.submit_run(RunSpec("p", ("python", "a.py"), snap))
    assert run.spec.environment == "ml:1"  # pinned at submission
    assert "2.0" in (cluster.wait_run(run.id) and cluster.output(run.id))
    unset = cluster.admin.submit_run(RunSpec("p", ("python3", "-c", "print(1)"), snap, environment="none"))
    assert unset.spec.environment == ""  # asked for none, though the project has a default
    cli.ok("env", "default", "--clear", "-p", "p")
    plain = cluster.admin.submit_run(RunSpec("p", ("python3", "-c", "print(1)"), snap))
    assert plain.spec.environment == ""


def test_a_run_that_never_imports_the_sdk_still_records_its_packages(cluster: Cluster) -> None:
    cluster.agent("n1")
    snap = push_folder(cluster, {"a.py": "print('no sdk here')"})
    run = cluster.admin.submit_run(RunSpec("p", (sys.executable, "a.py"), snap))  # this venv: grpcio is in it
    assert str(cluster.wait_run(run.id).state) == "succeeded"
    record = cluster.admin.run_record(run.id)
    assert record.environment.get("python", "").count(".") == 2, record.environment
    assert any(line.startswith("grpcio==") for line in record.environment["packages"].splitlines())


def test_a_failed_build_is_a_clear_error_with_its_log(cluster: Cluster, cli: Cli, wheels: Path) -> None:
    cluster.agent("n1", index=IndexSettings(find_links=(str(wheels),), no_index=True))
    bad = "kilnhello==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n"
    env = cluster.admin.create_environment("p", "broken", Definition(EnvKind.PYTHON, bad, PYTHON))
    assert str(env.state) == "building"
    done = cluster.wait_run(env.build_run)
    assert str(done.state) == "failed"
    env = wait_until(lambda: (e := cluster.admin.get_environment("p", "broken:1")).state != "building" and e, 10)
    assert str(env.state) == "failed" and "hash" in env.reason.lower()
    assert "hash" in cli.ok("env", "log", "broken", "-p", "p").lower()
    snap = push_folder(cluster, {"a.py": ""})
    with pytest.raises(FailedPrecondition, match=r"broken:1 failed to build.*kiln logs"):
        cluster.admin.submit_run(RunSpec("p", ("python", "a.py"), snap, environment="broken"))


def test_bad_environment_input_is_refused_clearly_and_changes_nothing(cluster: Cluster, tmp_path: Path) -> None:
    cluster.agent("n1")
    admin = cluster.admin
    lock = "x==1 \\\n    --hash=sha256:" + "0" * 64 + "\n"
    cases = [
        (
            InvalidArgument,
            "invalid environment name",
            lambda: admin.create_environment("p", "Bad Name", Definition(EnvKind.PYTHON, lock, PYTHON)),
        ),
        (
            InvalidArgument,
            "invalid Python version",
            lambda: admin.create_environment("p", "ml", Definition(EnvKind.PYTHON, lock, "python3")),
        ),
        (
            InvalidArgument,
            "is empty",
            lambda: admin.create_environment("p", "ml", Definition(EnvKind.PYTHON, "  ", PYTHON)),
        ),
        (
            InvalidArgument,
            "environment definition",
            lambda: admin.create_environment("p", "ml", Definition(EnvKind.PYTHON, "x" * (1024 * 1024 + 1), PYTHON)),
        ),
        (
            InvalidArgument,
            "NUL",
            lambda: admin.create_environment("p", "ml", Definition(EnvKind.PYTHON, lock + "\0", PYTHON)),
        ),
        (
            InvalidArgument,
            "leave --python out",
            lambda: admin.create_environment("p", "img", Definition(EnvKind.DOCKER, "FROM x", "3.11")),
        ),
        (
            NotFound,
            "snapshot",
            lambda: admin.create_environment("p", "img", Definition(EnvKind.DOCKER, "FROM x", "", "ab" * 32)),
        ),
        (
            FailedPrecondition,
            "no node has the docker runtime",
            lambda: admin.create_environment("p", "img", Definition(EnvKind.DOCKER, "FROM x")),
        ),
        (NotFound, "has no environment 'ml'", lambda: admin.get_environment("p", "ml")),
        (InvalidArgument, "invalid environment version", lambda: admin.get_environment("p", "ml:x")),
        (
            InvalidArgument,
            "not both",
            lambda: admin.submit_run(RunSpec("p", ("true",), environment="ml", image="busybox")),
        ),
        (
            InvalidArgument,
            "queued by the coordinator",
            lambda: admin.submit_run(RunSpec("p", ("true",), builds="ml:1")),
        ),
        (NotFound, "has no environment", lambda: admin.submit_run(RunSpec("p", ("true",), environment="ml"))),
        (NotFound, "has no environment", lambda: admin.set_default_environment("p", "nope")),
    ]
    for error, words, call in cases:
        with pytest.raises(error, match=words):
            call()
    assert admin.list_environments("p") == [] and admin.default_environment("p") == ""
    assert [r for r in admin.list_runs("p")] == []
