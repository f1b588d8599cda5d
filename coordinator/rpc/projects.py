"""Servicers for projects and snapshots."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from kiln import serde
from kiln.coordinator import models, projects, snapshots
from kiln.coordinator.context import Coordinator
from kiln.coordinator.rpc.interceptor import principal
from kiln.core.blobparts import BlobPart
from kiln.core.errors import InvalidArgument
from kiln.core.permissions import Role
from kiln.proto.v1 import common_pb2, projects_pb2, projects_pb2_grpc

Ctx: TypeAlias = grpc.aio.ServicerContext


class ProjectsServicer(projects_pb2_grpc.ProjectsServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    async def CreateProject(self, request: projects_pb2.CreateProjectRequest, context: Ctx) -> projects_pb2.Project:
        project = projects.create_project(self.ctx.store, principal(), request.name, request.description)
        return serde.project_to_proto(project)

    async def ListProjects(self, request: projects_pb2.ListProjectsRequest, context: Ctx) -> projects_pb2.ProjectList:
        found = projects.list_projects(self.ctx.store, principal(), request.include_archived)
        return projects_pb2.ProjectList(projects=[serde.project_to_proto(p) for p in found])

    async def GetProject(self, request: common_pb2.ProjectRef, context: Ctx) -> projects_pb2.Project:
        return serde.project_to_proto(projects.get_project(self.ctx.store, principal(), request.project))

    async def SetMember(self, request: projects_pb2.SetMemberRequest, context: Ctx) -> projects_pb2.Project:
        try:
            role = Role.parse(request.role)
        except ValueError as e:
            raise InvalidArgument(str(e)) from None
        project = projects.set_member(self.ctx.store, principal(), request.project, request.user, role)
        return serde.project_to_proto(project)

    async def RemoveMember(self, request: projects_pb2.RemoveMemberRequest, context: Ctx) -> projects_pb2.Project:
        project = projects.remove_member(self.ctx.store, principal(), request.project, request.user)
        return serde.project_to_proto(project)

    async def SetValidator(self, request: projects_pb2.SetValidatorRequest, context: Ctx) -> projects_pb2.Project:
        models.set_validator(self.ctx, principal(), request.project, request.user, request.validator)
        return serde.project_to_proto(projects.get_project(self.ctx.store, principal(), request.project))

    async def ArchiveProject(self, request: common_pb2.ProjectRef, context: Ctx) -> projects_pb2.Project:
        return serde.project_to_proto(projects.archive_project(self.ctx.store, principal(), request.project))


class SnapshotsServicer(projects_pb2_grpc.SnapshotsServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    async def FindMissingBlobs(
        self, request: projects_pb2.FindMissingBlobsRequest, context: Ctx
    ) -> projects_pb2.FindMissingBlobsReply:
        missing = snapshots.find_missing(
            self.ctx, principal(), request.project, [(b.digest, b.size) for b in request.blobs]
        )
        return projects_pb2.FindMissingBlobsReply(missing=missing)

    async def UploadBlobs(
        self, request_iterator: AsyncIterator[projects_pb2.UploadBlobsRequest], context: Ctx
    ) -> projects_pb2.UploadBlobsReply:
        async def messages() -> AsyncIterator[tuple[str, list[BlobPart]]]:
            async for m in request_iterator:
                yield m.project, [serde.part_from_proto(p) for p in m.parts]

        stored, received = await snapshots.receive_blobs(self.ctx, principal(), messages())
        return projects_pb2.UploadBlobsReply(stored=stored, bytes_received=received)

    async def CreateSnapshot(self, request: projects_pb2.CreateSnapshotRequest, context: Ctx) -> projects_pb2.Snapshot:
        new = snapshots.NewSnapshot(
            [serde.entry_from_proto(e) for e in request.entries],
            request.parent,
            request.message,
            request.expected_id,
            request.base,
            tuple(request.removed),
        )
        snap = snapshots.create_snapshot(self.ctx, principal(), request.project, new)
        return serde.snapshot_to_proto(snap)

    async def ListSnapshots(self, request: common_pb2.ProjectRef, context: Ctx) -> projects_pb2.SnapshotList:
        found = snapshots.list_snapshots(self.ctx, principal(), request.project)
        return projects_pb2.SnapshotList(snapshots=[serde.snapshot_to_proto(s) for s in found])

    async def GetSnapshot(
        self, request: projects_pb2.GetSnapshotRequest, context: Ctx
    ) -> projects_pb2.SnapshotManifest:
        if request.summary_only:
            snap = snapshots.resolve_snapshot(self.ctx, principal(), request.project, request.id)
            return projects_pb2.SnapshotManifest(snapshot=serde.snapshot_to_proto(snap))
        snap, entries = snapshots.get_manifest(self.ctx, principal(), request.project, request.id)
        return projects_pb2.SnapshotManifest(
            snapshot=serde.snapshot_to_proto(snap), entries=[serde.entry_to_proto(e) for e in entries]
        )

    async def ReadBlobs(
        self, request: projects_pb2.ReadBlobsRequest, context: Ctx
    ) -> AsyncIterator[common_pb2.BlobParts]:
        async for batch in snapshots.read_blobs(self.ctx, principal(), request.project, list(request.digests)):
            yield common_pb2.BlobParts(parts=[serde.part_to_proto(p) for p in batch])
