"""The server around the application: the bound port of port 0, startup failures raised to the caller
with nothing left running, and a backend that is down at start (the gateway serves and catches up)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kiln.coordinator.gateway.backend import StaticBackend
from kiln.coordinator.gateway.ledger import SpoolBusy
from kiln.coordinator.gateway.serve import Gateway
from kiln.core.deployments import RouteTable
from tests.conftest import wait_until

from .conftest import Caller, MakeReplica, StartGateway, endpoint, table, version


def test_a_port_in_use_is_an_error_for_the_caller(backend: StaticBackend, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        g = Gateway(backend, "127.0.0.1", taken.getsockname()[1], tmp_path / "spool")
        with pytest.raises(OSError):
            g.start_in_thread()
    assert not g.alive


def test_one_spool_is_one_gateway(start_gateway: StartGateway, backend: StaticBackend, tmp_path: Path) -> None:
    first = start_gateway(table())
    second = Gateway(backend, "127.0.0.1", 0, first.spool)
    with pytest.raises(SpoolBusy):
        second.start_in_thread()
    assert not second.alive


def test_a_backend_down_at_start_is_caught_up_with(
    replicas: MakeReplica, start_gateway: StartGateway, backend: StaticBackend
) -> None:
    a = replicas("a")
    ready = table(endpoint("iris", version(1, 100, a)), generation=5)
    down = True

    async def routes(generation: int) -> RouteTable | None:
        if down:
            raise ConnectionError("the coordinator is not up yet")
        return None if generation == ready.generation else ready

    backend.routes = routes  # type: ignore[method-assign]
    gw = start_gateway()
    c = Caller(gw.port)
    assert c.request("GET", "/health").json()["generation"] == 0
    assert c.invoke("iris").status == 404
    down = False
    wait_until(lambda: c.invoke("iris").status == 200, what="the routes once the backend is up")
    c.close()
