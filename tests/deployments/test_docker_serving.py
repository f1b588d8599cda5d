"""A model served from a Docker container: trained in a Docker environment built from local wheels, its
replica started by a Docker agent in that environment (network host, the SDK mounted), called through
the gateway."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.core.deployments import MODEL_VERSION_HEADER
from kiln.core.runs import Resources, RunSpec
from tests.compute.conftest import push_folder
from tests.conftest import Cli
from tests.deployments.conftest import TRAIN, Served, serving_cluster
from tests.serving_env import SERVING_ENV, create_serving_env, serving_ready


@pytest.fixture
def wheels() -> list[Path]:
    return serving_ready()


@pytest.fixture
def docker_served(tmp_path: Path, wheels: list[Path]) -> Iterator[Served]:
    with serving_cluster(tmp_path, "box", ("docker",)) as served:
        yield served


def test_a_replica_in_a_docker_environment_serves_through_the_gateway(
    docker_served: Served,
    wheels: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = docker_served
    cluster = served.cluster
    cli = Cli(tmp_path / "home", capsys, monkeypatch).sign_in(cluster.coordinator)
    env = create_serving_env(cli, tmp_path / "ctx", wheels)
    assert env["state"] == "ready", env
    snap = push_folder(cluster, {"train.py": TRAIN})
    run = cluster.admin.submit_run(
        RunSpec("p", ("python3", "train.py", "1"), snap, environment=SERVING_ENV, resources=Resources(0.5))
    )
    done = cluster.wait_run(run.id, timeout=120)
    assert str(done.state) == "succeeded", (done.reason, cluster.output(run.id))
    version = cluster.admin.register_model(run.id, "model", "clf").version
    served.deploy("boxed", version=version)
    d = served.ready("boxed", (version,), timeout=120)
    replica = cluster.admin.get_run(d.replica_list[0].run_id)
    assert (replica.runtime, replica.spec.environment, replica.spec.network) == ("docker", f"{SERVING_ENV}:1", "host")
    with served.http() as http:
        answer = http.post("/endpoints/boxed/invocations", json={"inputs": [[0.3] * 10, [-0.3] * 10]})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 2 and answer.headers[MODEL_VERSION_HEADER] == str(version)
