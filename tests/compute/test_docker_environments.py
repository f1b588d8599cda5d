"""Docker environments end to end: built from a Dockerfile FROM the local busybox image by a build run on a
Docker node, saved into the coordinator's store, then run by a second agent on a second engine that never
had the image, which loads it from the coordinator (no registry anywhere)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.core.runs import RunSpec
from tests.compute.conftest import BUSYBOX, Cluster, push_folder
from tests.conftest import Cli, wait_until
from tests.dockerd import Engine, second_engine_running

DOCKERFILE = f"FROM {BUSYBOX}\nCOPY hello.txt /hello.txt\nRUN echo built > /built.txt\n"


@pytest.fixture
def second_engine() -> Iterator[Engine]:
    with second_engine_running() as engine:
        yield engine


@pytest.fixture
def cli(cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(tmp_path / "home", capsys, monkeypatch).sign_in(cluster.coordinator)


def test_an_image_built_once_runs_on_an_engine_that_never_had_it(
    cluster: Cluster, cli: Cli, docker_ready: None, second_engine: Engine, tmp_path: Path
) -> None:
    cluster.agent("builder", runtimes=("docker",), labels={"engine": "first"})
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "hello.txt").write_text("hello from the image\n")
    (context / "Dockerfile").write_text(DOCKERFILE)
    env = json.loads(cli.ok("env", "create", "img", "-p", "p", "--dockerfile", str(context / "Dockerfile"), "--json"))
    assert (env["state"], env["kind"], env["version"]) == ("ready", "docker", 1), env
    assert env["image_id"].startswith("sha256:") and env["image_snapshot"] and env["size_bytes"] > 0
    assert "Step" in cli.ok("env", "log", "img", "-p", "p") or "COPY" in cli.ok("env", "log", "img", "-p", "p")

    cluster.agent_process(
        "second", runtimes=("docker",), extra=("--labels", "engine=second"), environ={"DOCKER_HOST": second_engine.url}
    )
    wait_until(lambda: cluster.node_state("second") == "ready", 60, "the second agent")
    snap = push_folder(cluster, {"x": ""})
    spec = RunSpec("p", ("cat", "/hello.txt", "/built.txt"), snap, environment="img", node_labels={"engine": "second"})
    run = cluster.admin.submit_run(spec)
    done = cluster.wait_run(run.id, timeout=120)
    assert str(done.state) == "succeeded", (done.reason, cluster.output(run.id))
    assert cluster.output(run.id) == "hello from the image\nbuilt\n"
    assert any("loading its image from the coordinator" in e.cause for e in done.events)
    record = cluster.admin.run_record(run.id)
    assert record.environment["environment"] == "img:1"
    assert record.environment["image_id"] == env["image_id"]
    assert second_engine.client.images.get(env["image_id"]).id == env["image_id"]
    # a second run there finds it held
    again = cluster.wait_run(cluster.admin.rerun(run.id).id, timeout=60)
    assert any("image on this node" in e.cause for e in again.events), [e.cause for e in again.events]
