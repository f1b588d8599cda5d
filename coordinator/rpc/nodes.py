"""nodes.proto: join tokens, the node list, draining and removal, and what a node's link set aside."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from kiln.coordinator import nodes
from kiln.coordinator.context import Coordinator
from kiln.coordinator.rpc.interceptor import principal
from kiln.coordinator.rpc.link import AgentLink
from kiln.coordinator.rpc.paging import encoded
from kiln.core import paging
from kiln.proto.v1 import nodes_pb2, nodes_pb2_grpc
from kiln.serde import nodes as wire

Ctx: TypeAlias = grpc.aio.ServicerContext


class NodesServicer(nodes_pb2_grpc.NodesServicer):
    def __init__(self, ctx: Coordinator, link: AgentLink) -> None:
        self.ctx, self.link = ctx, link

    def CreateJoinToken(self, request: nodes_pb2.CreateJoinTokenRequest, context: Ctx) -> nodes_pb2.JoinToken:
        token = nodes.create_join_token(self.ctx, principal(), request.uses or 1, request.ttl_seconds or 3600)
        return wire.join_token_to_proto(token)

    def ListNodes(self, request: nodes_pb2.ListNodesRequest, context: Ctx) -> nodes_pb2.NodeList:
        page = paging.request("ListNodes", request.page_size, request.page_token)
        rows, token = encoded("ListNodes", nodes.list_nodes(self.ctx, principal(), page), wire.node_to_proto)
        return nodes_pb2.NodeList(nodes=rows, next_page_token=token)

    async def SetDrain(self, request: nodes_pb2.SetDrainRequest, context: Ctx) -> nodes_pb2.Node:
        node = await self.link.workers.run("quick", nodes.set_drain, self.ctx, principal(), request.name, request.drain)
        await self.link.set_drain(request.name, request.drain)
        return wire.node_to_proto(node)

    async def RemoveNode(self, request: nodes_pb2.NodeRef, context: Ctx) -> nodes_pb2.Node:
        node = await self.link.workers.run("quick", nodes.remove_node, self.ctx, principal(), request.name)
        await self.link.drop(request.name)
        return wire.node_to_proto(node)

    async def ResetNode(self, request: nodes_pb2.NodeRef, context: Ctx) -> nodes_pb2.Node:
        node = await self.link.workers.run("quick", nodes.reset_node, self.ctx, principal(), request.name)
        await self.link.drop(request.name)  # its stream ends; its certificate no longer opens another
        return wire.node_to_proto(node)

    def ListQuarantined(self, request: nodes_pb2.ListQuarantinedRequest, context: Ctx) -> nodes_pb2.QuarantineList:
        page = paging.request("ListQuarantined", request.page_size, request.page_token)
        found = nodes.list_quarantined(self.ctx, principal(), request.name, page)
        rows, token = encoded("ListQuarantined", found, wire.quarantined_to_proto)
        return nodes_pb2.QuarantineList(messages=rows, next_page_token=token)
