"""Connections that never speak cannot lock users or agents out: the coordinator closes a connection that
has not finished its TLS handshake in time, so a flood of idle sockets does not use up its file
descriptors for good. Driven against a real coordinator in a process of its own with a low limit of open
files (as a service without LimitNOFILE has), flooded past that limit on both ports."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.agent import identity
from kiln.client import Client
from kiln.proto.v1 import link_pb2, link_pb2_grpc
from tests.conftest import ADMIN_PASSWORD

FD_LIMIT = 256
SERVE = """
import resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[2]), resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
from kiln.coordinator.context import CoordinatorConfig
from kiln.coordinator.server import start_in_thread
config = CoordinatorConfig(Path(sys.argv[1]), listen="127.0.0.1:0", admin_password=sys.argv[3], handshake_timeout_s=1.0)
rc = start_in_thread(config)
print(rc.port, rc.agent_port, flush=True)
sys.stdin.read()
rc.stop()
"""


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[Path, int, int]]:
    """A coordinator allowed FD_LIMIT open files: (data folder, user port, agent port)."""
    data = tmp_path / "coordinator"
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(data), str(FD_LIMIT), ADMIN_PASSWORD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # grpc's "File descriptor limit reached" lines, while flooded
        text=True,
    )
    try:
        assert proc.stdout is not None
        port, agent_port = (int(x) for x in proc.stdout.readline().split())
        yield data, port, agent_port
    finally:
        proc.kill()
        proc.wait(30)


def test_a_flood_of_idle_connections_does_not_stop_a_sign_in_or_an_agent(limited):
    data, port, agent_port = limited
    ca = (data / "pki" / "ca.pem").read_bytes()
    with Client(f"127.0.0.1:{port}", ca, timeout=60) as anonymous:  # before the flood: a node to connect
        secret, _, _ = anonymous.login("admin", ADMIN_PASSWORD)
    with Client(f"127.0.0.1:{port}", ca, token=secret, timeout=60) as admin:
        token = admin.create_join_token(1, 600).token
    ident = identity.enroll(data.parent / "agent", f"127.0.0.1:{port}", token, "n1", {})
    # more connections that never speak than the coordinator may have open files, on both ports
    flood = [socket.create_connection(("127.0.0.1", p)) for p in (port, agent_port) for _ in range(FD_LIMIT)]
    try:
        with Client(f"127.0.0.1:{port}", ca, timeout=60) as anonymous:
            _, user, _ = anonymous.login("admin", ADMIN_PASSWORD)
        assert user.name == "admin"
        node = (ident.key_pem, ident.cert_pem)
        with Client(ident.agent_address(agent_port), ca, timeout=60, node_identity=node) as c:
            hello = link_pb2.AgentMessage(hello=link_pb2.Hello(name="n1", version="test"))
            replies = link_pb2_grpc.AgentGatewayStub(c.channel).Connect(iter([hello]), timeout=60)
            assert next(replies).WhichOneof("body") == "welcome"
            replies.cancel()
        # the idle ones were let go: the coordinator closed them (end of stream, or reset)
        closed = 0
        for s in flood[:8]:
            s.settimeout(30)
            try:
                closed += s.recv(1) == b""
            except ConnectionResetError:
                closed += 1
        assert closed == 8
    finally:
        for s in flood:
            s.close()
