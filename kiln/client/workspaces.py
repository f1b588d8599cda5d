"""The client's calls of workspaces.proto."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiln.client.base import Connection

if TYPE_CHECKING:
    from kiln.core.runs import RunSpec
    from kiln.core.workspaces import Workspace
    from kiln.proto.v1 import workspaces_pb2_grpc


class WorkspaceCalls(Connection):
    def _workspaces(self) -> workspaces_pb2_grpc.WorkspacesStub:
        from kiln.proto.v1 import workspaces_pb2_grpc

        return self._stub(workspaces_pb2_grpc.WorkspacesStub)

    def start_workspace(
        self, project: str, name: str, spec: RunSpec, tool: str = "", python: str = "", idle_limit_s: float = 0
    ) -> Workspace:
        from kiln.core.workspaces import DEFAULT_TOOL
        from kiln.proto.v1 import workspaces_pb2
        from kiln.serde import runs as runs_wire
        from kiln.serde import workspaces as wire

        req = workspaces_pb2.StartWorkspaceRequest(
            project=project, name=name, tool=tool or DEFAULT_TOOL, python=python, idle_limit_s=idle_limit_s,
            spec=runs_wire.run_spec_to_proto(spec),
        )  # fmt: skip
        return wire.workspace_from_proto(self._call(self._workspaces().StartWorkspace, req))

    def list_workspaces(self, project: str, everything: bool = False) -> list[Workspace]:
        from kiln.proto.v1 import workspaces_pb2
        from kiln.serde import workspaces as wire

        reply = self._call(
            self._workspaces().ListWorkspaces, workspaces_pb2.ListWorkspacesRequest(project=project, all=everything)
        )
        return [wire.workspace_from_proto(w) for w in reply.workspaces]

    def get_workspace(self, project: str, name: str) -> Workspace:
        from kiln.proto.v1 import workspaces_pb2
        from kiln.serde import workspaces as wire

        ref = workspaces_pb2.WorkspaceRef(project=project, name=name)
        return wire.workspace_from_proto(self._call(self._workspaces().GetWorkspace, ref))

    def save_workspace(self, project: str, name: str, message: str = "") -> Workspace:
        from kiln.proto.v1 import workspaces_pb2
        from kiln.serde import workspaces as wire

        req = workspaces_pb2.SaveWorkspaceRequest(project=project, name=name, message=message)
        return wire.workspace_from_proto(self._call(self._workspaces().SaveWorkspace, req, timeout=600))

    def share_workspace(self, project: str, name: str, shared: bool = True) -> Workspace:
        from kiln.proto.v1 import workspaces_pb2
        from kiln.serde import workspaces as wire

        req = workspaces_pb2.ShareWorkspaceRequest(project=project, name=name, shared=shared)
        return wire.workspace_from_proto(self._call(self._workspaces().ShareWorkspace, req))

    def stop_workspace(self, project: str, name: str) -> Workspace:
        from kiln.proto.v1 import workspaces_pb2
        from kiln.serde import workspaces as wire

        ref = workspaces_pb2.WorkspaceRef(project=project, name=name)
        return wire.workspace_from_proto(self._call(self._workspaces().StopWorkspace, ref, timeout=600))
