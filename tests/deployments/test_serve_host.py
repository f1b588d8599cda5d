"""A node's replicas listen where its agent says gateways reach it (kiln agent --serve-host), not on a fixed
127.0.0.1: here 127.0.0.2, another loopback address, which only a wired-through setting would use."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.agent.daemon import check_serve_host
from kiln.core.deployments import ADDRESS_TAG
from kiln.core.errors import InvalidArgument
from tests.deployments.conftest import serving_cluster


def test_replicas_listen_on_the_nodes_serve_host(tmp_path: Path) -> None:
    with serving_cluster(tmp_path, serve_host="127.0.0.2") as served:
        version = served.train(1)
        served.deploy("far", version)
        d = served.ready("far", (version,))
        (replica,) = d.replica_list
        assert replica.address.startswith("127.0.0.2:")
        assert served.cluster.coordinator.ctx.store.tags(replica.run_id)[ADDRESS_TAG] == replica.address
        with served.http() as http:
            r = http.post("/endpoints/far/invocations", json={"inputs": [[0.1] * 10]})
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", " "])
def test_every_interface_is_not_an_address_a_gateway_can_dial(host: str) -> None:
    with pytest.raises(InvalidArgument, match="--serve-host"):
        check_serve_host(host)
