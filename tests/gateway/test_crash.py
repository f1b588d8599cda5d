"""A gateway killed with SIGKILL in the middle of a load loses no prediction its clients were answered:
a new gateway on the same spool ships every one of them (some perhaps twice: the ledger keeps records
idempotent by id)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from kiln.coordinator.gateway.backend import StaticBackend
from kiln.core.deployments import PREDICTION_ID_HEADER
from tests.conftest import wait_until

from .conftest import TOKEN, MakeReplica, StartGateway, endpoint, table, version

ROOT = Path(__file__).resolve().parents[2]


def _load(port: int, seen: list[str], stop: threading.Event) -> None:
    """One keep-alive client posting until told to stop or the gateway is gone; keeps the ids answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    try:
        while not stop.is_set():
            conn.request("POST", "/endpoints/iris/invocations", b'{"inputs": [[1, 2, 3]]}', headers)
            answer = conn.getresponse()
            answer.read()
            if answer.status == 200:
                seen.append(answer.headers[PREDICTION_ID_HEADER])
    except (OSError, http.client.HTTPException):
        pass  # killed under us: that request's answer never arrived, so its id was never seen
    finally:
        conn.close()


def test_kill_9_mid_load_loses_no_answered_prediction(
    replicas: MakeReplica, start_gateway: StartGateway, backend: StaticBackend, tmp_path: Path
) -> None:
    a, b = replicas("a"), replicas("b")
    spool, shipped, port_file = tmp_path / "spool", tmp_path / "shipped.txt", tmp_path / "port"
    config = {
        "spool": str(spool),
        "replicas": [a.address, b.address],
        "token": TOKEN,
        "port_file": str(port_file),
        "shipped_file": str(shipped),
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    errors = tmp_path / "gateway.stderr"
    with open(errors, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.gateway.gateway_process", str(tmp_path / "config.json")],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        wait_until(lambda: port_file.exists() or proc.poll() is not None, timeout=30, what="the gateway process")
        assert proc.poll() is None, errors.read_text()
        port = int(port_file.read_text())
        seen: list[str] = []
        stop = threading.Event()
        clients = [threading.Thread(target=_load, args=(port, seen, stop), daemon=True) for _ in range(4)]
        for t in clients:
            t.start()
        wait_until(lambda: len(seen) >= 400, timeout=60, what="400 answered requests")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        for t in clients:
            t.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    answered = set(seen)
    shipped_before = set(shipped.read_text().split()) if shipped.exists() else set()
    start_gateway(table(endpoint("iris", version(1, 100, a, b))), spool_dir=spool)
    wait_until(lambda: answered <= shipped_before | set(backend.records), what="every answered prediction shipped")
    assert all(r.endpoint == "iris" and r.status == 200 for r in backend.records.values())  # nothing torn shipped
