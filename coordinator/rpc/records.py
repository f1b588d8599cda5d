"""Servicers for tracking queries, datasets, the model registry, comments and lineage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from kiln import serde
from kiln.coordinator import comments, datasets, lineage, models, tracking
from kiln.coordinator.context import Coordinator
from kiln.coordinator.rpc.interceptor import principal
from kiln.core.models import ModelVersion
from kiln.proto.v1 import common_pb2, registry_pb2, registry_pb2_grpc, runs_pb2, tracking_pb2, tracking_pb2_grpc

Ctx: TypeAlias = grpc.aio.ServicerContext


class TrackingServicer(tracking_pb2_grpc.TrackingServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    async def GetRunRecord(self, request: runs_pb2.RunRef, context: Ctx) -> tracking_pb2.RunRecord:
        return serde.run_record_to_proto(tracking.run_record(self.ctx, principal(), request.id))

    async def GetMetrics(self, request: tracking_pb2.GetMetricsRequest, context: Ctx) -> tracking_pb2.MetricHistory:
        found = tracking.metric_history(self.ctx, principal(), request.run_id, list(request.keys), request.max_points)
        return tracking_pb2.MetricHistory(
            series=[
                tracking_pb2.MetricSeries(
                    key=k,
                    total_points=total,
                    step=[p[0] for p in points],
                    value=[p[1] for p in points],
                    timestamp=[p[2] for p in points],
                )
                for k, total, points in found
            ]
        )

    async def SearchRuns(self, request: tracking_pb2.SearchRunsRequest, context: Ctx) -> runs_pb2.RunList:
        found = tracking.search(self.ctx, principal(), request.project, request.filter, request.sort, request.limit)
        return runs_pb2.RunList(runs=[serde.run_to_proto(r) for r in found])


class DatasetsServicer(registry_pb2_grpc.DatasetsServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    async def AddDatasetVersion(
        self, request: registry_pb2.AddDatasetVersionRequest, context: Ctx
    ) -> registry_pb2.DatasetVersion:
        v = datasets.add_version(
            self.ctx, principal(), request.project, request.name, request.snapshot, request.description
        )
        return serde.dataset_version_to_proto(v)

    async def ListDatasets(self, request: common_pb2.ProjectRef, context: Ctx) -> registry_pb2.DatasetList:
        found = datasets.list_versions(self.ctx, principal(), request.project)
        return registry_pb2.DatasetList(versions=[serde.dataset_version_to_proto(v) for v in found])


class ModelsServicer(registry_pb2_grpc.ModelsServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    async def RegisterModel(
        self, request: registry_pb2.RegisterModelRequest, context: Ctx
    ) -> registry_pb2.ModelVersion:
        v = models.register(self.ctx, principal(), request.run_id, request.path, request.name, dict(request.tags))
        return serde.model_version_to_proto(v)

    async def ListModels(self, request: common_pb2.ProjectRef, context: Ctx) -> registry_pb2.ModelList:
        found = models.versions(self.ctx, principal(), request.project)
        names = sorted({v.name for v in found})
        return registry_pb2.ModelList(
            models=[self._model(request.project, n, [v for v in found if v.name == n]) for n in names]
        )

    async def GetModel(self, request: registry_pb2.ModelRef, context: Ctx) -> registry_pb2.Model:
        return self._model(
            request.project, request.name, models.versions(self.ctx, principal(), request.project, request.name)
        )

    def _model(self, project: str, name: str, versions: list[ModelVersion]) -> registry_pb2.Model:
        return registry_pb2.Model(
            project=project,
            name=name,
            versions=[serde.model_version_to_proto(v) for v in versions],
            aliases=self.ctx.store.aliases(project, name),
            required_approvals=self.ctx.store.required_approvals(project),
        )

    async def RequestAlias(self, request: registry_pb2.RequestAliasRequest, context: Ctx) -> registry_pb2.AliasRequest:
        r = models.request_alias(
            self.ctx, principal(), request.project, request.name, request.version, request.alias, request.message
        )
        return serde.alias_request_to_proto(r)

    async def Review(self, request: registry_pb2.ReviewRequest, context: Ctx) -> registry_pb2.AliasRequest:
        r = models.review(
            self.ctx, principal(), request.project, request.name, request.version, request.approve, request.message
        )
        return serde.alias_request_to_proto(r)

    async def ListRequests(self, request: registry_pb2.ModelRef, context: Ctx) -> registry_pb2.AliasRequestList:
        found = models.requests(self.ctx, principal(), request.project, request.name)
        return registry_pb2.AliasRequestList(requests=[serde.alias_request_to_proto(r) for r in found])

    async def History(self, request: registry_pb2.HistoryRequest, context: Ctx) -> registry_pb2.AliasHistory:
        moves = models.history(self.ctx, principal(), request.project, request.name, request.at)
        return registry_pb2.AliasHistory(moves=[registry_pb2.AliasMove(**m) for m in moves])  # type: ignore[arg-type]

    async def SetPolicy(self, request: registry_pb2.SetPolicyRequest, context: Ctx) -> registry_pb2.Policy:
        n = models.set_policy(self.ctx, principal(), request.project, request.required_approvals)
        return registry_pb2.Policy(project=request.project, required_approvals=n)


class CommentsServicer(registry_pb2_grpc.CommentsServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    async def AddComment(self, request: registry_pb2.AddCommentRequest, context: Ctx) -> registry_pb2.Comment:
        return registry_pb2.Comment(**comments.add(self.ctx, principal(), request.entity, request.text).__dict__)

    async def ListComments(self, request: registry_pb2.EntityRef, context: Ctx) -> registry_pb2.CommentList:
        found = comments.list_comments(self.ctx, principal(), request.id)
        return registry_pb2.CommentList(comments=[registry_pb2.Comment(**c.__dict__) for c in found])


class LineageServicer(registry_pb2_grpc.LineageServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    async def GetLineage(self, request: registry_pb2.LineageRequest, context: Ctx) -> registry_pb2.LineageGraph:
        root, nodes, edges = lineage.graph(self.ctx, principal(), request.id, request.direction, request.depth)
        return registry_pb2.LineageGraph(
            root=root.id,
            nodes=[registry_pb2.LineageNode(id=n.id, kind=n.kind, label=n.label, project=n.project) for n in nodes],
            edges=[registry_pb2.LineageEdge(src=e.src, dst=e.dst, relation=e.relation) for e in edges],
        )

    async def ExportOpenLineage(
        self, request: registry_pb2.ExportRequest, context: Ctx
    ) -> AsyncIterator[registry_pb2.OpenLineageEvent]:
        for line in lineage.export_openlineage(self.ctx, principal(), request.project):
            yield registry_pb2.OpenLineageEvent(json=line)
