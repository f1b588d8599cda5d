"""Fixtures for monitors: a webhook receiver on loopback, a project with a reference dataset and two
endpoints as the store holds them, and a feed of ledger records as the gateway ships them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kiln.client import Client
from kiln.coordinator.deployments import ledger
from kiln.coordinator.server import RunningCoordinator
from kiln.coordinator.store.deployments import splits_json
from kiln.core.deployments import PredictionRecord, Split
from kiln.sync.push import push

COLUMNS = ["x0", "x1", "x2", "x3"]


class Receiver:
    """A webhook receiver on loopback that answers 503 to its first `failures` requests."""

    def __init__(self, failures: int = 0, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                code = 503 if len(receiver.answers) < failures else status
                receiver.answers.append(code)
                receiver.bodies.append(body)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(failures=2)
    yield r
    r.close()


def watch_project(coordinator: RunningCoordinator, admin: Client, tmp_path: Path, project: str = "mon") -> str:
    """`project` with dataset "ref" v1 (2,000 rows of x0..x3 and a label y) and two endpoints of model "clf"
    version 1, "calm" and "shifted", as the store holds them (no replicas: the ledger is fed directly)."""
    admin.create_project(project)
    data = tmp_path / "ref"
    data.mkdir()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 4))
    lines = ["x0,x1,x2,x3,y"] + [",".join(f"{v:.6f}" for v in row) + f",{int(row[0] > 0)}" for row in x]
    (data / "train.csv").write_text("\n".join(lines) + "\n")
    snap = push(admin, data, project, "reference", tmp_path / "cache").snapshot.id
    admin.add_dataset_version(project, "ref", snap)
    for name in ("calm", "shifted"):
        coordinator.ctx.store.add_deployment(
            {"name": name, "project": project, "model": "clf", "replicas": 1, "state": "active",
             "traffic_json": splits_json([Split(1, 100)]), "created_by": "admin", "created_at": time.time()}
        )  # fmt: skip
    return project


@pytest.fixture
def watched(coordinator: RunningCoordinator, admin: Client, tmp_path: Path) -> str:
    return watch_project(coordinator, admin, tmp_path)


def feed(coordinator: RunningCoordinator, endpoint: str, shift: float, n: int, at: float, seed: int) -> list[Any]:
    """`n` one-row dataframe_split requests as the gateway ships them, the last at `at`; (id, prediction) each."""
    rng = np.random.default_rng(seed)
    records, said = [], []
    for i in range(n):
        row = (rng.normal(size=4) + shift).round(6).tolist()
        body = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [row]}}).encode()
        predicted = int(row[0] > 0)
        records.append(PredictionRecord(
            id=f"{endpoint}-{seed}-{i}", endpoint=endpoint, version=1, time=at - n + i, latency_ms=2.0, status=200,
            content_type="application/json", request=body, response=json.dumps({"predictions": [predicted]}).encode(),
        ))  # fmt: skip
        said.append((records[-1].id, predicted))
    ledger.record(coordinator.ctx, records)
    return said
