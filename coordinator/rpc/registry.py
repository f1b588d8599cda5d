"""registry.proto: datasets, the model registry and its approvals, comments, and lineage."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from typing import TypeAlias

import grpc

from kiln.coordinator import comments, datasets, lineage, registry
from kiln.coordinator.context import Coordinator
from kiln.coordinator.rpc.interceptor import principal
from kiln.coordinator.rpc.paging import encoded
from kiln.coordinator.rpc.workers import Workers, heavy
from kiln.core import paging
from kiln.proto.v1 import registry_pb2, registry_pb2_grpc
from kiln.serde import registry as wire

Ctx: TypeAlias = grpc.aio.ServicerContext
EXPORT_BATCH = 200  # OpenLineage events made per trip to the workers


class DatasetsServicer(registry_pb2_grpc.DatasetsServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    def AddDatasetVersion(
        self, request: registry_pb2.AddDatasetVersionRequest, context: Ctx
    ) -> registry_pb2.DatasetVersion:
        v = datasets.add_version(
            self.ctx, principal(), request.project, request.name, request.snapshot, request.description
        )
        return wire.dataset_version_to_proto(v)

    def ListDatasets(self, request: registry_pb2.ListDatasetsRequest, context: Ctx) -> registry_pb2.DatasetList:
        page = paging.request("ListDatasets", request.page_size, request.page_token)
        found = datasets.list_versions(self.ctx, principal(), request.project, page)
        rows, token = encoded("ListDatasets", found, wire.dataset_version_to_proto)
        return registry_pb2.DatasetList(versions=rows, next_page_token=token)


class ModelsServicer(registry_pb2_grpc.ModelsServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    def RegisterModel(self, request: registry_pb2.RegisterModelRequest, context: Ctx) -> registry_pb2.ModelVersion:
        v = registry.register(self.ctx, principal(), request.run_id, request.path, request.name, dict(request.tags))
        return wire.model_version_to_proto(v)

    def ListModels(self, request: registry_pb2.ListModelsRequest, context: Ctx) -> registry_pb2.ModelList:
        """A page of model versions (the unit of the page and of its byte budget), grouped by model."""
        page = paging.request("ListModels", request.page_size, request.page_token)
        found = registry.version_page(self.ctx, principal(), request.project, "", page)
        rows, token = encoded("ListModels", found, wire.model_version_to_proto)
        models = registry.as_models(self.ctx, request.project, found.items[: len(rows)])
        return registry_pb2.ModelList(models=[wire.model_to_proto(m) for m in models], next_page_token=token)

    def GetModel(self, request: registry_pb2.ModelRef, context: Ctx) -> registry_pb2.Model:
        page = paging.request("GetModel", request.page_size, request.page_token)
        found = registry.version_page(self.ctx, principal(), request.project, request.name, page)
        rows, token = encoded("GetModel", found, wire.model_version_to_proto)
        models = registry.as_models(self.ctx, request.project, found.items[: len(rows)])
        if not models:  # a page token past the last version
            return registry_pb2.Model(project=request.project, name=request.name)
        reply = wire.model_to_proto(models[0])
        reply.next_page_token = token
        return reply

    def RequestAlias(self, request: registry_pb2.RequestAliasRequest, context: Ctx) -> registry_pb2.AliasRequest:
        r = registry.request_alias(
            self.ctx, principal(), request.project, request.name, request.version, request.alias, request.message
        )
        return wire.alias_request_to_proto(r)

    def Review(self, request: registry_pb2.ReviewRequest, context: Ctx) -> registry_pb2.AliasRequest:
        r = registry.review(
            self.ctx, principal(), request.project, request.name, request.version, request.approve, request.message
        )
        return wire.alias_request_to_proto(r)

    def ListRequests(self, request: registry_pb2.ListRequestsRequest, context: Ctx) -> registry_pb2.AliasRequestList:
        page = paging.request("ListRequests", request.page_size, request.page_token)
        found = registry.requests(self.ctx, principal(), request.project, request.name, page)
        rows, token = encoded("ListRequests", found, wire.alias_request_to_proto)
        return registry_pb2.AliasRequestList(requests=rows, next_page_token=token)

    def History(self, request: registry_pb2.HistoryRequest, context: Ctx) -> registry_pb2.AliasHistory:
        page = paging.request("History", request.page_size, request.page_token)
        moves = registry.history(self.ctx, principal(), request.project, request.name, request.at, page)
        rows, token = encoded("History", moves, wire.alias_move_to_proto)
        return registry_pb2.AliasHistory(moves=rows, next_page_token=token)

    def SetPolicy(self, request: registry_pb2.SetPolicyRequest, context: Ctx) -> registry_pb2.Policy:
        n = registry.set_policy(self.ctx, principal(), request.project, request.required_approvals)
        return registry_pb2.Policy(project=request.project, required_approvals=n)


class CommentsServicer(registry_pb2_grpc.CommentsServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    def AddComment(self, request: registry_pb2.AddCommentRequest, context: Ctx) -> registry_pb2.Comment:
        found = comments.add(self.ctx, principal(), request.entity, request.text, request.project)
        return wire.comment_to_proto(found)

    def ListComments(self, request: registry_pb2.ListCommentsRequest, context: Ctx) -> registry_pb2.CommentList:
        page = paging.request("ListComments", request.page_size, request.page_token)
        found = comments.list_comments(self.ctx, principal(), request.id, request.project, page)
        rows, token = encoded("ListComments", found, wire.comment_to_proto)
        return registry_pb2.CommentList(comments=rows, next_page_token=token)


class LineageServicer(registry_pb2_grpc.LineageServicer):
    def __init__(self, ctx: Coordinator, workers: Workers) -> None:
        self.ctx = ctx
        self.workers = workers

    @heavy
    def GetLineage(self, request: registry_pb2.LineageRequest, context: Ctx) -> registry_pb2.LineageGraph:
        found = lineage.graph(self.ctx, principal(), request.id, request.direction, request.depth)
        return wire.lineage_graph_to_proto(found)

    async def ExportOpenLineage(
        self, request: registry_pb2.ExportRequest, context: Ctx
    ) -> AsyncIterator[registry_pb2.OpenLineageEvent]:
        events = await self.workers.run("heavy", lineage.export_openlineage, self.ctx, principal(), request.project)
        while batch := await self.workers.run("heavy", _take, events, EXPORT_BATCH):
            for line in batch:
                yield registry_pb2.OpenLineageEvent(json=line)


def _take(events: Iterator[str], n: int) -> list[str]:
    return list(itertools.islice(events, n))
