"""The client's calls of projects.proto: projects and their members, snapshots and their blobs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import grpc

from kiln.client.base import Connection
from kiln.core.paging import PAGE_CAPS

if TYPE_CHECKING:
    from kiln.core.blobparts import BlobPart
    from kiln.core.manifest import Entry
    from kiln.core.models import (
        Project,
        Snapshot,
    )
    from kiln.core.overview import ProjectSummary
    from kiln.core.permissions import Role
    from kiln.proto.v1 import (
        common_pb2,
        projects_pb2,
        projects_pb2_grpc,
    )
    from kiln.serde import projects as projects_wire
else:
    from kiln.client.base import (
        common_pb2,
        projects_pb2,
        projects_pb2_grpc,
        projects_wire,
    )


class ProjectCalls(Connection):
    # -- projects ---------------------------------------------------------------------------------------

    def create_project(self, name: str, description: str = "") -> Project:
        req = projects_pb2.CreateProjectRequest(name=name, description=description)
        return projects_wire.project_from_proto(
            self._call(self._stub(projects_pb2_grpc.ProjectsStub).CreateProject, req)
        )

    def list_projects(self, include_archived: bool = False) -> list[Project]:
        return [p for page in self.project_pages(include_archived) for p in page]

    def project_pages(self, include_archived: bool = False) -> Iterator[list[Project]]:
        return self._pages(
            self._stub(projects_pb2_grpc.ProjectsStub).ListProjects,
            projects_pb2.ListProjectsRequest(include_archived=include_archived),
            lambda r: [projects_wire.project_from_proto(p) for p in r.projects],
        )

    def get_project(self, name: str) -> Project:
        reply = self._call(self._stub(projects_pb2_grpc.ProjectsStub).GetProject, common_pb2.ProjectRef(project=name))
        return projects_wire.project_from_proto(reply)

    def set_member(self, project: str, user: str, role: Role | str) -> Project:
        req = projects_pb2.SetMemberRequest(project=project, user=user, role=str(role))
        return projects_wire.project_from_proto(self._call(self._stub(projects_pb2_grpc.ProjectsStub).SetMember, req))

    def remove_member(self, project: str, user: str) -> Project:
        req = projects_pb2.RemoveMemberRequest(project=project, user=user)
        return projects_wire.project_from_proto(
            self._call(self._stub(projects_pb2_grpc.ProjectsStub).RemoveMember, req)
        )

    def project_summary(self, project: str, metric: str = "", direction: str = "") -> ProjectSummary:
        """The project at a glance (kiln/core/overview.py); its best run by `metric` ("": the most logged)."""
        req = projects_pb2.ProjectSummaryRequest(project=project, metric=metric, direction=direction)
        reply = self._call(self._stub(projects_pb2_grpc.ProjectsStub).GetProjectSummary, req)
        return projects_wire.summary_from_proto(reply)

    def set_validator(self, project: str, user: str, validator: bool = True) -> Project:
        req = projects_pb2.SetValidatorRequest(project=project, user=user, validator=validator)
        return projects_wire.project_from_proto(
            self._call(self._stub(projects_pb2_grpc.ProjectsStub).SetValidator, req)
        )

    def archive_project(self, name: str) -> Project:
        reply = self._call(
            self._stub(projects_pb2_grpc.ProjectsStub).ArchiveProject, common_pb2.ProjectRef(project=name)
        )
        return projects_wire.project_from_proto(reply)

    # -- snapshots --------------------------------------------------------------------------------------

    def find_missing_blobs(self, project: str, blobs: Iterable[tuple[str, int]]) -> list[str]:
        req = projects_pb2.FindMissingBlobsRequest(
            project=project, blobs=[projects_pb2.BlobRef(digest=d, size=s) for d, s in blobs]
        )
        return list(self._call(self._stub(projects_pb2_grpc.SnapshotsStub).FindMissingBlobs, req).missing)

    def upload_blobs(self, project: str, messages: Iterable[list[BlobPart]]) -> tuple[list[str], int]:
        """Streams messages of parts; returns the digests stored and the bytes the coordinator received."""
        requests = (
            projects_pb2.UploadBlobsRequest(project=project, parts=[projects_wire.part_to_proto(p) for p in m])
            for m in messages
        )
        try:
            reply = self._stub(projects_pb2_grpc.SnapshotsStub).UploadBlobs(requests)
        except grpc.RpcError as e:
            raise self.error(e) from None
        return list(reply.stored), reply.bytes_received

    def create_snapshot(
        self,
        project: str,
        entries: list[Entry],
        parent: str = "",
        message: str = "",
        expected_id: str = "",
        base: str = "",
        removed: Iterable[str] = (),
    ) -> Snapshot:
        """Records a snapshot from every entry, or from the changes (`entries`, `removed`) to `base`."""
        req = projects_pb2.CreateSnapshotRequest(
            project=project,
            entries=[projects_wire.entry_to_proto(e) for e in entries],
            parent=parent,
            message=message,
            expected_id=expected_id,
            base=base,
            removed=list(removed),
        )
        return projects_wire.snapshot_from_proto(
            self._call(self._stub(projects_pb2_grpc.SnapshotsStub).CreateSnapshot, req)
        )

    def list_snapshots(self, project: str) -> list[Snapshot]:
        """The project's snapshots, newest first."""
        return [s for page in self.snapshot_pages(project) for s in page]

    def snapshot_pages(self, project: str) -> Iterator[list[Snapshot]]:
        return self._pages(
            self._stub(projects_pb2_grpc.SnapshotsStub).ListSnapshots,
            projects_pb2.ListSnapshotsRequest(project=project),
            lambda r: [projects_wire.snapshot_from_proto(s) for s in r.snapshots],
        )

    def get_snapshot(self, snapshot_id: str, project: str = "") -> tuple[Snapshot, list[Entry]]:
        """The snapshot's record and every entry of its manifest (read in pages), sorted by path."""
        replies: list[Any] = []

        def entries(reply: Any) -> list[Entry]:
            replies.append(reply)
            return [projects_wire.entry_from_proto(e) for e in reply.entries]

        stub = self._stub(projects_pb2_grpc.SnapshotsStub)
        req = projects_pb2.GetSnapshotRequest(project=project, id=snapshot_id)
        size = self.page_size or PAGE_CAPS["GetSnapshot"]  # a size of 0 would ask for the whole manifest at once
        found = [e for page in self._pages(stub.GetSnapshot, req, entries, size=size) for e in page]
        return projects_wire.snapshot_from_proto(replies[0].snapshot), found

    def snapshot_info(self, snapshot_id: str, project: str = "") -> Snapshot:
        """The snapshot's record only, without fetching its manifest."""
        req = projects_pb2.GetSnapshotRequest(project=project, id=snapshot_id, summary_only=True)
        return projects_wire.snapshot_from_proto(
            self._call(self._stub(projects_pb2_grpc.SnapshotsStub).GetSnapshot, req).snapshot
        )

    def snapshot_info_later(self, snapshot_id: str, project: str = "") -> Callable[[], Snapshot]:
        """Starts asking for the snapshot's record and returns at once; calling the result waits for the
        answer (or raises the call's error), so the caller can work meanwhile."""
        req = projects_pb2.GetSnapshotRequest(project=project, id=snapshot_id, summary_only=True)
        call = self._stub(projects_pb2_grpc.SnapshotsStub).GetSnapshot.future(req, timeout=self.timeout)

        def answer() -> Snapshot:
            try:
                return projects_wire.snapshot_from_proto(call.result().snapshot)
            except grpc.RpcError as e:
                raise self.error(e) from None

        return answer

    def read_blobs(self, project: str, digests: list[str]) -> Iterator[BlobPart]:
        req = projects_pb2.ReadBlobsRequest(project=project, digests=digests)
        for message in self._stream(self._stub(projects_pb2_grpc.SnapshotsStub).ReadBlobs, req):
            for part in message.parts:
                yield projects_wire.part_from_proto(part)
