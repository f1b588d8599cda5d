"""Tunnels through the coordinator and the agent's own link to a port of a running run: a real run's HTTP
server and an echo server reached from a local port, a megabyte both ways, several connections at once,
and the refusals (another user, a run not running, a port nothing listens on)."""

from __future__ import annotations

import hashlib
import http.client
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.client.tunnels import Forwarder
from kiln.core.errors import FailedPrecondition, PermissionDenied
from kiln.core.runs import Resources, RunSpec
from tests.compute.conftest import Cluster, push_folder, running_cluster
from tests.conftest import Cli, login, wait_until

SERVE = """\
import http.server, os, socket, socketserver, threading
class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)
echo = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
open("hello.txt", "w").write("hello through the tunnel")
threading.Thread(target=echo.serve_forever, daemon=True).start()
print("ports", echo.server_address[1], web.server_address[1], flush=True)
web.serve_forever()
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Cluster, str, int, int]]:
    with running_cluster(tmp_path) as cluster:
        cluster.agent("n1")
        snap = push_folder(cluster, {"serve.py": SERVE})
        spec = RunSpec(
            "p", (sys.executable, "serve.py"), snap, runtime="process", resources=Resources(0.2), network="host"
        )
        run = cluster.admin.submit_run(spec)
        line = wait_until(
            lambda: next((x for x in cluster.output(run.id).splitlines() if x.startswith("ports")), ""), 30, "the ports"
        )
        _, echo, web = line.split()
        yield cluster, run.id, int(echo), int(web)
        cluster.admin.cancel_run(run.id)
        cluster.wait_run(run.id)


def test_a_local_port_reaches_the_run_s_http_server(served: tuple[Cluster, str, int, int]) -> None:
    cluster, run_id, _, web = served
    forwarder = Forwarder(cluster.admin, run_id, web).start()
    try:
        for _ in range(3):  # one connection after another, each a tunnel of its own
            conn = http.client.HTTPConnection("127.0.0.1", forwarder.local_port, timeout=30)
            conn.request("GET", "/hello.txt")
            answer = conn.getresponse()
            assert (answer.status, answer.read()) == (200, b"hello through the tunnel")
            conn.close()
    finally:
        forwarder.stop()


def test_bytes_both_ways_on_several_connections(served: tuple[Cluster, str, int, int]) -> None:
    cluster, run_id, echo, _ = served
    forwarder = Forwarder(cluster.admin, run_id, echo).start()
    payload = bytes(range(256)) * 4096  # 1 MiB
    try:
        sockets = [socket.create_connection(("127.0.0.1", forwarder.local_port), timeout=30) for _ in range(3)]
        for s in sockets:
            s.sendall(payload)
        for s in sockets:
            got = b""
            while len(got) < len(payload):
                chunk = s.recv(1 << 20)
                assert chunk, "the tunnel closed early"
                got += chunk
            assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
            s.close()
    finally:
        forwarder.stop()


def test_tunnels_are_refused_to_others_and_to_what_is_not_running(served: tuple[Cluster, str, int, int]) -> None:
    cluster, run_id, echo, _ = served
    cluster.admin.create_user("eve", "eve-password", False)
    cluster.admin.set_member("p", "eve", "editor")
    eve = login(cluster.coordinator, "eve", "eve-password")
    with pytest.raises(PermissionDenied):
        list(eve.tunnel(run_id, echo, iter([b"x"])))
    with pytest.raises(FailedPrecondition, match="nothing accepts connections on port 1 "):
        list(cluster.admin.tunnel(run_id, 1, iter([])))
    done = cluster.admin.submit_run(RunSpec("p", ("true",), runtime="process", resources=Resources(0.1)))
    cluster.wait_run(done.id)
    with pytest.raises(FailedPrecondition, match="only a running run"):
        list(cluster.admin.tunnel(done.id, echo, iter([])))


def test_kiln_run_port_says_what_is_wrong(served: tuple[Cluster, str, int, int], cli: Cli) -> None:
    cluster, _, echo, _ = served
    cli.sign_in(cluster.coordinator)
    done = cluster.admin.submit_run(RunSpec("p", ("true",), runtime="process", resources=Resources(0.1)))
    cluster.wait_run(done.id)
    ended = cli("run", "port", done.id, str(echo))
    assert ended.code == 1 and "only a running run's ports" in ended.err
    assert cli("run", "port", "r-0000000000000000", "80").code == 1


def test_bad_tunnel_requests_are_refused_through_the_real_server(served: tuple[Cluster, str, int, int]) -> None:
    import grpc

    from kiln.core.errors import InvalidArgument
    from kiln.proto.v1 import link_pb2, link_pb2_grpc

    cluster, run_id, echo, _ = served
    for port in (0, 70000):
        with pytest.raises(InvalidArgument, match="not a TCP port"):
            list(cluster.admin.tunnel(run_id, port, iter([])))
    with pytest.raises(InvalidArgument, match="names the run"):
        list(cluster.admin.tunnel("", echo, iter([])))
    big = b"\0" * (512 * 1024)  # one frame over the coordinator's 256 KiB: the tunnel ends, nothing passes
    assert b"".join(cluster.admin.tunnel(run_id, echo, iter([big]))) == b""
    # a user may not play the agent's end: the agent gateway's Tunnel wants a node certificate
    stub = link_pb2_grpc.AgentGatewayStub(cluster.admin.channel)
    with pytest.raises(grpc.RpcError) as refused:
        list(stub.Tunnel(iter([link_pb2.TunnelFrame(tunnel_id="x")])))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
