"""projects.proto: projects and their members, snapshots and their blobs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from kiln.coordinator import projects, registry, snapshots
from kiln.coordinator.context import Coordinator
from kiln.coordinator.rpc.interceptor import principal
from kiln.coordinator.rpc.paging import encoded
from kiln.coordinator.rpc.workers import Workers, heavy
from kiln.core import paging
from kiln.core.defaults import MAX_MESSAGE_BYTES
from kiln.core.errors import FailedPrecondition, InvalidArgument
from kiln.core.paging import EVERY_ROW, REPLY_BUDGET_BYTES, PageRequest
from kiln.core.permissions import Role
from kiln.proto.v1 import common_pb2, projects_pb2, projects_pb2_grpc
from kiln.serde import projects as wire

Ctx: TypeAlias = grpc.aio.ServicerContext
# A client from before paged manifests asks for a whole manifest: it gets one if it fits in a message
# (with room for the snapshot's record), and a clear refusal if not, never a part of one.
WHOLE_BUDGET = MAX_MESSAGE_BYTES - 1024**2


class ProjectsServicer(projects_pb2_grpc.ProjectsServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    def CreateProject(self, request: projects_pb2.CreateProjectRequest, context: Ctx) -> projects_pb2.Project:
        project = projects.create_project(self.ctx.store, principal(), request.name, request.description)
        return wire.project_to_proto(project)

    def ListProjects(self, request: projects_pb2.ListProjectsRequest, context: Ctx) -> projects_pb2.ProjectList:
        page = paging.request("ListProjects", request.page_size, request.page_token)
        found = projects.list_projects(self.ctx.store, principal(), request.include_archived, page)
        rows, token = encoded("ListProjects", found, wire.project_to_proto)
        return projects_pb2.ProjectList(projects=rows, next_page_token=token)

    def GetProject(self, request: common_pb2.ProjectRef, context: Ctx) -> projects_pb2.Project:
        return wire.project_to_proto(projects.get_project(self.ctx.store, principal(), request.project))

    def SetMember(self, request: projects_pb2.SetMemberRequest, context: Ctx) -> projects_pb2.Project:
        try:
            role = Role.parse(request.role)
        except ValueError as e:
            raise InvalidArgument(str(e)) from None
        project = projects.set_member(self.ctx.store, principal(), request.project, request.user, role)
        return wire.project_to_proto(project)

    def RemoveMember(self, request: projects_pb2.RemoveMemberRequest, context: Ctx) -> projects_pb2.Project:
        project = projects.remove_member(self.ctx.store, principal(), request.project, request.user)
        return wire.project_to_proto(project)

    def SetValidator(self, request: projects_pb2.SetValidatorRequest, context: Ctx) -> projects_pb2.Project:
        registry.set_validator(self.ctx, principal(), request.project, request.user, request.validator)
        return wire.project_to_proto(projects.get_project(self.ctx.store, principal(), request.project))

    def GetProjectSummary(
        self, request: projects_pb2.ProjectSummaryRequest, context: Ctx
    ) -> projects_pb2.ProjectSummary:
        found = projects.summary(self.ctx.store, principal(), request.project, request.metric, request.direction)
        return wire.summary_to_proto(found)

    def ArchiveProject(self, request: common_pb2.ProjectRef, context: Ctx) -> projects_pb2.Project:
        return wire.project_to_proto(projects.archive_project(self.ctx.store, principal(), request.project))


class SnapshotsServicer(projects_pb2_grpc.SnapshotsServicer):
    def __init__(self, ctx: Coordinator, workers: Workers) -> None:
        self.ctx = ctx
        self.workers = workers

    def FindMissingBlobs(
        self, request: projects_pb2.FindMissingBlobsRequest, context: Ctx
    ) -> projects_pb2.FindMissingBlobsReply:
        missing = snapshots.find_missing(
            self.ctx, principal(), request.project, [(b.digest, b.size) for b in request.blobs]
        )
        return projects_pb2.FindMissingBlobsReply(missing=missing)

    async def UploadBlobs(
        self, request_iterator: AsyncIterator[projects_pb2.UploadBlobsRequest], context: Ctx
    ) -> projects_pb2.UploadBlobsReply:
        """Stores each blob of the stream once it is complete and verified. One message is stored (on a
        worker) while the next arrives, never two at once: the network and the disk work side by side."""
        upload: snapshots.Upload | None = None
        storing: asyncio.Future[None] | None = None  # the previous message's parts
        try:
            async for m in request_iterator:
                if upload is None:
                    upload = await self.workers.run("quick", snapshots.start_upload, self.ctx, principal(), m.project)
                elif m.project != upload.project:
                    raise InvalidArgument("an upload stream must stay in one project")
                parts = [wire.part_from_proto(p) for p in m.parts]
                if storing is not None:
                    await storing
                storing = asyncio.ensure_future(self.workers.run("quick", upload.consume, parts))
            if storing is not None:
                await storing
            if upload is None:
                return projects_pb2.UploadBlobsReply()
            if upload.writer is not None:
                raise InvalidArgument(f"upload ended in the middle of blob {upload.writer.digest[:12]}")
            await self.workers.run("quick", upload.close)
            return projects_pb2.UploadBlobsReply(stored=upload.stored, bytes_received=upload.received)
        finally:
            if upload is not None:  # however the stream ended, keep what was verified, once nothing is storing
                ending = upload

                def close(done: asyncio.Future[None] | None = None) -> None:
                    if done is not None and not done.cancelled():
                        done.exception()  # taken: the stream's own error, if any, is the one told
                    self.workers.submit("quick", ending.close)

                if storing is not None and not storing.done():
                    storing.add_done_callback(close)
                else:
                    close()

    @heavy
    def CreateSnapshot(self, request: projects_pb2.CreateSnapshotRequest, context: Ctx) -> projects_pb2.Snapshot:
        new = snapshots.NewSnapshot(
            entries=[wire.entry_from_proto(e) for e in request.entries],
            parent=request.parent,
            message=request.message,
            expected_id=request.expected_id,
            base=request.base,
            removed=tuple(request.removed),
        )
        return wire.snapshot_to_proto(snapshots.create_snapshot(self.ctx, principal(), request.project, new))

    def ListSnapshots(self, request: projects_pb2.ListSnapshotsRequest, context: Ctx) -> projects_pb2.SnapshotList:
        page = paging.request("ListSnapshots", request.page_size, request.page_token)
        found = snapshots.list_snapshots(self.ctx, principal(), request.project, page)
        rows, token = encoded("ListSnapshots", found, wire.snapshot_to_proto)
        return projects_pb2.SnapshotList(snapshots=rows, next_page_token=token)

    @heavy
    def GetSnapshot(self, request: projects_pb2.GetSnapshotRequest, context: Ctx) -> projects_pb2.SnapshotManifest:
        if request.summary_only:
            snap = snapshots.resolve_snapshot(self.ctx, principal(), request.project, request.id)
            return projects_pb2.SnapshotManifest(snapshot=wire.snapshot_to_proto(snap))
        whole = not request.page_size and not request.page_token  # a client from before paging
        page = paging.request("GetSnapshot", request.page_size, request.page_token)
        if whole:
            page = PageRequest(EVERY_ROW)
        snap, entries = snapshots.get_manifest(self.ctx, principal(), request.project, request.id, page)
        budget = WHOLE_BUDGET if whole else REPLY_BUDGET_BYTES
        rows, token = encoded("GetSnapshot", entries, wire.entry_to_proto, budget=budget)
        if whole and token:
            raise FailedPrecondition(
                f"snapshot {snap.id[:12]} has too many entries for one message; this client is older than "
                "paged manifests: upgrade Kiln to read it"
            )
        return projects_pb2.SnapshotManifest(snapshot=wire.snapshot_to_proto(snap), entries=rows, next_page_token=token)

    async def ReadBlobs(
        self, request: projects_pb2.ReadBlobsRequest, context: Ctx
    ) -> AsyncIterator[common_pb2.BlobParts]:
        batches = await self.workers.run(
            "quick", snapshots.read_blobs, self.ctx, principal(), request.project, list(request.digests)
        )
        while batch := await self.workers.run("quick", next, batches, None):
            yield common_pb2.BlobParts(parts=[wire.part_to_proto(p) for p in batch])
