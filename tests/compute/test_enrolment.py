"""Join tokens, enrolment and node certificates: only the node a certificate was issued to gets in."""

from __future__ import annotations

import dataclasses
import sqlite3

import grpc
import pytest

from kiln.agent import identity
from kiln.client import Client
from kiln.core import jointoken
from kiln.core.errors import AlreadyExists, InvalidArgument, PermissionDenied, Unavailable
from kiln.proto.v1 import link_pb2, link_pb2_grpc
from tests.conftest import start_coordinator


def enroll(cluster, name, token):
    return identity.enroll(cluster.tmp / f"id-{name}", cluster.coordinator.address, token, name, {})


def test_an_agent_enrols_once_and_then_connects_with_its_certificate(cluster):
    handle = cluster.agent("n1", labels={"zone": "a"})
    node = next(n for n in cluster.admin.list_nodes() if n.name == "n1")
    assert node.state == "ready" and node.labels == {"zone": "a"} and "process" in node.runtimes
    assert node.inventory.cpus > 0 and node.inventory.memory_bytes > 0
    assert (handle.agent.config.data / "identity" / "key.pem").stat().st_mode & 0o077 == 0
    assert any(r.action == "node.enroll" and r.target == "n1" for r in cluster.admin.list_audit())


def test_a_token_is_refused_once_used_up_expired_or_unknown(cluster):
    token = cluster.join_token(uses=1)
    enroll(cluster, "a", token)
    with pytest.raises(PermissionDenied, match="used up"):
        enroll(cluster, "b", token)
    expired = cluster.admin.create_join_token(1, 3600)
    with sqlite3.connect(cluster.coordinator.ctx.config.data_dir / "kiln.db") as db:  # two hours pass
        db.execute("UPDATE join_tokens SET expires_at = expires_at - 7200 WHERE id = ?", [expired.id])
    with pytest.raises(PermissionDenied, match="expired"):
        enroll(cluster, "c", expired.token)
    fp, _ = jointoken.parse(token)
    with pytest.raises(PermissionDenied, match="not known"):
        enroll(cluster, "d", jointoken.make(fp, "made-up-secret"))
    with pytest.raises(InvalidArgument, match="not a Kiln join token"):
        enroll(cluster, "e", "hello")
    assert [n.name for n in cluster.admin.list_nodes()] == ["a"]


def test_a_token_for_another_coordinator_is_refused_before_anything_is_sent(cluster, tmp_path):
    other = start_coordinator(tmp_path / "other")
    try:
        _, secret = jointoken.parse(cluster.join_token())
        foreign = jointoken.make(other.ctx.tls.ca_fingerprint, secret)
        with pytest.raises(PermissionDenied, match="refusing to enrol"):
            enroll(cluster, "x", foreign)
    finally:
        other.stop()


def test_a_node_name_cannot_be_taken_twice(cluster):
    enroll(cluster, "a", cluster.join_token())
    with pytest.raises(AlreadyExists, match="kiln node remove a"):
        enroll(cluster, "a", cluster.join_token())


def _connect(ident, port):
    with Client(ident.agent_address(port), ident.ca_pem, node_identity=(ident.key_pem, ident.cert_pem)) as c:
        hello = link_pb2.AgentMessage(hello=link_pb2.Hello(name=ident.name))
        return next(iter(link_pb2_grpc.AgentGatewayStub(c.channel).Connect(iter([hello]))))


def test_an_agent_presenting_another_nodes_certificate_is_refused(cluster, tmp_path):
    a = enroll(cluster, "a", cluster.join_token())
    b = enroll(cluster, "b", cluster.join_token())
    port = cluster.coordinator.agent_port
    assert _connect(a, port).WhichOneof("body") == "welcome"
    # b's certificate with a claim to be a: refused
    impostor = dataclasses.replace(b, name="a")
    with pytest.raises(grpc.RpcError) as e:
        _connect(impostor, port)
    assert e.value.code() is grpc.StatusCode.PERMISSION_DENIED and "names node 'b'" in e.value.details()
    # a certificate from another installation's CA: the TLS handshake itself fails
    other = start_coordinator(tmp_path / "other")
    try:
        foreign = identity.enroll(tmp_path / "foreign", other.address, other_token(other), "a", {})
        with pytest.raises(grpc.RpcError) as e:
            _connect(dataclasses.replace(foreign, ca_pem=a.ca_pem), port)
        assert e.value.code() is grpc.StatusCode.UNAVAILABLE
    finally:
        other.stop()
    # a removed node's certificate stops working
    cluster.admin.remove_node("a")
    with pytest.raises(grpc.RpcError) as e:
        _connect(a, port)
    assert e.value.code() is grpc.StatusCode.UNAUTHENTICATED and "not enrolled" in e.value.details()


def other_token(rc):
    from tests.conftest import login

    with login(rc, "admin", "admin-password-1") as c:
        return c.create_join_token(1, 60).token


def test_a_user_token_cannot_open_the_agent_stream(cluster):
    port = cluster.coordinator.agent_port
    with Client(f"127.0.0.1:{port}", cluster.coordinator.ctx.tls.ca_pem) as c:
        with pytest.raises(Unavailable):
            c.server_info()
