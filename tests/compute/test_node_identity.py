"""One live identity per node: a second connection with the identity of a connected node is refused (the
first keeps its link and its runs) and recorded; the same agent coming back gets in; `kiln node reset`
revokes a node's certificate so a re-imaged host enrols again."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator

import grpc
import pytest

from kiln.agent import identity
from kiln.agent.daemon import Agent, AgentConfig
from kiln.client import Client
from kiln.core.errors import PermissionDenied
from kiln.core.link import already_connected
from kiln.core.runs import RunSpec
from kiln.proto.v1 import link_pb2, link_pb2_grpc
from tests.compute.conftest import AgentHandle, Cluster, _run
from tests.conftest import Cli, wait_until


class RawAgent:
    """An agent's stream opened by hand: its hello (with the instance id given), then silence until closed."""

    def __init__(self, ident: identity.Identity, port: int, instance: str) -> None:
        self.client = Client(ident.agent_address(port), ident.ca_pem, node_identity=(ident.key_pem, ident.cert_pem))
        self.done = threading.Event()
        hello = link_pb2.AgentMessage(hello=link_pb2.Hello(name=ident.name, version="test", instance=instance))

        def requests() -> Iterator[link_pb2.AgentMessage]:
            yield hello
            self.done.wait()

        self.replies = link_pb2_grpc.AgentGatewayStub(self.client.channel).Connect(requests())

    def first(self) -> str:
        return next(self.replies).WhichOneof("body")

    def ended(self) -> bool:
        """True once the coordinator has closed this stream."""
        return next(self.replies, None) is None

    def close(self) -> None:
        self.done.set()
        self.replies.cancel()
        self.client.close()


@pytest.fixture
def kcli(cluster, tmp_path, capsys, monkeypatch) -> Cli:
    return Cli(tmp_path / "home", capsys, monkeypatch).sign_in(cluster.coordinator)


def node(cluster: Cluster, name: str):  # type: ignore[no-untyped-def]
    return next(n for n in cluster.admin.list_nodes() if n.name == name)


def test_a_copied_identity_is_refused_while_the_node_is_connected_and_the_node_keeps_its_runs(cluster, kcli):
    n1 = cluster.agent("n1")
    run = cluster.admin.submit_run(RunSpec("p", ("sleep", "600"), runtime="process"))
    wait_until(lambda: str(cluster.admin.get_run(run.id).state) == "running", 30, "the run to start")
    clone_data = cluster.tmp / "clone"  # a cloned machine: the same identity, another agent
    shutil.copytree(n1.agent.config.data / "identity", clone_data / "identity")
    clone = AgentHandle(Agent(AgentConfig(cluster.coordinator.address, clone_data, runtimes=("process",))), None)
    clone.thread = threading.Thread(target=_run, args=(clone,), daemon=True)
    clone.thread.start()
    try:
        wait_until(lambda: node(cluster, "n1").duplicates >= 1, 30, "the copy to be refused")
    finally:
        clone.stop()
    assert clone.errors == []  # refused, it waits and knocks again; it does not take the node's link
    found = node(cluster, "n1")
    assert found.state == "ready" and found.runs == (run.id,) and found.duplicate_from == "127.0.0.1"
    record = next(r for r in cluster.admin.list_audit() if r.action == "node.duplicate_identity")
    assert record.target == "n1" and record.actor == "node:n1"
    assert json.loads(record.details_json) == {"connected_from": "127.0.0.1", "refused_from": "127.0.0.1"}
    listed = json.loads(kcli.ok("nodes", "--json"))[0]
    assert listed["duplicates"] == found.duplicates and listed["duplicate_from"] == "127.0.0.1"
    assert "connection(s) refused because its identity was already connected" in kcli.ok("nodes")
    cluster.admin.cancel_run(run.id)  # the first agent still has its link: the cancel reaches its job
    assert str(cluster.wait_run(run.id).state) == "cancelled"
    assert n1.errors == []


def test_the_same_agent_coming_back_gets_in_and_a_clone_does_not(cluster):
    ident = identity.enroll(cluster.tmp / "id-n1", cluster.coordinator.address, cluster.join_token(), "n1", {})
    port = cluster.coordinator.agent_port
    first = RawAgent(ident, port, "instance-1")
    streams = [first]
    try:
        assert first.first() == "welcome"
        clone = RawAgent(ident, port, "instance-2")
        streams.append(clone)
        with pytest.raises(grpc.RpcError) as refused:
            clone.first()
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert refused.value.details() == already_connected("n1", "127.0.0.1")
        assert already_connected("n1", "127.0.0.1") == (
            "node n1 is already connected from 127.0.0.1; if this host was re-imaged, an admin runs kiln node reset n1"
        )
        # the same agent process reconnects before the coordinator noticed its old stream is gone: let in,
        # and the old stream is closed
        back = RawAgent(ident, port, "instance-1")
        streams.append(back)
        assert back.first() == "welcome"
        assert first.ended()
        # a restarted agent (a new instance) waits until the open stream has been silent past the timeout
        wait_until(lambda: node(cluster, "n1").state == "unreachable", 20, "the open stream to fall silent")
        restarted = RawAgent(ident, port, "instance-3")
        streams.append(restarted)
        assert restarted.first() == "welcome"
        assert back.ended()
        assert node(cluster, "n1").duplicates == 1
    finally:
        for s in streams:
            s.close()


def test_node_reset_revokes_the_certificate_and_the_host_enrols_again(cluster, kcli, make_user_on_cluster):
    n1 = cluster.agent("n1", labels={"zone": "a"})
    alice = make_user_on_cluster("alice")
    with pytest.raises(PermissionDenied, match="resetting a node needs a global admin"):
        alice.reset_node("n1")
    assert "no node named 'ghost'" in kcli("node", "reset", "ghost").err
    assert "its certificate is revoked" in kcli.ok("node", "reset", "n1")
    wait_until(lambda: n1.errors, 30, "the old identity to be refused")
    assert isinstance(n1.errors[0], PermissionDenied) and "refused this node" in str(n1.errors[0])
    assert any(r.action == "node.reset" and r.target == "n1" for r in cluster.admin.list_audit())
    old = n1.agent.identity
    with pytest.raises(grpc.RpcError) as refused:
        RawAgent(old, cluster.coordinator.agent_port, "x").first()
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # the re-imaged host: a fresh data folder, a join token, the same name
    fresh = identity.enroll(cluster.tmp / "reimaged", cluster.coordinator.address, cluster.join_token(), "n1", {})
    again = RawAgent(fresh, cluster.coordinator.agent_port, "y")
    try:
        assert again.first() == "welcome"
    finally:
        again.close()
    assert [n.name for n in cluster.admin.list_nodes()] == ["n1"]


@pytest.fixture
def make_user_on_cluster(cluster):  # type: ignore[no-untyped-def]
    from tests.conftest import login

    def make(name: str) -> Client:
        cluster.admin.create_user(name, f"{name}-password-long")
        return login(cluster.coordinator, name, f"{name}-password-long")

    return make
