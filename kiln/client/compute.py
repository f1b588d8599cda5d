"""The client's calls of runs.proto, nodes.proto and link.proto's enrolment: runs, logs, nodes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from kiln.client.base import Connection

if TYPE_CHECKING:
    from kiln.core.link import Quarantined
    from kiln.core.models import (
        JoinToken,
        Node,
        NodeCertificate,
    )
    from kiln.core.runs import LogChunk, Run, RunSpec
    from kiln.proto.v1 import (
        link_pb2,
        link_pb2_grpc,
        nodes_pb2,
        nodes_pb2_grpc,
        runs_pb2,
        runs_pb2_grpc,
    )
    from kiln.serde import link as link_wire
    from kiln.serde import nodes as nodes_wire
    from kiln.serde import runs as runs_wire
else:
    from kiln.client.base import (
        link_pb2,
        link_pb2_grpc,
        link_wire,
        nodes_pb2,
        nodes_pb2_grpc,
        nodes_wire,
        runs_pb2,
        runs_pb2_grpc,
        runs_wire,
    )


class ComputeCalls(Connection):
    # -- runs -------------------------------------------------------------------------------------------

    def submit_run(self, spec: RunSpec) -> Run:
        return runs_wire.run_from_proto(
            self._call(self._stub(runs_pb2_grpc.RunsStub).SubmitRun, runs_wire.run_spec_to_proto(spec))
        )

    def list_runs(self, project: str = "", state: str = "", limit: int = 0) -> list[Run]:
        """Runs of `project` (every project the caller reads when ""), newest first: `limit` of them (0:
        every one)."""
        return [r for page in self.run_pages(project, state, limit) for r in page]

    def run_pages(self, project: str = "", state: str = "", limit: int = 0) -> Iterator[list[Run]]:
        req = runs_pb2.ListRunsRequest(project=project, state=state, limit=limit)
        return self._pages(
            self._stub(runs_pb2_grpc.RunsStub).ListRuns,
            req,
            lambda r: [runs_wire.run_from_proto(x) for x in r.runs],
            limit,
        )

    def get_run(self, run_id: str) -> Run:
        return runs_wire.run_from_proto(
            self._call(self._stub(runs_pb2_grpc.RunsStub).GetRun, runs_pb2.RunRef(id=run_id))
        )

    def cancel_run(self, run_id: str) -> Run:
        return runs_wire.run_from_proto(
            self._call(self._stub(runs_pb2_grpc.RunsStub).CancelRun, runs_pb2.RunRef(id=run_id))
        )

    def rerun(self, run_id: str) -> Run:
        """A new run of exactly what `run_id` ran, recorded as its rerun."""
        return runs_wire.run_from_proto(
            self._call(self._stub(runs_pb2_grpc.RunsStub).RerunRun, runs_pb2.RunRef(id=run_id))
        )

    def read_logs(
        self,
        run_id: str,
        follow: bool = False,
        after: tuple[int, int] = (0, 0),
        tail_bytes: int = 0,
        before: tuple[int, int] = (0, 0),
    ) -> Iterator[LogChunk]:
        """A run's output in order, after chunk (attempt, seq) `after`; with `follow`, keeps streaming until
        the run ends. `tail_bytes`: only the last whole chunks holding at least that many bytes; `before`:
        only what came before that chunk (not with follow). Each chunk's `offset` says how many bytes of
        output precede it, so a tail's first chunk tells how much was left out."""
        req = runs_pb2.ReadLogsRequest(
            id=run_id,
            follow=follow,
            after_attempt=after[0],
            after_seq=after[1],
            tail_bytes=tail_bytes,
            before_attempt=before[0],
            before_seq=before[1],
        )
        for chunk in self._stream(self._stub(runs_pb2_grpc.RunsStub).ReadLogs, req):
            yield runs_wire.log_chunk_from_proto(chunk)

    # -- nodes ------------------------------------------------------------------------------------------

    def create_join_token(self, uses: int = 1, ttl_seconds: float = 3600) -> JoinToken:
        req = nodes_pb2.CreateJoinTokenRequest(uses=uses, ttl_seconds=ttl_seconds)
        return nodes_wire.join_token_from_proto(self._call(self._stub(nodes_pb2_grpc.NodesStub).CreateJoinToken, req))

    def list_nodes(self) -> list[Node]:
        stub = self._stub(nodes_pb2_grpc.NodesStub)
        return self._listing(stub.ListNodes, nodes_pb2.ListNodesRequest(), "nodes", nodes_wire.node_from_proto)

    def set_drain(self, name: str, drain: bool) -> Node:
        req = nodes_pb2.SetDrainRequest(name=name, drain=drain)
        return nodes_wire.node_from_proto(self._call(self._stub(nodes_pb2_grpc.NodesStub).SetDrain, req))

    def remove_node(self, name: str) -> Node:
        return nodes_wire.node_from_proto(
            self._call(self._stub(nodes_pb2_grpc.NodesStub).RemoveNode, nodes_pb2.NodeRef(name=name))
        )

    def reset_node(self, name: str) -> Node:
        """Revokes the node's certificate (it enrols again with a join token, under the same name)."""
        return nodes_wire.node_from_proto(
            self._call(self._stub(nodes_pb2_grpc.NodesStub).ResetNode, nodes_pb2.NodeRef(name=name))
        )

    def list_quarantined(self, node: str = "") -> list[Quarantined]:
        """Agent messages set aside from `node` (every node when "") because they could not be applied."""
        stub = self._stub(nodes_pb2_grpc.NodesStub)
        return self._listing(
            stub.ListQuarantined,
            nodes_pb2.ListQuarantinedRequest(name=node),
            "messages",
            nodes_wire.quarantined_from_proto,
        )

    def enroll(self, join_token: str, name: str, csr_pem: bytes, labels: dict[str, str]) -> NodeCertificate:
        req = link_pb2.EnrollRequest(join_token=join_token, name=name, csr_pem=csr_pem, labels=labels)
        return link_wire.node_certificate_from_proto(self._call(self._stub(link_pb2_grpc.AgentGatewayStub).Enroll, req))
