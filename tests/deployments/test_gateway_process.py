"""`kiln gateway`: gateways in processes of their own, against one real coordinator, signed in as an admin.
Two route the same endpoint and both follow a weight change; one killed with SIGKILL under load loses no
record a client was answered with (the next one on its spool ships them); a non-admin's is refused; the
coordinator refuses an oversized batch of records."""

from __future__ import annotations

import os
import queue
import signal
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest

from kiln.client import Client
from kiln.coordinator.server import RunningCoordinator
from kiln.core.deployments import MODEL_VERSION_HEADER, PREDICTION_ID_HEADER, Split
from kiln.proto.v1 import deployments_pb2, gateway_pb2, gateway_pb2_grpc
from kiln.serde.gateway import MAX_RECORDS_PER_CALL
from tests.conftest import ADMIN_PASSWORD, wait_until
from tests.deployments.conftest import Served

ROW = {"inputs": [[0.5] * 10]}
START_LINE = "Kiln gateway: serving endpoints at "
START_TIMEOUT_S = 60


def kiln(home: Path, *argv: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KILN_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "kiln", *argv], input=stdin, env=env, capture_output=True, text=True, timeout=timeout
    )


def sign_in(home: Path, rc: RunningCoordinator, user: str, password: str) -> Path:
    """`kiln login` the way a script does it, into its own KILN_HOME."""
    done = kiln(home, "login", rc.address, "--user", user, "--password-stdin", "--fingerprint",
                rc.ctx.tls.ca_fingerprint, stdin=password + "\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return home


@dataclass
class GatewayProcess:
    process: subprocess.Popen[str]
    url: str
    log: Path

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


class Gateways:
    """`kiln gateway` processes with the coordinator's own certificate, each on a free port; every one still
    running at the end is stopped with SIGTERM (and must then exit 0)."""

    def __init__(self, served: Served, home: Path, tmp: Path) -> None:
        self.served, self.home, self.tmp = served, home, tmp
        self.started: list[GatewayProcess] = []

    def start(self, spool: Path) -> GatewayProcess:
        pki = self.served.cluster.coordinator.ctx.config.data_dir / "pki"
        log = self.tmp / f"gateway-{len(self.started)}.log"
        argv = ["gateway", "--listen", "127.0.0.1:0", "--spool", str(spool),
                "--certfile", str(pki / "server.pem"), "--keyfile", str(pki / "server.key")]  # fmt: skip
        with log.open("w") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "kiln", *argv],
                env={**os.environ, "KILN_HOME": str(self.home)},
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or ()], daemon=True).start()
        try:
            line = lines.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            line = ""
        if not line.startswith(START_LINE):
            process.kill()
            raise AssertionError(f"kiln gateway did not start: {line!r}\n{log.read_text()}")
        url = line[len(START_LINE) :].split("/endpoints/", 1)[0]
        found = GatewayProcess(process, url, log)
        self.started.append(found)
        return found

    def http(self, gateway: GatewayProcess) -> httpx.Client:
        verify = ssl.create_default_context(cafile=self.served.ca)
        headers = {"Authorization": f"Bearer {self.served.token}"}
        return httpx.Client(base_url=gateway.url, verify=verify, headers=headers, timeout=30)

    def versions(self, gateway: GatewayProcess, name: str, n: int = 20) -> set[int]:
        """The versions `n` requests through `gateway` were answered by (0 for a failed request)."""
        with self.http(gateway) as http:
            answers = [http.post(f"/endpoints/{name}/invocations", json=ROW) for _ in range(n)]
        return {int(a.headers.get(MODEL_VERSION_HEADER, 0)) if a.status_code == 200 else 0 for a in answers}

    def stop_all(self) -> None:
        for g in self.started:
            if g.process.poll() is None:
                g.process.send_signal(signal.SIGTERM)
                assert g.process.wait(30) == 0, g.log.read_text()


@pytest.fixture
def gateways(served: Served, tmp_path: Path) -> Iterator[Gateways]:
    home = sign_in(tmp_path / "gateway-home", served.cluster.coordinator, "admin", ADMIN_PASSWORD)
    found = Gateways(served, home, tmp_path)
    try:
        yield found
    finally:
        found.stop_all()


def test_two_gateway_processes_route_one_endpoint_and_both_follow_a_weight_change(
    served: Served, gateways: Gateways, tmp_path: Path
) -> None:
    admin = served.cluster.admin
    v1, v2 = served.train(1), served.train(2)
    served.deploy("twice", version=v1)
    admin.set_traffic("twice", (Split(v1, 50), Split(v2, 50)))
    served.ready("twice", (v1, v2))
    first, second = gateways.start(tmp_path / "spool-1"), gateways.start(tmp_path / "spool-2")
    for g in (first, second):
        wait_until(lambda g=g: gateways.versions(g, "twice", 40) == {v1, v2}, 15, f"{g.url} to route to both")

    admin.set_traffic("twice", (Split(v1, 0), Split(v2, 100)))
    for g in (first, second):
        wait_until(lambda g=g: gateways.versions(g, "twice") == {v2}, 10, f"{g.url} to route by the new weights")


def test_a_gateway_killed_under_load_loses_no_answered_record(
    served: Served, gateways: Gateways, tmp_path: Path
) -> None:
    v1 = served.train(1)
    served.deploy("kept", version=v1)
    served.ready("kept", (v1,))
    spool = tmp_path / "spool"
    doomed = gateways.start(spool)
    answered: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with gateways.http(doomed) as http:
            while not stop.is_set():
                try:
                    r = http.post("/endpoints/kept/invocations", json=ROW)
                except httpx.HTTPError:
                    return  # the gateway is gone
                if r.status_code == 200:
                    answered.append(r.headers[PREDICTION_ID_HEADER])

    clients = [threading.Thread(target=load) for _ in range(4)]
    for c in clients:
        c.start()
    try:
        wait_until(lambda: len(answered) >= 200, 60, "200 answers through the gateway")
        doomed.kill()
    finally:
        stop.set()
        for c in clients:
            c.join(30)
    received = set(answered)

    gateways.start(spool)  # a new gateway on the same spool ships what the killed one left
    admin = served.cluster.admin

    def missing() -> set[str]:
        return received - {p.record.id for p in admin.list_predictions("kept", bodies=False, limit=0)}

    wait_until(lambda: not missing(), 30, "every answered prediction in the ledger")


def test_a_gateway_of_a_user_who_is_not_an_admin_is_refused(
    coordinator: RunningCoordinator, admin: Client, tmp_path: Path
) -> None:
    admin.create_user("bob", "bob-password")
    home = sign_in(tmp_path / "bob-home", coordinator, "bob", "bob-password")
    done = kiln(home, "gateway", "--listen", "127.0.0.1:0", "--spool", str(tmp_path / "spool"))
    assert done.returncode != 0
    assert "must be an admin" in done.stderr and "kiln login" in done.stderr, done.stderr
    assert "serving endpoints" not in done.stdout


def test_the_coordinator_refuses_a_batch_of_more_records_than_one_call_may_carry(admin: Client) -> None:
    records = [
        deployments_pb2.PredictionRecord(id=f"r{i}", endpoint="e", version=1, status=200)
        for i in range(MAX_RECORDS_PER_CALL + 1)
    ]
    stub = gateway_pb2_grpc.GatewaysStub(admin.channel)
    with pytest.raises(grpc.RpcError) as refused:
        stub.RecordPredictions(gateway_pb2.RecordPredictionsRequest(records=records), timeout=30)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert f"at most {MAX_RECORDS_PER_CALL}" in (refused.value.details() or "")
