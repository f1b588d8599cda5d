"""The client's calls of environments.proto: environment versions and a project's default environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiln.client.base import Connection

if TYPE_CHECKING:
    from kiln.core.environments import Definition, Environment
    from kiln.proto.v1 import environments_pb2, environments_pb2_grpc
    from kiln.serde import environments as environments_wire
else:
    from kiln.client.base import environments_pb2, environments_pb2_grpc, environments_wire


class EnvironmentCalls(Connection):
    def create_environment(self, project: str, name: str, definition: Definition, source: str = "") -> Environment:
        """The version of `name` with this definition: the one that has it already, or a new one whose build
        is queued (its `build_run`'s log is the build log; `get_environment` says when it is ready)."""
        req = environments_pb2.CreateEnvironmentRequest(
            project=project, name=name, definition=environments_wire.definition_to_proto(definition), source=source
        )
        stub = self._stub(environments_pb2_grpc.EnvironmentsStub)
        return environments_wire.environment_from_proto(self._call(stub.CreateEnvironment, req))

    def get_environment(self, project: str, ref: str) -> Environment:
        """NAME (its latest version) or NAME:VERSION."""
        req = environments_pb2.EnvironmentRequest(project=project, ref=ref)
        stub = self._stub(environments_pb2_grpc.EnvironmentsStub)
        return environments_wire.environment_from_proto(self._call(stub.GetEnvironment, req))

    def list_environments(self, project: str, name: str = "") -> list[Environment]:
        """Every version (of `name`, or of every environment), by name and version."""
        return self._listing(
            self._stub(environments_pb2_grpc.EnvironmentsStub).ListEnvironments,
            environments_pb2.ListEnvironmentsRequest(project=project, name=name),
            "environments",
            environments_wire.environment_from_proto,
        )

    def default_environment(self, project: str) -> str:
        """The project's default environment (NAME or NAME:VERSION), "" for none."""
        req = environments_pb2.ListEnvironmentsRequest(project=project, page_size=1)
        reply = self._call(self._stub(environments_pb2_grpc.EnvironmentsStub).ListEnvironments, req)
        return str(reply.default_environment)

    def set_default_environment(self, project: str, ref: str) -> str:
        req = environments_pb2.EnvironmentRequest(project=project, ref=ref)
        reply = self._call(self._stub(environments_pb2_grpc.EnvironmentsStub).SetDefaultEnvironment, req)
        return str(reply.default_environment)
