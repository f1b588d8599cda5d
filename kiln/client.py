"""The Python client: gRPC in, domain values out. The CLI, the desktop and the agent talk only through it;
no protobuf type appears in its methods or attributes (the agent's link module alone opens its stream on
`channel`).

A command line starts fast only if it loads what it uses: the wire modules of each service are loaded on
first use (`_Lazy`), and each service's stub when first called, so `kiln runs` never loads the registry's.

Listings come from the coordinator in pages (kiln/core/paging.py). Each `list_…` method follows the pages
and returns every row (or `limit` of them); the `…_pages` methods yield the pages as they arrive, for a
caller that shows a long listing as it comes.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

from kiln.core import defaults
from kiln.core.errors import KilnError, Unavailable, error_for_code
from kiln.core.paging import PAGE_CAPS

if TYPE_CHECKING:
    from kiln.core.audit import AuditRecord, ChainVerdict, Checkpoint
    from kiln.core.blobparts import BlobPart
    from kiln.core.lineage import LineageGraph
    from kiln.core.link import Quarantined
    from kiln.core.manifest import Entry
    from kiln.core.models import (
        AliasMove,
        AliasRequest,
        Comment,
        DatasetVersion,
        JoinToken,
        MetricSeries,
        Model,
        ModelVersion,
        Node,
        NodeCertificate,
        Project,
        RunRecord,
        RunValues,
        ServerInfo,
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
        link_pb2,
        link_pb2_grpc,
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
    from kiln.serde import admin as admin_wire
    from kiln.serde import link as link_wire
    from kiln.serde import nodes as nodes_wire
    from kiln.serde import projects as projects_wire
    from kiln.serde import registry as registry_wire
    from kiln.serde import runs as runs_wire
    from kiln.serde import tracking as tracking_wire


class _Lazy:
    """A module loaded when one of its names is first used (through the import system, so threads that
    race for it load it once); the names found are kept on the proxy."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)
        return value


if not TYPE_CHECKING:
    _WIRE = ("admin", "common", "link", "nodes", "projects", "registry", "runs", "tracking")
    globals().update({f"{n}_pb2": _Lazy(f"kiln.proto.v1.{n}_pb2") for n in _WIRE})
    globals().update({f"{n}_pb2_grpc": _Lazy(f"kiln.proto.v1.{n}_pb2_grpc") for n in _WIRE if n != "common"})
    globals().update({f"{n}_wire": _Lazy(f"kiln.serde.{n}") for n in _WIRE if n != "common"})

T = TypeVar("T")
S = TypeVar("S")

CHANNEL_OPTIONS = [
    ("grpc.ssl_target_name_override", defaults.TLS_SERVER_NAME),
    ("grpc.max_receive_message_length", defaults.MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", defaults.MAX_MESSAGE_BYTES),
]


class Client:
    """A connection to one coordinator, trusting only the pinned CA, calling as the token's user."""

    page_size = 0  # rows asked per page of a listing (0: the coordinator's cap)

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
        self._stubs: dict[Callable[[grpc.Channel], Any], Any] = {}

    def _stub(self, stub: Callable[[grpc.Channel], S]) -> S:
        """The channel's stub of one service, made on first use."""
        found: S | None = self._stubs.get(stub)
        if found is None:
            found = self._stubs[stub] = stub(self.channel)
        return found

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
            raise self.error(e) from None

    def _stream(self, method: Callable[..., Iterable[T]], request: Any) -> Iterator[T]:
        try:
            yield from method(request)
        except grpc.RpcError as e:
            raise self.error(e) from None

    def _pages(
        self, method: Callable[..., Any], request: Any, rows: Callable[[Any], list[T]], limit: int = 0, size: int = 0
    ) -> Iterator[list[T]]:
        """Each page of a listing in turn, following the coordinator's page tokens, until the last page or
        `limit` rows in all (0: every row); pages of `size` rows or fewer (0: `page_size`)."""
        got = 0
        while True:
            wanted = [n for n in (limit - got if limit else 0, size or self.page_size) if n > 0]
            request.page_size = min(wanted, default=0)
            reply = self._call(method, request)
            page = rows(reply)[: limit - got] if limit else rows(reply)
            got += len(page)
            yield page
            if not reply.next_page_token or reply.next_page_token == request.page_token or (limit and got >= limit):
                return
            request.page_token = reply.next_page_token

    def _listing(self, method: Callable[..., Any], request: Any, field: str, decode: Callable[[Any], T]) -> list[T]:
        """Every row of a listing whose replies hold them in `field`, page after page."""
        pages = self._pages(method, request, lambda reply: [decode(x) for x in getattr(reply, field)])
        return [row for page in pages for row in page]

    def error(self, e: grpc.RpcError) -> KilnError:
        """The domain error a failed call stands for, in words for a person."""
        code = e.code()
        details = e.details() or code.name
        if code is grpc.StatusCode.UNAVAILABLE:
            return Unavailable(
                f"cannot reach the coordinator at {self.address} ({details}); "
                "is it running, and is this the right address?"
            )
        if code is grpc.StatusCode.DEADLINE_EXCEEDED:
            return Unavailable(f"the coordinator at {self.address} did not answer in time")
        return error_for_code(code.name, details)

    # -- identity ---------------------------------------------------------------------------------------

    def server_info(self) -> ServerInfo:
        return admin_wire.server_info_from_proto(
            self._call(self._stub(admin_pb2_grpc.AuthStub).ServerInfo, common_pb2.Empty(), timeout=10)
        )

    def login(self, user: str, password: str, token_name: str = "") -> tuple[str, User, float]:
        req = admin_pb2.LoginRequest(user=user, password=password, token_name=token_name)
        reply = self._call(self._stub(admin_pb2_grpc.AuthStub).Login, req)
        return reply.token, admin_wire.user_from_proto(reply.user), reply.expires_at

    def whoami(self) -> tuple[User, Token]:
        reply = self._call(self._stub(admin_pb2_grpc.AuthStub).WhoAmI, common_pb2.Empty())
        return admin_wire.user_from_proto(reply.user), admin_wire.token_from_proto(reply.token)

    def logout(self) -> None:
        self._call(self._stub(admin_pb2_grpc.AuthStub).Logout, common_pb2.Empty())

    def create_user(self, name: str, password: str, is_admin: bool = False) -> User:
        req = admin_pb2.CreateUserRequest(name=name, password=password, is_admin=is_admin)
        return admin_wire.user_from_proto(self._call(self._stub(admin_pb2_grpc.UsersStub).CreateUser, req))

    def list_users(self) -> list[User]:
        stub = self._stub(admin_pb2_grpc.UsersStub)
        return self._listing(stub.ListUsers, admin_pb2.ListUsersRequest(), "users", admin_wire.user_from_proto)

    def set_password(self, new: str, old: str = "", user: str = "") -> None:
        req = admin_pb2.SetPasswordRequest(user=user, old_password=old, new_password=new)
        self._call(self._stub(admin_pb2_grpc.UsersStub).SetPassword, req)

    def set_user_disabled(self, user: str, disabled: bool) -> User:
        req = admin_pb2.SetUserDisabledRequest(user=user, disabled=disabled)
        return admin_wire.user_from_proto(self._call(self._stub(admin_pb2_grpc.UsersStub).SetUserDisabled, req))

    def create_token(self, name: str = "", ttl_seconds: float = 0, user: str = "") -> tuple[str, Token]:
        req = admin_pb2.CreateTokenRequest(name=name, ttl_seconds=ttl_seconds, user=user)
        reply = self._call(self._stub(admin_pb2_grpc.UsersStub).CreateToken, req)
        return reply.secret, admin_wire.token_from_proto(reply.token)

    def list_tokens(self, user: str = "") -> list[Token]:
        stub = self._stub(admin_pb2_grpc.UsersStub)
        return self._listing(
            stub.ListTokens, admin_pb2.ListTokensRequest(user=user), "tokens", admin_wire.token_from_proto
        )

    def revoke_token(self, token_id: str) -> Token:
        reply = self._call(self._stub(admin_pb2_grpc.UsersStub).RevokeToken, admin_pb2.RevokeTokenRequest(id=token_id))
        return admin_wire.token_from_proto(reply)

    def list_audit(
        self, after_seq: int = 0, limit: int = 0, actor: str = "", action_prefix: str = ""
    ) -> list[AuditRecord]:
        """The records after `after_seq`, oldest first: `limit` of them (0: every one)."""
        return [r for page in self.audit_pages(after_seq, limit, actor, action_prefix) for r in page]

    def audit_pages(
        self, after_seq: int = 0, limit: int = 0, actor: str = "", action_prefix: str = ""
    ) -> Iterator[list[AuditRecord]]:
        req = admin_pb2.ListAuditRequest(after_seq=after_seq, limit=limit, actor=actor, action_prefix=action_prefix)
        return self._pages(
            self._stub(admin_pb2_grpc.AuditStub).ListAudit,
            req,
            lambda r: [admin_wire.audit_from_proto(a) for a in r.records],
            limit,
        )

    def verify_audit(self, anchor: str = "") -> ChainVerdict:
        """The chain, its signatures and checkpoints, and (given one `audit_anchor` made) that anchor."""
        request = admin_pb2.VerifyAuditRequest(anchor=anchor)
        return admin_wire.verdict_from_proto(
            self._call(self._stub(admin_pb2_grpc.AuditStub).VerifyAudit, request, timeout=600)
        )

    def audit_anchor(self) -> Checkpoint:
        """A signed checkpoint of the audit log's head, to keep off the host (format_anchor gives its line)."""
        reply = self._call(self._stub(admin_pb2_grpc.AuditStub).AnchorAudit, common_pb2.Empty())
        return admin_wire.checkpoint_from_proto(reply)

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

    def read_blobs(self, project: str, digests: list[str]) -> Iterator[BlobPart]:
        req = projects_pb2.ReadBlobsRequest(project=project, digests=digests)
        for message in self._stream(self._stub(projects_pb2_grpc.SnapshotsStub).ReadBlobs, req):
            for part in message.parts:
                yield projects_wire.part_from_proto(part)

    # -- runs -------------------------------------------------------------------------------------------

    def submit_run(self, spec: RunSpec) -> Run:
        return runs_wire.run_from_proto(
            self._call(self._stub(runs_pb2_grpc.RunsStub).SubmitRun, runs_wire.run_spec_to_proto(spec))
        )

    def list_runs(self, project: str = "", state: str = "", limit: int = 0) -> list[Run]:
        """Runs of `project` (every project the caller reads when ""), newest first: `limit` of them (0:
        every one)."""
        return [r for page in self.run_pages(project, state, limit) for r in page]

    def run_pages(self, project: str = "", state: str = "", limit: int = 0) -> Iterator[list[Run]]:
        req = runs_pb2.ListRunsRequest(project=project, state=state, limit=limit)
        return self._pages(
            self._stub(runs_pb2_grpc.RunsStub).ListRuns,
            req,
            lambda r: [runs_wire.run_from_proto(x) for x in r.runs],
            limit,
        )

    def get_run(self, run_id: str) -> Run:
        return runs_wire.run_from_proto(
            self._call(self._stub(runs_pb2_grpc.RunsStub).GetRun, runs_pb2.RunRef(id=run_id))
        )

    def cancel_run(self, run_id: str) -> Run:
        return runs_wire.run_from_proto(
            self._call(self._stub(runs_pb2_grpc.RunsStub).CancelRun, runs_pb2.RunRef(id=run_id))
        )

    def rerun(self, run_id: str) -> Run:
        """A new run of exactly what `run_id` ran, recorded as its rerun."""
        return runs_wire.run_from_proto(
            self._call(self._stub(runs_pb2_grpc.RunsStub).RerunRun, runs_pb2.RunRef(id=run_id))
        )

    def read_logs(self, run_id: str, follow: bool = False, after: tuple[int, int] = (0, 0)) -> Iterator[LogChunk]:
        """A run's output in order; with `follow`, keeps streaming until the run ends."""
        req = runs_pb2.ReadLogsRequest(id=run_id, follow=follow, after_attempt=after[0], after_seq=after[1])
        for chunk in self._stream(self._stub(runs_pb2_grpc.RunsStub).ReadLogs, req):
            yield runs_wire.log_chunk_from_proto(chunk)

    # -- nodes ------------------------------------------------------------------------------------------

    def create_join_token(self, uses: int = 1, ttl_seconds: float = 3600) -> JoinToken:
        req = nodes_pb2.CreateJoinTokenRequest(uses=uses, ttl_seconds=ttl_seconds)
        return nodes_wire.join_token_from_proto(self._call(self._stub(nodes_pb2_grpc.NodesStub).CreateJoinToken, req))

    def list_nodes(self) -> list[Node]:
        stub = self._stub(nodes_pb2_grpc.NodesStub)
        return self._listing(stub.ListNodes, nodes_pb2.ListNodesRequest(), "nodes", nodes_wire.node_from_proto)

    def set_drain(self, name: str, drain: bool) -> Node:
        req = nodes_pb2.SetDrainRequest(name=name, drain=drain)
        return nodes_wire.node_from_proto(self._call(self._stub(nodes_pb2_grpc.NodesStub).SetDrain, req))

    def remove_node(self, name: str) -> Node:
        return nodes_wire.node_from_proto(
            self._call(self._stub(nodes_pb2_grpc.NodesStub).RemoveNode, nodes_pb2.NodeRef(name=name))
        )

    def reset_node(self, name: str) -> Node:
        """Revokes the node's certificate (it enrols again with a join token, under the same name)."""
        return nodes_wire.node_from_proto(
            self._call(self._stub(nodes_pb2_grpc.NodesStub).ResetNode, nodes_pb2.NodeRef(name=name))
        )

    def list_quarantined(self, node: str = "") -> list[Quarantined]:
        """Agent messages set aside from `node` (every node when "") because they could not be applied."""
        stub = self._stub(nodes_pb2_grpc.NodesStub)
        return self._listing(
            stub.ListQuarantined,
            nodes_pb2.ListQuarantinedRequest(name=node),
            "messages",
            nodes_wire.quarantined_from_proto,
        )

    def enroll(self, join_token: str, name: str, csr_pem: bytes, labels: dict[str, str]) -> NodeCertificate:
        req = link_pb2.EnrollRequest(join_token=join_token, name=name, csr_pem=csr_pem, labels=labels)
        return link_wire.node_certificate_from_proto(self._call(self._stub(link_pb2_grpc.AgentGatewayStub).Enroll, req))

    # -- tracking ---------------------------------------------------------------------------------------

    def run_record(self, run_id: str) -> RunRecord:
        reply = self._call(self._stub(tracking_pb2_grpc.TrackingStub).GetRunRecord, runs_pb2.RunRef(id=run_id))
        return tracking_wire.run_record_from_proto(reply)

    def metrics(self, run_id: str, keys: list[str] | None = None, max_points: int = 1000) -> list[MetricSeries]:
        """Each metric (or those named) with at most `max_points` points, downsampled by the coordinator."""
        req = tracking_pb2.GetMetricsRequest(run_id=run_id, keys=keys or [], max_points=max_points)
        return self._listing(
            self._stub(tracking_pb2_grpc.TrackingStub).GetMetrics, req, "series", tracking_wire.metric_series_from_proto
        )

    def search_runs(self, project: str = "", filter: str = "", sort: str = "", limit: int = 100) -> list[Run]:
        return [run for run, _ in self.search_table(project, filter, sort, limit)]

    def search_table(
        self, project: str = "", filter: str = "", sort: str = "", limit: int = 100, columns: Iterable[str] = ()
    ) -> list[tuple[Run, RunValues]]:
        """Runs as `search_runs` finds them (newest first when neither filter nor sort is given), each with
        the values of `columns` (params.NAME, metrics.NAME, tags.NAME) it has: `limit` of them (0: all)."""
        return [row for page in self.search_pages(project, filter, sort, limit, columns) for row in page]

    def search_pages(
        self, project: str = "", filter: str = "", sort: str = "", limit: int = 100, columns: Iterable[str] = ()
    ) -> Iterator[list[tuple[Run, RunValues]]]:
        """The pages of a search. They are cut by position in the sorted result, so a run that a newer one
        pushes into the next page would come twice: it is given once."""
        from kiln.core.models import RunValues

        seen: set[str] = set()

        def rows(reply: Any) -> list[tuple[Run, RunValues]]:
            values = dict(tracking_wire.run_values_from_proto(v) for v in reply.values)
            found = [run for run in map(runs_wire.run_from_proto, reply.runs) if run.id not in seen]
            seen.update(run.id for run in found)
            return [(run, values.get(run.id, RunValues())) for run in found]

        req = tracking_pb2.SearchRunsRequest(project=project, filter=filter, sort=sort, limit=limit, columns=columns)
        return self._pages(self._stub(tracking_pb2_grpc.TrackingStub).SearchRuns, req, rows, limit)

    # -- datasets, models, comments, lineage ------------------------------------------------------------

    def add_dataset_version(self, project: str, name: str, snapshot: str, description: str = "") -> DatasetVersion:
        req = registry_pb2.AddDatasetVersionRequest(
            project=project, name=name, snapshot=snapshot, description=description
        )
        return registry_wire.dataset_version_from_proto(
            self._call(self._stub(registry_pb2_grpc.DatasetsStub).AddDatasetVersion, req)
        )

    def list_datasets(self, project: str) -> list[DatasetVersion]:
        stub = self._stub(registry_pb2_grpc.DatasetsStub)
        return self._listing(
            stub.ListDatasets,
            registry_pb2.ListDatasetsRequest(project=project),
            "versions",
            registry_wire.dataset_version_from_proto,
        )

    def register_model(self, run_id: str, path: str, name: str, tags: dict[str, str] | None = None) -> ModelVersion:
        req = registry_pb2.RegisterModelRequest(run_id=run_id, path=path, name=name, tags=tags or {})
        return registry_wire.model_version_from_proto(
            self._call(self._stub(registry_pb2_grpc.ModelsStub).RegisterModel, req)
        )

    def list_models(self, project: str) -> list[Model]:
        """Every model of the project with all its versions (pages are cut between versions: a model that
        goes on in the next page is joined up here)."""
        stub = self._stub(registry_pb2_grpc.ModelsStub)
        pages = self._pages(
            stub.ListModels,
            registry_pb2.ListModelsRequest(project=project),
            lambda r: [registry_wire.model_from_proto(m) for m in r.models],
        )
        return _joined(m for page in pages for m in page)

    def get_model(self, project: str, name: str) -> Model:
        """The model's versions (read in pages), where its aliases point, and the approvals production needs."""
        pages = self._pages(
            self._stub(registry_pb2_grpc.ModelsStub).GetModel,
            registry_pb2.ModelRef(project=project, name=name),
            lambda r: [registry_wire.model_from_proto(r)],
        )
        return _joined(m for page in pages for m in page)[0]

    def request_alias(self, project: str, name: str, version: int, alias: str, message: str = "") -> AliasRequest:
        req = registry_pb2.RequestAliasRequest(
            project=project, name=name, version=version, alias=alias, message=message
        )
        return registry_wire.alias_request_from_proto(
            self._call(self._stub(registry_pb2_grpc.ModelsStub).RequestAlias, req)
        )

    def review(self, project: str, name: str, version: int, approve: bool, message: str = "") -> AliasRequest:
        req = registry_pb2.ReviewRequest(project=project, name=name, version=version, approve=approve, message=message)
        return registry_wire.alias_request_from_proto(self._call(self._stub(registry_pb2_grpc.ModelsStub).Review, req))

    def alias_requests(self, project: str, name: str) -> list[AliasRequest]:
        stub = self._stub(registry_pb2_grpc.ModelsStub)
        return self._listing(
            stub.ListRequests,
            registry_pb2.ListRequestsRequest(project=project, name=name),
            "requests",
            registry_wire.alias_request_from_proto,
        )

    def alias_history(self, project: str, name: str, at: float = 0) -> list[AliasMove]:
        req = registry_pb2.HistoryRequest(project=project, name=name, at=at)
        return self._listing(
            self._stub(registry_pb2_grpc.ModelsStub).History, req, "moves", registry_wire.alias_move_from_proto
        )

    def set_policy(self, project: str, required_approvals: int) -> int:
        req = registry_pb2.SetPolicyRequest(project=project, required_approvals=required_approvals)
        return self._call(self._stub(registry_pb2_grpc.ModelsStub).SetPolicy, req).required_approvals

    def add_comment(self, entity: str, text: str, project: str = "") -> Comment:
        """Comments on `entity` in `project`'s thread (needed only for content several of the caller's
        projects hold: a snapshot, an environment)."""
        req = registry_pb2.AddCommentRequest(entity=entity, text=text, project=project)
        return registry_wire.comment_from_proto(self._call(self._stub(registry_pb2_grpc.CommentsStub).AddComment, req))

    def list_comments(self, entity: str, project: str = "") -> list[Comment]:
        """The thread on `entity` in `project` (as for `add_comment`), oldest first."""
        stub = self._stub(registry_pb2_grpc.CommentsStub)
        return self._listing(
            stub.ListComments,
            registry_pb2.ListCommentsRequest(id=entity, project=project),
            "comments",
            registry_wire.comment_from_proto,
        )

    def lineage(self, entity: str, direction: str = "", depth: int = 5) -> LineageGraph:
        req = registry_pb2.LineageRequest(id=entity, direction=direction, depth=depth)
        return registry_wire.lineage_graph_from_proto(
            self._call(self._stub(registry_pb2_grpc.LineageStub).GetLineage, req)
        )

    def export_openlineage(self, project: str = "") -> Iterator[str]:
        for event in self._stream(
            self._stub(registry_pb2_grpc.LineageStub).ExportOpenLineage, registry_pb2.ExportRequest(project=project)
        ):
            yield event.json


def _joined(models: Iterable[Model]) -> list[Model]:
    """Models as pages of versions gave them, each model's parts (in a row) made one."""
    found: list[Model] = []
    for m in models:
        if found and found[-1].name == m.name:
            m = dataclasses.replace(m, versions=found.pop().versions + m.versions)
        found.append(m)
    return found
