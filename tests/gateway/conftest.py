"""Fixtures for the gateway: real replicas (small stdlib HTTP/1.1 keep-alive servers, like kiln.serve's),
a StaticBackend standing in for the coordinator, a real gateway on a free loopback port, and a plain
http.client to call it with."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kiln.coordinator.gateway.backend import StaticBackend
from kiln.coordinator.gateway.serve import Gateway
from kiln.core.deployments import EndpointRoute, ReplicaRoute, RouteTable, VersionRoute

TOKEN = "tok-iris-caller"
OTHER_TOKEN = "tok-someone-else"


@dataclass
class Replica:
    """One replica: answers POST /invocations with what it got, GET /ping with 200 (or 503 when not
    healthy); `status` makes it answer its own error instead."""

    name: str
    server: ThreadingHTTPServer
    bodies: list[bytes] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    healthy: bool = True
    status: int = 200
    connections: list[socket.socket] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def route(self, node: str = "node-1") -> ReplicaRoute:
        return ReplicaRoute(run_id=f"run-{self.name}", node=node, address=self.address)

    def stop(self) -> None:
        """Goes away: the port refuses connections from now on, and the open ones are cut."""
        self.server.shutdown()
        self.server.server_close()
        for conn in self.connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def start_replica(name: str) -> Replica:
    replica: Replica

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else Linux's delayed ACKs add 40 ms to every keep-alive answer

        def log_message(self, format: str, *args: object) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            replica.connections.append(self.connection)

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if replica.healthy:
                self._send(200, b"\n")
            else:
                self._send(503, b'{"error_code": "NOT_READY", "message": "loading"}')

        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            replica.bodies.append(data)
            replica.content_types.append(self.headers.get("Content-Type", ""))
            if replica.status != 200:
                self._send(replica.status, json.dumps({"error_code": "BAD_REQUEST", "message": "bad input"}).encode())
                return
            answer = {"predictions": data.decode(errors="replace"), "replica": replica.name}
            self._send(200, json.dumps(answer).encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    replica = Replica(name, server)
    threading.Thread(target=server.serve_forever, args=(0.05,), name=f"replica-{name}", daemon=True).start()
    return replica


MakeReplica = Callable[[str], Replica]


def closed_address() -> str:
    """An address where nothing listens (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def replicas() -> Iterator[MakeReplica]:
    started: list[Replica] = []

    def make(name: str) -> Replica:
        r = start_replica(name)
        started.append(r)
        return r

    yield make
    for r in started:
        with contextlib.suppress(OSError):
            r.stop()


def version(number: int, weight: int, *replicas: Replica | ReplicaRoute, shadow: bool = False) -> VersionRoute:
    routes = tuple(r.route() if isinstance(r, Replica) else r for r in replicas)
    return VersionRoute(version=number, weight=weight, shadow=shadow, replicas=routes)


def endpoint(name: str, *versions: VersionRoute, sticky: str = "", sample_rate: float = 1.0) -> EndpointRoute:
    return EndpointRoute(
        project="demo", name=name, model="iris", versions=versions, sticky_header=sticky, sample_rate=sample_rate
    )


def table(*endpoints: EndpointRoute, generation: int = 1) -> RouteTable:
    return RouteTable(generation, {e.name: e for e in endpoints})


@pytest.fixture
def backend() -> StaticBackend:
    b = StaticBackend()
    b.add_token(TOKEN, "alice", ["iris", "churn"])
    b.add_token(OTHER_TOKEN, "bob", ["churn"])
    return b


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def pid(self) -> str:
        return self.headers.get("x-kiln-prediction-id", "")

    @property
    def version(self) -> str:
        return self.headers.get("x-kiln-model-version", "")


class Caller:
    """One keep-alive connection to the gateway, as a client library would hold it."""

    def __init__(self, port: int, context: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        if context is None:
            self.conn: http.client.HTTPConnection = http.client.HTTPConnection(host, port, timeout=30)
        else:
            self.conn = http.client.HTTPSConnection(host, port, timeout=30, context=context)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        self.conn.request(method, path, body=body, headers=headers or {})
        r = self.conn.getresponse()
        data = r.read()
        return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, data)

    def invoke(
        self,
        name: str,
        body: bytes = b'{"inputs": [[1, 2]]}',
        token: str | None = TOKEN,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        h = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        return self.request("POST", f"/endpoints/{name}/invocations", body, h)

    def close(self) -> None:
        self.conn.close()


@dataclass
class Running:
    gateway: Gateway
    port: int
    backend: StaticBackend
    spool: Path

    def caller(self) -> Caller:
        return Caller(self.port)


StartGateway = Callable[..., Running]


@pytest.fixture
def start_gateway(backend: StaticBackend, tmp_path: Path) -> Iterator[StartGateway]:
    started: list[Gateway] = []

    def start(t: RouteTable | None = None, spool_dir: Path | None = None, **kwargs: Any) -> Running:
        if t is not None:
            backend.set_table(t)
        spool = spool_dir or tmp_path / f"spool-{len(started)}"
        g = Gateway(backend, "127.0.0.1", 0, spool, **kwargs)
        port = g.start_in_thread()
        started.append(g)
        return Running(g, port, backend, spool)

    yield start
    for g in started:
        g.stop()
    assert not any(g.alive for g in started), "a gateway did not stop"
