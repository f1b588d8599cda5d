"""A gateway in a process of its own, for the test that kills one with SIGKILL mid-load.

    python -m tests.gateway.gateway_process CONFIG.json

CONFIG names the spool folder, the replicas of endpoint `iris`, a token, a file to write the bound port to
(atomically, once listening) and a file standing for the coordinator's ledger: the ids of every record
shipped, one per line, appended as a single write once `record` is called.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from kiln.coordinator.gateway.backend import StaticBackend
from kiln.coordinator.gateway.serve import Gateway
from kiln.core.deployments import EndpointRoute, PredictionRecord, ReplicaRoute, RouteTable, VersionRoute


class FileBackend(StaticBackend):
    def __init__(self, shipped: Path) -> None:
        super().__init__()
        self.fd = os.open(shipped, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    async def record(self, records: list[PredictionRecord]) -> None:
        os.write(self.fd, "".join(f"{r.id}\n" for r in records).encode())


def main(config_path: str) -> None:
    config = json.loads(Path(config_path).read_text())
    backend = FileBackend(Path(config["shipped_file"]))
    backend.add_token(config["token"], "alice", ["iris"])
    replicas = tuple(ReplicaRoute(f"run-{i}", "node-1", a) for i, a in enumerate(config["replicas"]))
    iris = EndpointRoute("demo", "iris", "iris", (VersionRoute(1, 100, False, replicas),))
    backend.set_table(RouteTable(1, {"iris": iris}))
    gateway = Gateway(backend, "127.0.0.1", 0, config["spool"])

    def listening() -> None:
        port_file = Path(config["port_file"])
        port_file.with_suffix(".tmp").write_text(str(gateway.port))
        port_file.with_suffix(".tmp").rename(port_file)

    import asyncio

    asyncio.run(gateway.serve(listening))


if __name__ == "__main__":
    main(sys.argv[1])
