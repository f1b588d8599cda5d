"""registry.proto: datasets, the model registry and its approvals, comments, lineage."""

from __future__ import annotations

from kiln.core.lineage import Edge, Entity, LineageGraph
from kiln.core.models import AliasMove, AliasRequest, Comment, DatasetVersion, Model, ModelVersion
from kiln.proto.v1 import registry_pb2


def dataset_version_to_proto(v: DatasetVersion) -> registry_pb2.DatasetVersion:
    return registry_pb2.DatasetVersion(
        project=v.project,
        name=v.name,
        version=v.version,
        snapshot=v.snapshot,
        created_by=v.created_by,
        created_at=v.created_at,
        files=v.files,
        bytes=v.bytes,
    )


def dataset_version_from_proto(m: registry_pb2.DatasetVersion) -> DatasetVersion:
    return DatasetVersion(
        project=m.project,
        name=m.name,
        version=m.version,
        snapshot=m.snapshot,
        created_by=m.created_by,
        created_at=m.created_at,
        files=m.files,
        bytes=m.bytes,
    )


def model_version_to_proto(v: ModelVersion) -> registry_pb2.ModelVersion:
    return registry_pb2.ModelVersion(
        project=v.project,
        name=v.name,
        version=v.version,
        run_id=v.run_id,
        path=v.path,
        snapshot=v.snapshot,
        created_by=v.created_by,
        created_at=v.created_at,
        tags=v.tags,
        metrics=v.metrics,
        aliases=list(v.aliases),
    )


def model_version_from_proto(m: registry_pb2.ModelVersion) -> ModelVersion:
    return ModelVersion(
        project=m.project,
        name=m.name,
        version=m.version,
        run_id=m.run_id,
        path=m.path,
        snapshot=m.snapshot,
        created_by=m.created_by,
        created_at=m.created_at,
        tags=dict(m.tags),
        metrics=dict(m.metrics),
        aliases=tuple(m.aliases),
    )


def model_to_proto(m: Model) -> registry_pb2.Model:
    return registry_pb2.Model(
        project=m.project,
        name=m.name,
        versions=[model_version_to_proto(v) for v in m.versions],
        aliases=m.aliases,
        required_approvals=m.required_approvals,
    )


def model_from_proto(m: registry_pb2.Model) -> Model:
    return Model(
        project=m.project,
        name=m.name,
        versions=tuple(model_version_from_proto(v) for v in m.versions),
        aliases=dict(m.aliases),
        required_approvals=m.required_approvals,
    )


def alias_request_to_proto(r: AliasRequest) -> registry_pb2.AliasRequest:
    return registry_pb2.AliasRequest(
        id=r.id,
        project=r.project,
        name=r.name,
        version=r.version,
        alias=r.alias,
        requester=r.requester,
        state=r.state,
        created_at=r.created_at,
        decided_at=r.decided_at,
        required_approvals=r.required_approvals,
        message=r.message,
        reviews=[registry_pb2.Review(reviewer=a, approve=b, message=c, time=d) for a, b, c, d in r.reviews],
    )


def alias_request_from_proto(m: registry_pb2.AliasRequest) -> AliasRequest:
    return AliasRequest(
        id=m.id,
        project=m.project,
        name=m.name,
        version=m.version,
        alias=m.alias,
        requester=m.requester,
        state=m.state,
        created_at=m.created_at,
        decided_at=m.decided_at,
        required_approvals=m.required_approvals,
        message=m.message,
        reviews=tuple((r.reviewer, r.approve, r.message, r.time) for r in m.reviews),
    )


def alias_move_to_proto(a: AliasMove) -> registry_pb2.AliasMove:
    return registry_pb2.AliasMove(alias=a.alias, version=a.version, time=a.time, actor=a.actor, request_id=a.request_id)


def alias_move_from_proto(m: registry_pb2.AliasMove) -> AliasMove:
    return AliasMove(alias=m.alias, version=m.version, time=m.time, actor=m.actor, request_id=m.request_id)


def comment_to_proto(c: Comment) -> registry_pb2.Comment:
    return registry_pb2.Comment(id=c.id, entity=c.entity, project=c.project, author=c.author, text=c.text, time=c.time)


def comment_from_proto(m: registry_pb2.Comment) -> Comment:
    return Comment(id=m.id, entity=m.entity, project=m.project, author=m.author, text=m.text, time=m.time)


def lineage_graph_to_proto(g: LineageGraph) -> registry_pb2.LineageGraph:
    return registry_pb2.LineageGraph(
        root=g.root,
        nodes=[registry_pb2.LineageNode(id=n.id, kind=n.kind, label=n.label, project=n.project) for n in g.nodes],
        edges=[registry_pb2.LineageEdge(src=e.src, dst=e.dst, relation=e.relation) for e in g.edges],
    )


def lineage_graph_from_proto(m: registry_pb2.LineageGraph) -> LineageGraph:
    return LineageGraph(
        root=m.root,
        nodes=tuple(Entity(id=n.id, kind=n.kind, project=n.project, label=n.label) for n in m.nodes),
        edges=tuple(Edge(src=e.src, dst=e.dst, relation=e.relation) for e in m.edges),
    )
