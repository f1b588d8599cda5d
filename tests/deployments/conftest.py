"""A cluster serving models: a coordinator with its gateway on loopback, a process agent, and a model with
versions trained by real runs (scikit-learn, in this interpreter's environment)."""

from __future__ import annotations

import contextlib
import functools
import ssl
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kiln.agent.liveness import Probe
from kiln.coordinator.deployments.controller import route_endpoints
from kiln.core.deployments import MODEL_VERSION_HEADER, Deployment
from kiln.core.runs import Resources, RunSpec
from tests.compute.conftest import Cluster, push_folder, running_cluster
from tests.conftest import wait_until

TRAIN = """\
import os, sys
import joblib, numpy as np
from sklearn.linear_model import LogisticRegression

seed = int(sys.argv[1])
rng = np.random.default_rng(seed)
X = rng.normal(size=(400, 10))
y = (X[:, 0] + X[:, 1] * (1 if seed % 2 else -1) > 0).astype(int)
os.makedirs("model", exist_ok=True)
joblib.dump(LogisticRegression().fit(X, y), "model/model.joblib")
"""


@dataclass
class Served:
    cluster: Cluster
    model: str = "clf"

    @property
    def gateway(self) -> str:
        return self.cluster.coordinator.ctx.gateway_url

    @property
    def ca(self) -> Path:
        return self.cluster.coordinator.ctx.config.data_dir / "pki" / "ca.pem"

    def train(self, seed: int) -> int:
        """A run training a logistic regression (its seed decides the data); its model registered: the version."""
        snap = push_folder(self.cluster, {"train.py": TRAIN})
        spec = RunSpec("p", (sys.executable, "train.py", str(seed)), snap, runtime="process", resources=Resources(0.5))
        run = self.cluster.admin.submit_run(spec)
        done = self.cluster.wait_run(run.id)
        assert str(done.state) == "succeeded", self.cluster.output(run.id) + done.reason
        return self.cluster.admin.register_model(run.id, "model", self.model).version

    def deploy(self, name: str, version: int = 0, alias: str = "", replicas: int = 1) -> Deployment:
        return self.cluster.admin.create_deployment(
            "p", name, self.model, version=version, alias=alias, replicas=replicas, resources=Resources(0.25)
        )

    def ready(self, name: str, versions: tuple[int, ...], timeout: float = 60) -> Deployment:
        """Waits until the endpoint serves exactly `versions` with a ready replica each."""

        def serving() -> Deployment | None:
            d = self.cluster.admin.get_deployment(name)
            live = {s.version for s in d.serving}
            ok = live == set(versions) and all(any(r.ready and r.version == v for r in d.replica_list) for v in live)
            return d if ok else None

        found = wait_until(serving, timeout, f"endpoint {name} serving {versions}")
        wait_until(self.gateway_current, 10, "the gateway to have the coordinator's routes")
        return found

    def gateway_current(self) -> bool:
        """Whether the gateway routes by the coordinator's routes as they are now (it asks 4 times a second)."""
        serving = self.cluster.coordinator._serving.gateway
        assert serving is not None and serving.front is not None
        return serving.front.table.endpoints == route_endpoints(self.cluster.coordinator.ctx)

    @functools.cached_property
    def token(self) -> str:
        """An API token of the admin's, as a client application would send it."""
        return self.cluster.admin.create_token("calls")[0]

    def http(self, token: str | None = None) -> httpx.Client:
        """A real HTTP client of the gateway, trusting the installation's CA."""
        headers = {"Authorization": f"Bearer {token or self.token}"} if token != "" else {}
        verify = ssl.create_default_context(cafile=self.ca)
        return httpx.Client(base_url=self.gateway, verify=verify, headers=headers, timeout=30)

    def routed(self, name: str) -> int:
        """The version the gateway answers `name` with now (0 while it has no route to a ready replica)."""
        with self.http() as http:
            r = http.post(f"/endpoints/{name}/invocations", json={"inputs": [[0.0] * 10]})
        return int(r.headers.get(MODEL_VERSION_HEADER, 0)) if r.status_code == 200 else 0

    def stop_all(self) -> None:
        """Stops every endpoint and waits for its replicas to end (a Docker replica outlives its agent)."""
        admin = self.cluster.admin
        for d in admin.list_deployments():
            if d.state == "active":
                admin.stop_deployment(d.name)
        left = lambda: [(r.run_id, r.state) for d in admin.list_deployments() for r in d.replica_list]  # noqa: E731
        try:
            wait_until(lambda: not left(), 60, "every replica to end")
        except AssertionError:
            raise AssertionError(f"replicas still going after their endpoints stopped: {left()}") from None


@contextlib.contextmanager
def serving_cluster(
    tmp_path: Path,
    agent: str = "n1",
    runtimes: tuple[str, ...] = ("process",),
    serve_host: str = "127.0.0.1",
    liveness_probe: Probe | None = None,
) -> Iterator[Served]:
    """A cluster with its gateway on loopback and one agent; every endpoint is stopped at the end."""
    with running_cluster(tmp_path, gateway_listen="127.0.0.1:0") as cluster:
        cluster.agent(agent, runtimes=runtimes, cpus=8, serve_host=serve_host, liveness_probe=liveness_probe)
        served = Served(cluster)
        try:
            yield served
        finally:
            served.stop_all()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serving_cluster(tmp_path) as s:
        yield s
