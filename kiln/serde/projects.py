"""projects.proto and common.proto: projects and their members, snapshots, manifest entries, blob parts."""

from __future__ import annotations

from kiln.core.blobparts import BlobPart
from kiln.core.manifest import Entry
from kiln.core.models import Project, Snapshot
from kiln.core.overview import BestRun, ProjectSummary
from kiln.core.permissions import Role
from kiln.proto.v1 import common_pb2, projects_pb2


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
        name=m.name,
        description=m.description,
        created_by=m.created_by,
        created_at=m.created_at,
        archived_at=m.archived_at,
        members={x.user: Role.parse(x.role) for x in m.members},
        my_role=m.my_role,
        validators=tuple(m.validators),
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
    return Snapshot(
        id=m.id,
        project=m.project,
        parent=m.parent,
        message=m.message,
        author=m.author,
        created_at=m.created_at,
        files=m.files,
        bytes=m.bytes,
    )


def entry_to_proto(e: Entry) -> common_pb2.ManifestEntry:
    return common_pb2.ManifestEntry(path=e.path, mode=e.mode, size=e.size, digest=e.digest)


def entry_from_proto(m: common_pb2.ManifestEntry) -> Entry:
    return Entry(path=m.path, mode=m.mode, size=m.size, digest=m.digest)


def part_to_proto(p: BlobPart) -> common_pb2.BlobPart:
    return common_pb2.BlobPart(digest=p.digest, offset=p.offset, data=p.data, last=p.last)


def part_from_proto(m: common_pb2.BlobPart) -> BlobPart:
    return BlobPart(digest=m.digest, offset=m.offset, data=m.data, last=m.last)


def summary_to_proto(s: ProjectSummary) -> projects_pb2.ProjectSummary:
    m = projects_pb2.ProjectSummary(
        project=s.project,
        runs=[projects_pb2.RunStateCount(state=k, runs=n) for k, n in sorted(s.runs_by_state.items())],
        last_activity=s.last_activity,
        storage_bytes=s.storage_bytes,
        storage_blobs=s.storage_blobs,
        members=s.members,
    )
    if s.best is not None:
        b = s.best
        m.best.CopyFrom(
            projects_pb2.BestRun(
                run_id=b.run_id, name=b.name, metric=b.metric, direction=b.direction, finished_at=b.finished_at
            )
        )
        if b.value is not None:
            m.best.value = b.value
    return m


def summary_from_proto(m: projects_pb2.ProjectSummary) -> ProjectSummary:
    best = None
    if m.HasField("best"):
        b = m.best
        value = b.value if b.HasField("value") else None
        best = BestRun(b.run_id, b.name, b.metric, b.direction, value, b.finished_at)
    return ProjectSummary(
        project=m.project,
        runs_by_state={c.state: c.runs for c in m.runs},
        last_activity=m.last_activity,
        storage_bytes=m.storage_bytes,
        storage_blobs=m.storage_blobs,
        members=m.members,
        best=best,
    )
