"""Servicers for runs, nodes, and the agent gateway."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from kiln import serde
from kiln.coordinator import nodes, runs
from kiln.coordinator.context import Coordinator
from kiln.coordinator.dispatch import AgentSession, Dispatcher
from kiln.coordinator.rpc.interceptor import principal
from kiln.core.errors import InvalidArgument, PermissionDenied
from kiln.core.permissions import Principal
from kiln.proto.v1 import common_pb2, nodes_pb2, nodes_pb2_grpc, runs_pb2, runs_pb2_grpc

log = logging.getLogger("kiln.coordinator.rpc")
Ctx: TypeAlias = grpc.aio.ServicerContext
FOLLOW_POLL_S = 1.0


class RunsServicer(runs_pb2_grpc.RunsServicer):
    def __init__(self, ctx: Coordinator, dispatcher: Dispatcher) -> None:
        self.ctx, self.dispatcher = ctx, dispatcher

    async def SubmitRun(self, request: runs_pb2.RunSpec, context: Ctx) -> runs_pb2.Run:
        run = runs.submit(self.ctx, principal(), serde.run_spec_from_proto(request))
        self.dispatcher.wake()
        return serde.run_to_proto(run)

    async def ListRuns(self, request: runs_pb2.ListRunsRequest, context: Ctx) -> runs_pb2.RunList:
        found = runs.list_runs(self.ctx, principal(), request.project, request.state, request.limit)
        return runs_pb2.RunList(runs=[serde.run_to_proto(r) for r in found])

    async def GetRun(self, request: runs_pb2.RunRef, context: Ctx) -> runs_pb2.Run:
        return serde.run_to_proto(runs.get_run(self.ctx, principal(), request.id))

    async def CancelRun(self, request: runs_pb2.RunRef, context: Ctx) -> runs_pb2.Run:
        run = runs.cancel(self.ctx, principal(), request.id)
        self.dispatcher.wake()
        return serde.run_to_proto(run)

    async def ReadLogs(self, request: runs_pb2.ReadLogsRequest, context: Ctx) -> AsyncIterator[runs_pb2.LogChunk]:
        who = principal()
        runs.get_run(self.ctx, who, request.id)
        after = (request.after_attempt, request.after_seq)
        while True:
            ended = runs.get_run(self.ctx, who, request.id).state.terminal
            chunks = self.ctx.store.logs(request.id, after)
            for c in chunks:
                yield serde.log_chunk_to_proto(c)
            if chunks:
                after = (chunks[-1].attempt, chunks[-1].seq)
                continue
            if not request.follow or ended:  # the run had ended before this read: nothing more will come
                return
            await self.dispatcher.changed(FOLLOW_POLL_S)


class NodesServicer(nodes_pb2_grpc.NodesServicer):
    def __init__(self, ctx: Coordinator, dispatcher: Dispatcher) -> None:
        self.ctx, self.dispatcher = ctx, dispatcher

    async def CreateJoinToken(self, request: nodes_pb2.CreateJoinTokenRequest, context: Ctx) -> nodes_pb2.JoinToken:
        t = nodes.create_join_token(self.ctx, principal(), request.uses or 1, request.ttl_seconds or 3600)
        return nodes_pb2.JoinToken(id=t.id, token=t.token, uses=t.uses, expires_at=t.expires_at)

    async def ListNodes(self, request: common_pb2.Empty, context: Ctx) -> nodes_pb2.NodeList:
        return nodes_pb2.NodeList(nodes=[serde.node_to_proto(n) for n in nodes.list_nodes(self.ctx, principal())])

    async def SetDrain(self, request: nodes_pb2.SetDrainRequest, context: Ctx) -> nodes_pb2.Node:
        node = nodes.set_drain(self.ctx, principal(), request.name, request.drain)
        self.dispatcher.set_drain(request.name, request.drain)
        return serde.node_to_proto(node)

    async def RemoveNode(self, request: nodes_pb2.NodeRef, context: Ctx) -> nodes_pb2.Node:
        node = nodes.remove_node(self.ctx, principal(), request.name)
        self.dispatcher.drop(request.name)
        return serde.node_to_proto(node)


class AgentGatewayServicer(nodes_pb2_grpc.AgentGatewayServicer):
    def __init__(self, ctx: Coordinator, dispatcher: Dispatcher, agent_port: int) -> None:
        self.ctx, self.dispatcher, self.agent_port = ctx, dispatcher, agent_port

    async def Enroll(self, request: nodes_pb2.EnrollRequest, context: Ctx) -> nodes_pb2.EnrollReply:
        cert = nodes.enroll(self.ctx, request.join_token, request.name, request.csr_pem, dict(request.labels))
        return nodes_pb2.EnrollReply(
            name=request.name, certificate_pem=cert, ca_pem=self.ctx.tls.ca_pem, agent_port=self.agent_port
        )

    async def Connect(
        self, request_iterator: AsyncIterator[nodes_pb2.AgentMessage], context: Ctx
    ) -> AsyncIterator[nodes_pb2.CoordinatorMessage]:
        who = principal()
        if not who.node:
            raise PermissionDenied("only agents, with their node certificate on the agent port, may connect here")
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("body") != "hello":
            raise InvalidArgument("an agent's first message must be its hello")
        session = self.dispatcher.connect(who.node, first.hello)
        reader = asyncio.get_running_loop().create_task(self._read(who, session, request_iterator))
        try:
            while (message := await session.outbox.get()) is not None:
                yield message
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            self.dispatcher.disconnect(session)

    async def _read(
        self, who: Principal, session: AgentSession, request_iterator: AsyncIterator[nodes_pb2.AgentMessage]
    ) -> None:
        try:
            async for message in request_iterator:
                self.dispatcher.handle(session, message)
        except Exception as e:  # the agent went away, or the server is stopping
            log.info("agent %s stream ended: %s", who.node, e)
        finally:
            session.close()
