"""deployments.proto: endpoints, their traffic and replicas, endpoint tokens, predictions and version cards."""

from __future__ import annotations

from kiln.core.deployments import (
    Deployment,
    DeploymentEvent,
    Prediction,
    PredictionRecord,
    Replica,
    Split,
    VersionCard,
)
from kiln.core.runs import Resources
from kiln.proto.v1 import deployments_pb2, runs_pb2


def split_to_proto(s: Split) -> deployments_pb2.Split:
    return deployments_pb2.Split(version=s.version, weight=s.weight, shadow=s.shadow)


def split_from_proto(m: deployments_pb2.Split) -> Split:
    return Split(m.version, m.weight, m.shadow)


def deployment_to_proto(d: Deployment) -> deployments_pb2.Deployment:
    return deployments_pb2.Deployment(
        project=d.project,
        name=d.name,
        model=d.model,
        alias=d.alias,
        replicas=d.replicas,
        state=d.state,
        traffic=[split_to_proto(s) for s in d.traffic],
        serving=[split_to_proto(s) for s in d.serving],
        resources=runs_pb2.Resources(cpus=d.cpus, memory_bytes=d.memory_bytes, gpus=d.gpus),
        environment=d.environment,
        sticky_header=d.sticky_header,
        sample_rate=d.sample_rate,
        created_by=d.created_by,
        created_at=d.created_at,
        replica_list=[
            deployments_pb2.Replica(
                run_id=r.run_id,
                version=r.version,
                state=r.state,
                node=r.node,
                address=r.address,
                ready=r.ready,
                started_at=r.started_at,
            )
            for r in d.replica_list
        ],
        events=[
            deployments_pb2.DeploymentEvent(time=e.time, state=e.state, cause=e.cause, actor=e.actor) for e in d.events
        ],
        url=d.url,
    )


def deployment_from_proto(m: deployments_pb2.Deployment) -> Deployment:
    return Deployment(
        project=m.project,
        name=m.name,
        model=m.model,
        alias=m.alias,
        replicas=m.replicas,
        state=m.state,
        traffic=tuple(split_from_proto(s) for s in m.traffic),
        serving=tuple(split_from_proto(s) for s in m.serving),
        cpus=m.resources.cpus,
        memory_bytes=m.resources.memory_bytes,
        gpus=m.resources.gpus,
        environment=m.environment,
        sticky_header=m.sticky_header,
        sample_rate=m.sample_rate,
        created_by=m.created_by,
        created_at=m.created_at,
        replica_list=tuple(
            Replica(r.run_id, r.version, r.state, r.node, r.address, r.ready, r.started_at) for r in m.replica_list
        ),
        events=tuple(DeploymentEvent(e.time, e.state, e.cause, e.actor) for e in m.events),
        url=m.url,
    )


def resources_of(m: runs_pb2.Resources) -> Resources:
    return Resources(cpus=m.cpus, memory_bytes=m.memory_bytes, gpus=m.gpus)


def record_to_proto(r: PredictionRecord) -> deployments_pb2.PredictionRecord:
    return deployments_pb2.PredictionRecord(
        id=r.id,
        endpoint=r.endpoint,
        version=r.version,
        time=r.time,
        latency_ms=r.latency_ms,
        status=r.status,
        replica=r.replica,
        node=r.node,
        shadow=r.shadow,
        caller=r.caller,
        content_type=r.content_type,
        request=r.request,
        response=r.response,
        truncated=r.truncated,
        error=r.error,
    )


def record_from_proto(m: deployments_pb2.PredictionRecord) -> PredictionRecord:
    return PredictionRecord(
        id=m.id,
        endpoint=m.endpoint,
        version=m.version,
        time=m.time,
        latency_ms=m.latency_ms,
        status=m.status,
        replica=m.replica,
        node=m.node,
        shadow=m.shadow,
        caller=m.caller,
        content_type=m.content_type,
        request=m.request,
        response=m.response,
        truncated=m.truncated,
        error=m.error,
    )


def prediction_to_proto(p: Prediction) -> deployments_pb2.Prediction:
    return deployments_pb2.Prediction(
        record=record_to_proto(p.record),
        project=p.project,
        model=p.model,
        model_run=p.model_run,
        snapshot=p.snapshot,
        datasets=list(p.datasets),
        environment=p.environment,
        label=p.label,
        labelled_at=p.labelled_at,
    )


def prediction_from_proto(m: deployments_pb2.Prediction) -> Prediction:
    return Prediction(
        record=record_from_proto(m.record),
        project=m.project,
        model=m.model,
        model_run=m.model_run,
        snapshot=m.snapshot,
        datasets=tuple(m.datasets),
        environment=m.environment,
        label=m.label,
        labelled_at=m.labelled_at,
    )


def card_to_proto(c: VersionCard) -> deployments_pb2.VersionCard:
    return deployments_pb2.VersionCard(
        version=c.version,
        requests=c.requests,
        errors=c.errors,
        p50_ms=c.p50_ms,
        p99_ms=c.p99_ms,
        rate_per_s=c.rate_per_s,
        labelled=c.labelled,
        has_accuracy=c.accuracy is not None,
        accuracy=c.accuracy or 0.0,
        has_mae=c.mae is not None,
        mae=c.mae or 0.0,
    )


def card_from_proto(m: deployments_pb2.VersionCard) -> VersionCard:
    return VersionCard(
        version=m.version,
        requests=m.requests,
        errors=m.errors,
        p50_ms=m.p50_ms,
        p99_ms=m.p99_ms,
        rate_per_s=m.rate_per_s,
        labelled=m.labelled,
        accuracy=m.accuracy if m.has_accuracy else None,
        mae=m.mae if m.has_mae else None,
    )
