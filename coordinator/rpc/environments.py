"""environments.proto: environment versions, their builds, and a project's default environment."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from kiln.coordinator import environments
from kiln.coordinator.context import Coordinator
from kiln.coordinator.rpc.interceptor import principal
from kiln.coordinator.rpc.paging import encoded
from kiln.core import paging
from kiln.proto.v1 import environments_pb2, environments_pb2_grpc
from kiln.serde import environments as wire

Ctx: TypeAlias = grpc.aio.ServicerContext


class EnvironmentsServicer(environments_pb2_grpc.EnvironmentsServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    def CreateEnvironment(
        self, request: environments_pb2.CreateEnvironmentRequest, context: Ctx
    ) -> environments_pb2.Environment:
        definition = wire.definition_from_proto(request.definition)
        env = environments.create(self.ctx, principal(), request.project, request.name, definition, request.source)
        return wire.environment_to_proto(env)

    def ListEnvironments(
        self, request: environments_pb2.ListEnvironmentsRequest, context: Ctx
    ) -> environments_pb2.EnvironmentList:
        page = paging.request("ListEnvironments", request.page_size, request.page_token)
        found = environments.list_versions(self.ctx, principal(), request.project, request.name, page)
        rows, token = encoded("ListEnvironments", found, wire.environment_to_proto)
        default = environments.default(self.ctx, principal(), request.project)
        return environments_pb2.EnvironmentList(environments=rows, next_page_token=token, default_environment=default)

    def GetEnvironment(
        self, request: environments_pb2.EnvironmentRequest, context: Ctx
    ) -> environments_pb2.Environment:
        return wire.environment_to_proto(environments.get(self.ctx, principal(), request.project, request.ref))

    def SetDefaultEnvironment(
        self, request: environments_pb2.EnvironmentRequest, context: Ctx
    ) -> environments_pb2.EnvironmentList:
        ref = environments.set_default(self.ctx, principal(), request.project, request.ref)
        return environments_pb2.EnvironmentList(default_environment=ref)
