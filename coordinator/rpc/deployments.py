"""deployments.proto: endpoints, traffic, endpoint tokens, the prediction ledger, feedback and batch scoring."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from kiln.coordinator.context import Coordinator
from kiln.coordinator.deployments import ledger, manage, scoring
from kiln.coordinator.rpc.interceptor import principal
from kiln.coordinator.rpc.link import AgentLink
from kiln.coordinator.rpc.paging import encoded
from kiln.core import paging
from kiln.core.deployments import Deployment
from kiln.proto.v1 import deployments_pb2, deployments_pb2_grpc, runs_pb2
from kiln.serde import deployments as wire
from kiln.serde.runs import run_to_proto

Ctx: TypeAlias = grpc.aio.ServicerContext


def _token(row: dict[str, Any], secret: str = "") -> deployments_pb2.EndpointToken:
    return deployments_pb2.EndpointToken(
        id=row["id"],
        deployment=row["deployment"],
        name=row["name"],
        secret=secret,
        created_by=row["created_by"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row.get("revoked_at", 0.0),
    )


class DeploymentsServicer(deployments_pb2_grpc.DeploymentsServicer):
    def __init__(self, ctx: Coordinator, link: AgentLink) -> None:
        self.ctx = ctx
        self.link = link

    def _changed(self, d: Deployment) -> deployments_pb2.Deployment:
        """An endpoint changed: the controller acts on it now rather than at its next pass."""
        self.link.dispatcher.deployments.poke()
        self.link.wake_threadsafe()
        return wire.deployment_to_proto(d)

    def CreateDeployment(
        self, request: deployments_pb2.CreateDeploymentRequest, context: Ctx
    ) -> deployments_pb2.Deployment:
        r = request.resources
        new = manage.NewDeployment(
            project=request.project,
            name=request.name,
            model=request.model,
            version=request.version,
            alias=request.alias,
            replicas=request.replicas or 1,
            cpus=r.cpus,
            memory_bytes=r.memory_bytes,
            gpus=r.gpus,
            environment=request.environment,
            sticky_header=request.sticky_header,
            sample_rate=request.sample_rate,
        )
        return self._changed(manage.create(self.ctx, principal(), new))

    def ListDeployments(
        self, request: deployments_pb2.ListDeploymentsRequest, context: Ctx
    ) -> deployments_pb2.DeploymentList:
        page = paging.request("ListDeployments", request.page_size, request.page_token)
        found = manage.list_page(self.ctx, principal(), request.project, page)
        rows, token = encoded("ListDeployments", found, wire.deployment_to_proto)
        return deployments_pb2.DeploymentList(deployments=rows, next_page_token=token)

    def GetDeployment(self, request: deployments_pb2.DeploymentRef, context: Ctx) -> deployments_pb2.Deployment:
        return wire.deployment_to_proto(manage.get(self.ctx, principal(), request.name))

    def ScaleDeployment(self, request: deployments_pb2.ScaleRequest, context: Ctx) -> deployments_pb2.Deployment:
        return self._changed(manage.scale(self.ctx, principal(), request.name, request.replicas))

    def StopDeployment(self, request: deployments_pb2.DeploymentRef, context: Ctx) -> deployments_pb2.Deployment:
        return self._changed(manage.stop(self.ctx, principal(), request.name))

    def SetTraffic(self, request: deployments_pb2.SetTrafficRequest, context: Ctx) -> deployments_pb2.Deployment:
        splits = tuple(wire.split_from_proto(s) for s in request.splits)
        found = manage.set_traffic(
            self.ctx, principal(), request.name, splits, request.sticky_header, request.follow_alias
        )
        return self._changed(found)

    def CreateEndpointToken(
        self, request: deployments_pb2.EndpointTokenRequest, context: Ctx
    ) -> deployments_pb2.EndpointToken:
        secret, row = manage.create_token(self.ctx, principal(), request.deployment, request.name, request.ttl_s)
        return _token(row, secret)

    def RevokeEndpointToken(
        self, request: deployments_pb2.EndpointTokenRef, context: Ctx
    ) -> deployments_pb2.EndpointToken:
        return _token(manage.revoke_token(self.ctx, principal(), request.id))

    def ListPredictions(
        self, request: deployments_pb2.ListPredictionsRequest, context: Ctx
    ) -> deployments_pb2.PredictionList:
        page = paging.request("ListPredictions", request.page_size, request.page_token)
        found = ledger.list_page(
            self.ctx,
            principal(),
            request.deployment,
            request.since,
            request.until,
            request.version,
            page,
            bodies=not request.without_bodies,
        )
        rows, token = encoded("ListPredictions", found, wire.prediction_to_proto)
        return deployments_pb2.PredictionList(predictions=rows, next_page_token=token)

    def GetPrediction(self, request: deployments_pb2.PredictionRef, context: Ctx) -> deployments_pb2.Prediction:
        return wire.prediction_to_proto(ledger.get(self.ctx, principal(), request.id))

    def AddFeedback(self, request: deployments_pb2.FeedbackRequest, context: Ctx) -> deployments_pb2.FeedbackReply:
        labels = [(x.prediction_id, x.label) for x in request.labels]
        joined, unknown = ledger.add_feedback(self.ctx, principal(), request.deployment, labels)
        return deployments_pb2.FeedbackReply(joined=joined, unknown=unknown[:20])

    def GetStats(self, request: deployments_pb2.StatsRequest, context: Ctx) -> deployments_pb2.StatsReply:
        cards = ledger.stats(self.ctx, principal(), request.deployment, request.since)
        return deployments_pb2.StatsReply(cards=[wire.card_to_proto(c) for c in cards])

    def ScoreBatch(self, request: deployments_pb2.ScoreRequest, context: Ctx) -> runs_pb2.Run:
        r = request.resources
        job = scoring.Scoring(
            project=request.project,
            model=request.model,
            version=request.version,
            input=request.input,
            output=request.output,
            cpus=r.cpus,
            memory_bytes=r.memory_bytes,
            gpus=r.gpus,
            environment=request.environment,
        )
        return run_to_proto(scoring.submit(self.ctx, principal(), job))
