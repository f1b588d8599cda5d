"""Conversions between wire messages (kiln.proto) and domain values (kiln.core): x_to_proto / x_from_proto.

Shared by both ends of the wire, the coordinator's servicers and the client, so a field is mapped once.
"""

from __future__ import annotations

from kiln.core.audit import AuditRecord
from kiln.core.blobparts import BlobPart
from kiln.core.manifest import Entry
from kiln.core.models import (
    AliasRequest,
    DatasetVersion,
    GpuInfo,
    Inventory,
    ModelVersion,
    Node,
    Project,
    RunRecord,
    Snapshot,
    Token,
    User,
)
from kiln.core.permissions import Role
from kiln.core.runs import LogChunk, Priority, Resources, Run, RunEvent, RunSpec, RunState, TrackBatch
from kiln.proto.v1 import admin_pb2, common_pb2, nodes_pb2, projects_pb2, registry_pb2, runs_pb2, tracking_pb2


def user_to_proto(u: User) -> admin_pb2.User:
    return admin_pb2.User(name=u.name, is_admin=u.is_admin, disabled=u.disabled, created_at=u.created_at)


def user_from_proto(m: admin_pb2.User) -> User:
    return User(m.name, m.is_admin, m.disabled, m.created_at)


def token_to_proto(t: Token) -> admin_pb2.Token:
    return admin_pb2.Token(
        id=t.id,
        user=t.user,
        name=t.name,
        created_at=t.created_at,
        expires_at=t.expires_at,
        revoked_at=t.revoked_at,
        last_used_at=t.last_used_at,
    )


def token_from_proto(m: admin_pb2.Token) -> Token:
    return Token(m.id, m.user, m.name, m.created_at, m.expires_at, m.revoked_at, m.last_used_at)


def audit_to_proto(r: AuditRecord) -> admin_pb2.AuditRecord:
    return admin_pb2.AuditRecord(
        seq=r.seq,
        time=r.time,
        actor=r.actor,
        action=r.action,
        target=r.target,
        details_json=r.details_json,
        prev_hash=r.prev_hash,
        hash=r.hash,
    )


def audit_from_proto(m: admin_pb2.AuditRecord) -> AuditRecord:
    return AuditRecord(m.seq, m.time, m.actor, m.action, m.target, m.details_json, m.prev_hash, m.hash)


def project_to_proto(p: Project) -> projects_pb2.Project:
    return projects_pb2.Project(
        name=p.name,
        description=p.description,
        created_by=p.created_by,
        created_at=p.created_at,
        archived_at=p.archived_at,
        my_role=p.my_role,
        validators=list(p.validators),
        members=[projects_pb2.Member(user=u, role=str(r)) for u, r in sorted(p.members.items())],
    )


def project_from_proto(m: projects_pb2.Project) -> Project:
    return Project(
        m.name,
        m.description,
        m.created_by,
        m.created_at,
        m.archived_at,
        {x.user: Role.parse(x.role) for x in m.members},
        m.my_role,
        tuple(m.validators),
    )


def snapshot_to_proto(s: Snapshot) -> projects_pb2.Snapshot:
    return projects_pb2.Snapshot(
        id=s.id,
        project=s.project,
        parent=s.parent,
        message=s.message,
        author=s.author,
        created_at=s.created_at,
        files=s.files,
        bytes=s.bytes,
    )


def snapshot_from_proto(m: projects_pb2.Snapshot) -> Snapshot:
    return Snapshot(m.id, m.project, m.parent, m.message, m.author, m.created_at, m.files, m.bytes)


def entry_to_proto(e: Entry) -> common_pb2.ManifestEntry:
    return common_pb2.ManifestEntry(path=e.path, mode=e.mode, size=e.size, digest=e.digest)


def entry_from_proto(m: common_pb2.ManifestEntry) -> Entry:
    return Entry(m.path, m.mode, m.size, m.digest)


def part_to_proto(p: BlobPart) -> common_pb2.BlobPart:
    return common_pb2.BlobPart(digest=p.digest, offset=p.offset, data=p.data, last=p.last)


def part_from_proto(m: common_pb2.BlobPart) -> BlobPart:
    return BlobPart(m.digest, m.offset, m.data, m.last)


def resources_to_proto(r: Resources) -> runs_pb2.Resources:
    return runs_pb2.Resources(cpus=r.cpus, memory_bytes=r.memory_bytes, gpus=r.gpus, gpu_model=r.gpu_model)


def resources_from_proto(m: runs_pb2.Resources) -> Resources:
    return Resources(m.cpus or 1.0, m.memory_bytes, m.gpus, m.gpu_model)


def run_spec_to_proto(s: RunSpec) -> runs_pb2.RunSpec:
    return runs_pb2.RunSpec(
        project=s.project,
        command=list(s.command),
        snapshot=s.snapshot,
        image=s.image,
        runtime=s.runtime,
        resources=resources_to_proto(s.resources),
        priority=str(s.priority),
        node_labels=s.node_labels,
        retries=s.retries,
        env=s.env,
        network=s.network,
        datasets=list(s.datasets),
        parent_run=s.parent_run,
    )


def run_spec_from_proto(m: runs_pb2.RunSpec) -> RunSpec:
    return RunSpec(
        project=m.project,
        command=tuple(m.command),
        snapshot=m.snapshot,
        image=m.image,
        runtime=m.runtime,
        resources=resources_from_proto(m.resources),
        priority=Priority.parse(m.priority or "normal"),
        node_labels=dict(m.node_labels),
        retries=m.retries,
        env=dict(m.env),
        network=m.network or "none",
        datasets=tuple(m.datasets),
        parent_run=m.parent_run,
    )


def run_to_proto(r: Run) -> runs_pb2.Run:
    return runs_pb2.Run(
        id=r.id,
        spec=run_spec_to_proto(r.spec),
        user=r.user,
        state=str(r.state),
        created_at=r.created_at,
        node=r.node,
        attempt=r.attempt,
        gpu_uuids=list(r.gpu_uuids),
        has_exit_code=r.exit_code is not None,
        exit_code=r.exit_code or 0,
        reason=r.reason,
        started_at=r.started_at,
        finished_at=r.finished_at,
        output_snapshot=r.output_snapshot,
        cancel_requested=r.cancel_requested,
        runtime=r.runtime,
        events=[
            runs_pb2.RunEvent(time=e.time, state=str(e.state), cause=e.cause, node=e.node, attempt=e.attempt)
            for e in r.events
        ],
    )


def run_from_proto(m: runs_pb2.Run) -> Run:
    return Run(
        id=m.id,
        spec=run_spec_from_proto(m.spec),
        user=m.user,
        state=RunState(m.state),
        created_at=m.created_at,
        node=m.node,
        attempt=m.attempt,
        gpu_uuids=tuple(m.gpu_uuids),
        exit_code=m.exit_code if m.has_exit_code else None,
        reason=m.reason,
        started_at=m.started_at,
        finished_at=m.finished_at,
        output_snapshot=m.output_snapshot,
        cancel_requested=m.cancel_requested,
        runtime=m.runtime,
        events=tuple(RunEvent(e.time, RunState(e.state), e.cause, e.node, e.attempt) for e in m.events),
    )


def inventory_to_proto(i: Inventory) -> nodes_pb2.Inventory:
    return nodes_pb2.Inventory(
        cpus=i.cpus,
        memory_bytes=i.memory_bytes,
        disk_bytes=i.disk_bytes,
        gpus=[
            nodes_pb2.Gpu(
                uuid=g.uuid,
                model=g.model,
                memory_bytes=g.memory_bytes,
                utilization=g.utilization,
                memory_used_bytes=g.memory_used_bytes,
                temperature_c=g.temperature_c,
            )
            for g in i.gpus
        ],
        cpu_percent=i.cpu_percent,
        memory_used_bytes=i.memory_used_bytes,
        disk_free_bytes=i.disk_free_bytes,
        driver_version=i.driver_version,
        cuda_version=i.cuda_version,
    )


def inventory_from_proto(m: nodes_pb2.Inventory) -> Inventory:
    return Inventory(
        cpus=m.cpus,
        memory_bytes=m.memory_bytes,
        disk_bytes=m.disk_bytes,
        gpus=tuple(
            GpuInfo(g.uuid, g.model, g.memory_bytes, g.utilization, g.memory_used_bytes, g.temperature_c)
            for g in m.gpus
        ),
        cpu_percent=m.cpu_percent,
        memory_used_bytes=m.memory_used_bytes,
        disk_free_bytes=m.disk_free_bytes,
        driver_version=m.driver_version,
        cuda_version=m.cuda_version,
    )


def node_to_proto(n: Node) -> nodes_pb2.Node:
    return nodes_pb2.Node(
        name=n.name,
        state=n.state,
        labels=n.labels,
        runtimes=n.runtimes,
        inventory=inventory_to_proto(n.inventory),
        drained=n.drained,
        last_seen=n.last_seen,
        created_at=n.created_at,
        version=n.version,
        runs=list(n.runs),
    )


def node_from_proto(m: nodes_pb2.Node) -> Node:
    return Node(
        name=m.name,
        state=m.state,
        labels=dict(m.labels),
        runtimes=dict(m.runtimes),
        inventory=inventory_from_proto(m.inventory),
        drained=m.drained,
        last_seen=m.last_seen,
        created_at=m.created_at,
        version=m.version,
        runs=tuple(m.runs),
    )


def log_chunk_to_proto(c: LogChunk) -> runs_pb2.LogChunk:
    return runs_pb2.LogChunk(attempt=c.attempt, seq=c.seq, stream=c.stream, data=c.data, time=c.time)


def log_chunk_from_proto(m: runs_pb2.LogChunk) -> LogChunk:
    return LogChunk(m.attempt, m.seq, m.stream, m.data, m.time)


def track_batch_from_proto(m: tracking_pb2.TrackBatch) -> TrackBatch:
    cols = m.metrics
    keys = list(cols.keys)
    metrics = [
        (keys[i], s, v, t) for i, s, v, t in zip(cols.key_index, cols.step, cols.value, cols.timestamp, strict=True)
    ]
    return TrackBatch(
        m.run_id,
        m.attempt,
        m.pid,
        m.seq,
        dict(m.params),
        dict(m.tags),
        metrics,
        list(m.artifacts),
        list(m.datasets),
        [(x.path, x.name, x.flavor) for x in m.models],
        dict(m.environment),
    )


def run_record_to_proto(r: RunRecord) -> tracking_pb2.RunRecord:
    return tracking_pb2.RunRecord(
        run=run_to_proto(r.run),
        params=r.params,
        tags=r.tags,
        metrics=[
            tracking_pb2.FinalMetric(key=k, value=v, step=s, min=lo, max=hi, count=n)
            for k, v, s, lo, hi, n in r.metrics
        ],
        artifacts=r.artifacts,
        models=[tracking_pb2.LoggedModel(path=p, name=n, flavor=f) for p, n, f in r.models],
        inputs=r.inputs,
        environment=r.environment,
    )


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


def run_record_from_proto(m: tracking_pb2.RunRecord) -> RunRecord:
    return RunRecord(
        run_from_proto(m.run),
        dict(m.params),
        dict(m.tags),
        [(x.key, x.value, x.step, x.min, x.max, x.count) for x in m.metrics],
        list(m.artifacts),
        [(x.path, x.name, x.flavor) for x in m.models],
        list(m.inputs),
        dict(m.environment),
    )


def dataset_version_from_proto(m: registry_pb2.DatasetVersion) -> DatasetVersion:
    return DatasetVersion(m.project, m.name, m.version, m.snapshot, m.created_by, m.created_at, m.files, m.bytes)


def model_version_from_proto(m: registry_pb2.ModelVersion) -> ModelVersion:
    return ModelVersion(
        m.project,
        m.name,
        m.version,
        m.run_id,
        m.path,
        m.snapshot,
        m.created_by,
        m.created_at,
        dict(m.tags),
        dict(m.metrics),
        tuple(m.aliases),
    )


def alias_request_from_proto(m: registry_pb2.AliasRequest) -> AliasRequest:
    return AliasRequest(
        m.id,
        m.project,
        m.name,
        m.version,
        m.alias,
        m.requester,
        m.state,
        m.created_at,
        m.decided_at,
        m.required_approvals,
        m.message,
        tuple((r.reviewer, r.approve, r.message, r.time) for r in m.reviews),
    )
