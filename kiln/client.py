"""The Python client: gRPC in, domain values out. The CLI, the desktop and the agent talk only through it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import grpc

from kiln import serde
from kiln.core import defaults
from kiln.core.audit import AuditRecord, ChainVerdict
from kiln.core.blobparts import BlobPart
from kiln.core.errors import KilnError, Unavailable, error_for_code
from kiln.core.manifest import Entry
from kiln.core.models import (
    AliasRequest,
    Comment,
    DatasetVersion,
    JoinToken,
    ModelVersion,
    Node,
    Project,
    RunRecord,
    Snapshot,
    Token,
    User,
)
from kiln.core.permissions import Role
from kiln.core.runs import LogChunk, Run, RunSpec
from kiln.proto.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    common_pb2,
    nodes_pb2,
    nodes_pb2_grpc,
    projects_pb2,
    projects_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    runs_pb2,
    runs_pb2_grpc,
    tracking_pb2,
    tracking_pb2_grpc,
)

T = TypeVar("T")

CHANNEL_OPTIONS = [
    ("grpc.ssl_target_name_override", defaults.TLS_SERVER_NAME),
    ("grpc.max_receive_message_length", defaults.MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", defaults.MAX_MESSAGE_BYTES),
]
EMPTY = common_pb2.Empty()


class Client:
    """A connection to one coordinator, trusting only the pinned CA, calling as the token's user."""

    def __init__(
        self,
        address: str,
        ca_pem: bytes,
        token: str | None = None,
        timeout: float = 60.0,
        node_identity: tuple[bytes, bytes] | None = None,
    ) -> None:
        """`node_identity` (key PEM, certificate PEM) makes this an agent's client, for the agent port."""
        self.address = address
        self.timeout = timeout
        key, cert = node_identity or (None, None)
        creds = grpc.ssl_channel_credentials(root_certificates=ca_pem, private_key=key, certificate_chain=cert)
        if token:
            creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
        self.channel = grpc.secure_channel(address, creds, options=CHANNEL_OPTIONS)
        self.auth = admin_pb2_grpc.AuthStub(self.channel)
        self.users = admin_pb2_grpc.UsersStub(self.channel)
        self.audit = admin_pb2_grpc.AuditStub(self.channel)
        self.projects = projects_pb2_grpc.ProjectsStub(self.channel)
        self.snapshots = projects_pb2_grpc.SnapshotsStub(self.channel)
        self.runs = runs_pb2_grpc.RunsStub(self.channel)
        self.nodes = nodes_pb2_grpc.NodesStub(self.channel)
        self.gateway = nodes_pb2_grpc.AgentGatewayStub(self.channel)
        self.tracking = tracking_pb2_grpc.TrackingStub(self.channel)
        self.datasets = registry_pb2_grpc.DatasetsStub(self.channel)
        self.models = registry_pb2_grpc.ModelsStub(self.channel)
        self.comments = registry_pb2_grpc.CommentsStub(self.channel)
        self.lineage_stub = registry_pb2_grpc.LineageStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Callable[..., T], request: Any, timeout: float | None = None) -> T:
        try:
            return method(request, timeout=timeout or self.timeout)
        except grpc.RpcError as e:
            raise self._error(e) from None

    def _stream(self, method: Callable[..., Iterable[T]], request: Any) -> Iterator[T]:
        try:
            yield from method(request)
        except grpc.RpcError as e:
            raise self._error(e) from None

    def _error(self, e: grpc.RpcError) -> KilnError:
        code = e.code()  # type: ignore[attr-defined]
        details = e.details() or code.name  # type: ignore[attr-defined]
        if code is grpc.StatusCode.UNAVAILABLE:
            return Unavailable(
                f"cannot reach the coordinator at {self.address} ({details}); "
                "is it running, and is this the right address?"
            )
        if code is grpc.StatusCode.DEADLINE_EXCEEDED:
            return Unavailable(f"the coordinator at {self.address} did not answer in time")
        return error_for_code(code.name, details)

    # -- identity ---------------------------------------------------------------------------------------

    def server_info(self) -> admin_pb2.ServerInfoReply:
        return self._call(self.auth.ServerInfo, EMPTY, timeout=10)

    def login(self, user: str, password: str, token_name: str = "") -> tuple[str, User, float]:
        reply = self._call(self.auth.Login, admin_pb2.LoginRequest(user=user, password=password, token_name=token_name))
        return reply.token, serde.user_from_proto(reply.user), reply.expires_at

    def whoami(self) -> tuple[User, Token]:
        reply = self._call(self.auth.WhoAmI, EMPTY)
        return serde.user_from_proto(reply.user), serde.token_from_proto(reply.token)

    def logout(self) -> None:
        self._call(self.auth.Logout, EMPTY)

    def create_user(self, name: str, password: str, is_admin: bool = False) -> User:
        req = admin_pb2.CreateUserRequest(name=name, password=password, is_admin=is_admin)
        return serde.user_from_proto(self._call(self.users.CreateUser, req))

    def list_users(self) -> list[User]:
        return [serde.user_from_proto(u) for u in self._call(self.users.ListUsers, EMPTY).users]

    def set_password(self, new: str, old: str = "", user: str = "") -> None:
        self._call(
            self.users.SetPassword,
            admin_pb2.SetPasswordRequest(user=user, old_password=old, new_password=new),
        )

    def set_user_disabled(self, user: str, disabled: bool) -> User:
        req = admin_pb2.SetUserDisabledRequest(user=user, disabled=disabled)
        return serde.user_from_proto(self._call(self.users.SetUserDisabled, req))

    def create_token(self, name: str = "", ttl_seconds: float = 0, user: str = "") -> tuple[str, Token]:
        reply = self._call(
            self.users.CreateToken,
            admin_pb2.CreateTokenRequest(name=name, ttl_seconds=ttl_seconds, user=user),
        )
        return reply.secret, serde.token_from_proto(reply.token)

    def list_tokens(self, user: str = "") -> list[Token]:
        reply = self._call(self.users.ListTokens, admin_pb2.ListTokensRequest(user=user))
        return [serde.token_from_proto(t) for t in reply.tokens]

    def revoke_token(self, token_id: str) -> Token:
        return serde.token_from_proto(self._call(self.users.RevokeToken, admin_pb2.RevokeTokenRequest(id=token_id)))

    def list_audit(
        self, after_seq: int = 0, limit: int = 0, actor: str = "", action_prefix: str = ""
    ) -> list[AuditRecord]:
        req = admin_pb2.ListAuditRequest(after_seq=after_seq, limit=limit, actor=actor, action_prefix=action_prefix)
        return [serde.audit_from_proto(r) for r in self._call(self.audit.ListAudit, req).records]

    def verify_audit(self) -> ChainVerdict:
        v = self._call(self.audit.VerifyAudit, EMPTY, timeout=600)
        return ChainVerdict(v.ok, v.records, v.first_broken_seq, v.reason)

    # -- projects ---------------------------------------------------------------------------------------

    def create_project(self, name: str, description: str = "") -> Project:
        req = projects_pb2.CreateProjectRequest(name=name, description=description)
        return serde.project_from_proto(self._call(self.projects.CreateProject, req))

    def list_projects(self, include_archived: bool = False) -> list[Project]:
        reply = self._call(
            self.projects.ListProjects, projects_pb2.ListProjectsRequest(include_archived=include_archived)
        )
        return [serde.project_from_proto(p) for p in reply.projects]

    def get_project(self, name: str) -> Project:
        return serde.project_from_proto(self._call(self.projects.GetProject, common_pb2.ProjectRef(project=name)))

    def set_member(self, project: str, user: str, role: Role | str) -> Project:
        req = projects_pb2.SetMemberRequest(project=project, user=user, role=str(role))
        return serde.project_from_proto(self._call(self.projects.SetMember, req))

    def remove_member(self, project: str, user: str) -> Project:
        req = projects_pb2.RemoveMemberRequest(project=project, user=user)
        return serde.project_from_proto(self._call(self.projects.RemoveMember, req))

    def set_validator(self, project: str, user: str, validator: bool = True) -> Project:
        req = projects_pb2.SetValidatorRequest(project=project, user=user, validator=validator)
        return serde.project_from_proto(self._call(self.projects.SetValidator, req))

    def archive_project(self, name: str) -> Project:
        return serde.project_from_proto(self._call(self.projects.ArchiveProject, common_pb2.ProjectRef(project=name)))

    # -- snapshots --------------------------------------------------------------------------------------

    def find_missing_blobs(self, project: str, blobs: Iterable[tuple[str, int]]) -> list[str]:
        req = projects_pb2.FindMissingBlobsRequest(
            project=project, blobs=[projects_pb2.BlobRef(digest=d, size=s) for d, s in blobs]
        )
        return list(self._call(self.snapshots.FindMissingBlobs, req).missing)

    def upload_blobs(self, project: str, messages: Iterable[list[BlobPart]]) -> tuple[list[str], int]:
        """Streams messages of parts; returns the digests stored and the bytes the coordinator received."""
        requests = (
            projects_pb2.UploadBlobsRequest(project=project, parts=[serde.part_to_proto(p) for p in m])
            for m in messages
        )
        try:
            reply = self.snapshots.UploadBlobs(requests)
        except grpc.RpcError as e:
            raise self._error(e) from None
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
            entries=[serde.entry_to_proto(e) for e in entries],
            parent=parent,
            message=message,
            expected_id=expected_id,
            base=base,
            removed=list(removed),
        )
        return serde.snapshot_from_proto(self._call(self.snapshots.CreateSnapshot, req))

    def list_snapshots(self, project: str) -> list[Snapshot]:
        reply = self._call(self.snapshots.ListSnapshots, common_pb2.ProjectRef(project=project))
        return [serde.snapshot_from_proto(s) for s in reply.snapshots]

    def get_snapshot(self, snapshot_id: str, project: str = "") -> tuple[Snapshot, list[Entry]]:
        req = projects_pb2.GetSnapshotRequest(project=project, id=snapshot_id)
        reply = self._call(self.snapshots.GetSnapshot, req)
        return serde.snapshot_from_proto(reply.snapshot), [serde.entry_from_proto(e) for e in reply.entries]

    def snapshot_info(self, snapshot_id: str, project: str = "") -> Snapshot:
        """The snapshot's record only, without fetching its manifest."""
        req = projects_pb2.GetSnapshotRequest(project=project, id=snapshot_id, summary_only=True)
        return serde.snapshot_from_proto(self._call(self.snapshots.GetSnapshot, req).snapshot)

    def read_blobs(self, project: str, digests: list[str]) -> Iterator[BlobPart]:
        req = projects_pb2.ReadBlobsRequest(project=project, digests=digests)
        for message in self._stream(self.snapshots.ReadBlobs, req):
            for part in message.parts:
                yield serde.part_from_proto(part)

    # -- runs -------------------------------------------------------------------------------------------

    def submit_run(self, spec: RunSpec) -> Run:
        return serde.run_from_proto(self._call(self.runs.SubmitRun, serde.run_spec_to_proto(spec)))

    def list_runs(self, project: str = "", state: str = "", limit: int = 0) -> list[Run]:
        reply = self._call(self.runs.ListRuns, runs_pb2.ListRunsRequest(project=project, state=state, limit=limit))
        return [serde.run_from_proto(r) for r in reply.runs]

    def get_run(self, run_id: str) -> Run:
        return serde.run_from_proto(self._call(self.runs.GetRun, runs_pb2.RunRef(id=run_id)))

    def cancel_run(self, run_id: str) -> Run:
        return serde.run_from_proto(self._call(self.runs.CancelRun, runs_pb2.RunRef(id=run_id)))

    def read_logs(self, run_id: str, follow: bool = False, after: tuple[int, int] = (0, 0)) -> Iterator[LogChunk]:
        """A run's output in order; with `follow`, keeps streaming until the run ends."""
        req = runs_pb2.ReadLogsRequest(id=run_id, follow=follow, after_attempt=after[0], after_seq=after[1])
        try:
            for chunk in self.runs.ReadLogs(req):
                yield serde.log_chunk_from_proto(chunk)
        except grpc.RpcError as e:
            raise self._error(e) from None

    # -- nodes ------------------------------------------------------------------------------------------

    def create_join_token(self, uses: int = 1, ttl_seconds: float = 3600) -> JoinToken:
        t = self._call(self.nodes.CreateJoinToken, nodes_pb2.CreateJoinTokenRequest(uses=uses, ttl_seconds=ttl_seconds))
        return JoinToken(t.id, t.uses, t.expires_at, t.token)

    def list_nodes(self) -> list[Node]:
        return [serde.node_from_proto(n) for n in self._call(self.nodes.ListNodes, EMPTY).nodes]

    def set_drain(self, name: str, drain: bool) -> Node:
        return serde.node_from_proto(self._call(self.nodes.SetDrain, nodes_pb2.SetDrainRequest(name=name, drain=drain)))

    def remove_node(self, name: str) -> Node:
        return serde.node_from_proto(self._call(self.nodes.RemoveNode, nodes_pb2.NodeRef(name=name)))

    def enroll(self, join_token: str, name: str, csr_pem: bytes, labels: dict[str, str]) -> nodes_pb2.EnrollReply:
        req = nodes_pb2.EnrollRequest(join_token=join_token, name=name, csr_pem=csr_pem, labels=labels)
        return self._call(self.gateway.Enroll, req)

    # -- tracking ---------------------------------------------------------------------------------------

    def run_record(self, run_id: str) -> RunRecord:
        return serde.run_record_from_proto(self._call(self.tracking.GetRunRecord, runs_pb2.RunRef(id=run_id)))

    def metrics(
        self, run_id: str, keys: list[str] | None = None, max_points: int = 1000
    ) -> list[tuple[str, int, list[tuple[int, float, float]]]]:
        """(key, total points, at most `max_points` (step, value, timestamp)) per metric."""
        req = tracking_pb2.GetMetricsRequest(run_id=run_id, keys=keys or [], max_points=max_points)
        reply = self._call(self.tracking.GetMetrics, req)
        return [(m.key, m.total_points, list(zip(m.step, m.value, m.timestamp, strict=True))) for m in reply.series]

    def search_runs(self, project: str = "", filter: str = "", sort: str = "", limit: int = 100) -> list[Run]:
        req = tracking_pb2.SearchRunsRequest(project=project, filter=filter, sort=sort, limit=limit)
        return [serde.run_from_proto(r) for r in self._call(self.tracking.SearchRuns, req).runs]

    # -- datasets, models, comments, lineage ------------------------------------------------------------

    def add_dataset_version(self, project: str, name: str, snapshot: str, description: str = "") -> DatasetVersion:
        req = registry_pb2.AddDatasetVersionRequest(
            project=project, name=name, snapshot=snapshot, description=description
        )
        return serde.dataset_version_from_proto(self._call(self.datasets.AddDatasetVersion, req))

    def list_datasets(self, project: str) -> list[DatasetVersion]:
        reply = self._call(self.datasets.ListDatasets, common_pb2.ProjectRef(project=project))
        return [serde.dataset_version_from_proto(v) for v in reply.versions]

    def register_model(self, run_id: str, path: str, name: str, tags: dict[str, str] | None = None) -> ModelVersion:
        req = registry_pb2.RegisterModelRequest(run_id=run_id, path=path, name=name, tags=tags or {})
        return serde.model_version_from_proto(self._call(self.models.RegisterModel, req))

    def list_models(self, project: str) -> list[registry_pb2.Model]:
        return list(self._call(self.models.ListModels, common_pb2.ProjectRef(project=project)).models)

    def model_versions(self, project: str, name: str) -> tuple[list[ModelVersion], dict[str, int], int]:
        """(versions, alias -> version, approvals the project requires for production)."""
        m = self._call(self.models.GetModel, registry_pb2.ModelRef(project=project, name=name))
        return [serde.model_version_from_proto(v) for v in m.versions], dict(m.aliases), m.required_approvals

    def request_alias(self, project: str, name: str, version: int, alias: str, message: str = "") -> AliasRequest:
        req = registry_pb2.RequestAliasRequest(
            project=project, name=name, version=version, alias=alias, message=message
        )
        return serde.alias_request_from_proto(self._call(self.models.RequestAlias, req))

    def review(self, project: str, name: str, version: int, approve: bool, message: str = "") -> AliasRequest:
        req = registry_pb2.ReviewRequest(project=project, name=name, version=version, approve=approve, message=message)
        return serde.alias_request_from_proto(self._call(self.models.Review, req))

    def alias_requests(self, project: str, name: str) -> list[AliasRequest]:
        reply = self._call(self.models.ListRequests, registry_pb2.ModelRef(project=project, name=name))
        return [serde.alias_request_from_proto(r) for r in reply.requests]

    def alias_history(self, project: str, name: str, at: float = 0) -> list[dict[str, object]]:
        reply = self._call(self.models.History, registry_pb2.HistoryRequest(project=project, name=name, at=at))
        return [
            {"alias": m.alias, "version": m.version, "time": m.time, "actor": m.actor, "request_id": m.request_id}
            for m in reply.moves
        ]

    def set_policy(self, project: str, required_approvals: int) -> int:
        req = registry_pb2.SetPolicyRequest(project=project, required_approvals=required_approvals)
        return self._call(self.models.SetPolicy, req).required_approvals

    def add_comment(self, entity: str, text: str) -> Comment:
        c = self._call(self.comments.AddComment, registry_pb2.AddCommentRequest(entity=entity, text=text))
        return Comment(c.id, c.entity, c.project, c.author, c.text, c.time)

    def list_comments(self, entity: str) -> list[Comment]:
        reply = self._call(self.comments.ListComments, registry_pb2.EntityRef(id=entity))
        return [Comment(c.id, c.entity, c.project, c.author, c.text, c.time) for c in reply.comments]

    def lineage(self, entity: str, direction: str = "", depth: int = 5) -> registry_pb2.LineageGraph:
        req = registry_pb2.LineageRequest(id=entity, direction=direction, depth=depth)
        return self._call(self.lineage_stub.GetLineage, req)

    def export_openlineage(self, project: str = "") -> Iterator[str]:
        for event in self._stream(self.lineage_stub.ExportOpenLineage, registry_pb2.ExportRequest(project=project)):
            yield event.json
