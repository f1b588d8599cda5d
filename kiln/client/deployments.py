"""The client's calls of deployments.proto: endpoints, traffic, endpoint tokens, predictions, feedback,
version cards and batch scoring."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiln.client.base import Connection

if TYPE_CHECKING:
    from kiln.core.deployments import Deployment, Prediction, Split, VersionCard
    from kiln.core.runs import Resources, Run
    from kiln.proto.v1 import deployments_pb2, deployments_pb2_grpc, runs_pb2
    from kiln.serde import deployments as deployments_wire
    from kiln.serde import runs as runs_wire
else:
    from kiln.client.base import deployments_pb2, deployments_pb2_grpc, deployments_wire, runs_pb2, runs_wire


@dataclass(frozen=True)
class EndpointToken:
    id: str
    deployment: str
    name: str
    secret: str  # only when just made
    created_by: str
    created_at: float
    expires_at: float
    revoked_at: float = 0.0


def _resources(r: Resources | None) -> runs_pb2.Resources:
    if r is None:
        return runs_pb2.Resources()
    return runs_pb2.Resources(cpus=r.cpus, memory_bytes=r.memory_bytes, gpus=r.gpus)


class DeploymentCalls(Connection):
    def _deployments(self) -> deployments_pb2_grpc.DeploymentsStub:
        return self._stub(deployments_pb2_grpc.DeploymentsStub)

    def create_deployment(
        self,
        project: str,
        name: str,
        model: str,
        version: int = 0,
        alias: str = "",
        replicas: int = 1,
        resources: Resources | None = None,
        environment: str = "",
        sticky_header: str = "",
        sample_rate: float = 0.0,
    ) -> Deployment:
        req = deployments_pb2.CreateDeploymentRequest(
            project=project,
            name=name,
            model=model,
            version=version,
            alias=alias,
            replicas=replicas,
            resources=_resources(resources),
            environment=environment,
            sticky_header=sticky_header,
            sample_rate=sample_rate,
        )
        return deployments_wire.deployment_from_proto(self._call(self._deployments().CreateDeployment, req))

    def list_deployments(self, project: str = "") -> list[Deployment]:
        return self._listing(
            self._deployments().ListDeployments,
            deployments_pb2.ListDeploymentsRequest(project=project),
            "deployments",
            deployments_wire.deployment_from_proto,
        )

    def get_deployment(self, name: str) -> Deployment:
        req = deployments_pb2.DeploymentRef(name=name)
        return deployments_wire.deployment_from_proto(self._call(self._deployments().GetDeployment, req))

    def scale_deployment(self, name: str, replicas: int) -> Deployment:
        req = deployments_pb2.ScaleRequest(name=name, replicas=replicas)
        return deployments_wire.deployment_from_proto(self._call(self._deployments().ScaleDeployment, req))

    def stop_deployment(self, name: str) -> Deployment:
        req = deployments_pb2.DeploymentRef(name=name)
        return deployments_wire.deployment_from_proto(self._call(self._deployments().StopDeployment, req))

    def set_traffic(
        self, name: str, splits: Sequence[Split], sticky_header: str = "", follow_alias: bool = True
    ) -> Deployment:
        req = deployments_pb2.SetTrafficRequest(
            name=name,
            splits=[deployments_wire.split_to_proto(s) for s in splits],
            sticky_header=sticky_header,
            follow_alias=follow_alias,
        )
        return deployments_wire.deployment_from_proto(self._call(self._deployments().SetTraffic, req))

    def create_endpoint_token(self, deployment: str, name: str, ttl_s: float = 0.0) -> EndpointToken:
        req = deployments_pb2.EndpointTokenRequest(deployment=deployment, name=name, ttl_s=ttl_s)
        return _token(self._call(self._deployments().CreateEndpointToken, req))

    def revoke_endpoint_token(self, token_id: str) -> EndpointToken:
        return _token(
            self._call(self._deployments().RevokeEndpointToken, deployments_pb2.EndpointTokenRef(id=token_id))
        )

    def prediction_pages(
        self, deployment: str, since: float = 0.0, until: float = 0.0, version: int = 0, bodies: bool = True,
        limit: int = 0,
    ) -> Iterator[list[Prediction]]:  # fmt: skip
        """Newest first, page by page."""
        req = deployments_pb2.ListPredictionsRequest(
            deployment=deployment, since=since, until=until, version=version, without_bodies=not bodies
        )
        return self._pages(
            self._deployments().ListPredictions,
            req,
            lambda r: [deployments_wire.prediction_from_proto(p) for p in r.predictions],
            limit=limit,
        )

    def list_predictions(
        self, deployment: str, since: float = 0.0, until: float = 0.0, version: int = 0, bodies: bool = True,
        limit: int = 0,
    ) -> list[Prediction]:  # fmt: skip
        pages = self.prediction_pages(deployment, since, until, version, bodies, limit)
        return [p for page in pages for p in page]

    def get_prediction(self, prediction_id: str) -> Prediction:
        req = deployments_pb2.PredictionRef(id=prediction_id)
        return deployments_wire.prediction_from_proto(self._call(self._deployments().GetPrediction, req))

    def add_feedback(self, deployment: str, labels: Sequence[tuple[str, str]]) -> tuple[int, list[str]]:
        """(how many joined, ids of this endpoint's predictions not found: at most 20)."""
        req = deployments_pb2.FeedbackRequest(
            deployment=deployment, labels=[deployments_pb2.Label(prediction_id=i, label=v) for i, v in labels]
        )
        reply = self._call(self._deployments().AddFeedback, req)
        return reply.joined, list(reply.unknown)

    def deployment_stats(self, deployment: str, since: float = 0.0) -> list[VersionCard]:
        reply = self._call(
            self._deployments().GetStats, deployments_pb2.StatsRequest(deployment=deployment, since=since)
        )
        return [deployments_wire.card_from_proto(c) for c in reply.cards]

    def score_batch(
        self, project: str, model: str, version: int, input: str, output: str = "",
        resources: Resources | None = None, environment: str = "",
    ) -> Run:  # fmt: skip
        req = deployments_pb2.ScoreRequest(
            project=project, model=model, version=version, input=input, output=output,
            resources=_resources(resources), environment=environment,
        )  # fmt: skip
        return runs_wire.run_from_proto(self._call(self._deployments().ScoreBatch, req))


def _token(m: deployments_pb2.EndpointToken) -> EndpointToken:
    return EndpointToken(m.id, m.deployment, m.name, m.secret, m.created_by, m.created_at, m.expires_at, m.revoked_at)
