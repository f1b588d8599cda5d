"""The Workspaces service: thin, as every servicer (coordinator/workspaces.py holds the rules)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kiln.coordinator import workspaces
from kiln.coordinator.context import Coordinator
from kiln.coordinator.rpc.interceptor import principal
from kiln.coordinator.workspaces import Nodes
from kiln.proto.v1 import workspaces_pb2, workspaces_pb2_grpc
from kiln.serde import runs as runs_wire
from kiln.serde import workspaces as wire

Ctx = Any


class WorkspacesServicer(workspaces_pb2_grpc.WorkspacesServicer):
    def __init__(self, ctx: Coordinator, nodes: Nodes) -> None:
        self.ctx, self.nodes = ctx, nodes

    def StartWorkspace(self, request: workspaces_pb2.StartWorkspaceRequest, context: Ctx) -> workspaces_pb2.Workspace:
        spec = runs_wire.run_spec_from_proto(request.spec)
        found = workspaces.start(
            self.ctx, principal(), request.project, request.name, request.tool, spec, request.python,
            request.idle_limit_s,
        )  # fmt: skip
        return wire.workspace_to_proto(found)

    def ListWorkspaces(
        self, request: workspaces_pb2.ListWorkspacesRequest, context: Ctx
    ) -> workspaces_pb2.WorkspaceList:
        found = workspaces.listing(self.ctx, principal(), request.project, request.all)
        return workspaces_pb2.WorkspaceList(workspaces=[wire.workspace_to_proto(w) for w in found])

    def GetWorkspace(self, request: workspaces_pb2.WorkspaceRef, context: Ctx) -> workspaces_pb2.Workspace:
        return wire.workspace_to_proto(workspaces.get(self.ctx, principal(), request.project, request.name))

    async def SaveWorkspace(
        self, request: workspaces_pb2.SaveWorkspaceRequest, context: Ctx
    ) -> workspaces_pb2.Workspace:
        who, project, name = principal(), request.project, request.name
        asked = await asyncio.to_thread(
            workspaces.begin_save, self.ctx, self.nodes, who, project, name, request.message
        )
        snapshot = await self._told(asked)
        return wire.workspace_to_proto(
            await asyncio.to_thread(workspaces.finish_save, self.ctx, who, project, name, snapshot)
        )

    async def _told(self, asked: workspaces.SaveAsked) -> str:
        """Waits for the node's snapshot on the event loop, holding no worker thread (a save can take minutes)."""
        deadline = time.monotonic() + workspaces.SAVE_TIMEOUT_S
        while time.monotonic() < deadline:
            said = await asyncio.to_thread(workspaces.told, self.ctx, asked)
            if said is not None:
                return said
            await asyncio.sleep(workspaces.SAVE_POLL_S)
        raise workspaces.late(asked)

    def ShareWorkspace(self, request: workspaces_pb2.ShareWorkspaceRequest, context: Ctx) -> workspaces_pb2.Workspace:
        found = workspaces.share(self.ctx, principal(), request.project, request.name, request.shared)
        return wire.workspace_to_proto(found)

    async def StopWorkspace(self, request: workspaces_pb2.WorkspaceRef, context: Ctx) -> workspaces_pb2.Workspace:
        who, project, name = principal(), request.project, request.name
        asked = await asyncio.to_thread(workspaces.begin_stop, self.ctx, self.nodes, who, project, name)
        saved = await self._told(asked) if asked is not None else ""
        return wire.workspace_to_proto(
            await asyncio.to_thread(workspaces.finish_stop, self.ctx, who, project, name, saved)
        )
