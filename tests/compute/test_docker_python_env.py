"""A Docker environment with scikit-learn, built on a real Docker node from the local Python test image and
wheel files (no registry, no index, no network in the build or the run), then a job in it that trains a
model and imports the tracking SDK that Kiln mounts into every container."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.core.runs import RunSpec
from tests.compute.conftest import Cluster, push_folder
from tests.conftest import Cli
from tests.serving_env import SERVING_ENV, create_serving_env, serving_ready

TRAIN = """
import sys
import kiln.track
from sklearn.linear_model import LogisticRegression
X = [[float(i), float(i % 3)] for i in range(20)]
y = [0] * 10 + [1] * 10
model = LogisticRegression().fit(X, y)
print("prediction", model.predict([[1.0, 1.0], [18.0, 0.0]]).tolist())
print("sdk", kiln.track.__name__, kiln.track.__file__.startswith("/kiln/sdk/"))
print("python", sys.version.split()[0])
"""


@pytest.fixture
def wheels() -> list[Path]:
    return serving_ready()


@pytest.fixture
def cli(cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(tmp_path / "home", capsys, monkeypatch).sign_in(cluster.coordinator)


def test_a_job_trains_scikit_learn_in_an_environment_built_from_local_wheels(
    cluster: Cluster, cli: Cli, wheels: list[Path], tmp_path: Path
) -> None:
    cluster.agent("docker", runtimes=("docker",))
    env = create_serving_env(cli, tmp_path / "ctx", wheels)
    assert (env["state"], env["kind"], env["version"]) == ("ready", "docker", 1), env
    assert env["image_id"].startswith("sha256:") and env["size_bytes"] > 0

    snap = push_folder(cluster, {"x": ""})
    run = cluster.admin.submit_run(RunSpec("p", ("python3", "-c", TRAIN), snap, environment=SERVING_ENV))
    done = cluster.wait_run(run.id, timeout=120)
    output = cluster.output(run.id)
    assert str(done.state) == "succeeded", (done.reason, output)
    assert output.splitlines() == ["prediction [0, 1]", "sdk kiln.track True", "python 3.11.2"], output
    assert cluster.admin.run_record(run.id).environment["environment"] == f"{SERVING_ENV}:1"
