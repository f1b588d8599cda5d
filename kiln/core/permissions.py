"""Who may do what: global admins, per-project owner / editor / viewer roles, and nodes, which may do only
what the runs assigned to them need now."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Role(enum.IntEnum):
    VIEWER = 1
    EDITOR = 2
    OWNER = 3

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}; use viewer, editor or owner") from None

    def __str__(self) -> str:
        return self.name.lower()


class Need(enum.Enum):
    """What an action requires of the caller in a project."""

    READ = Role.VIEWER
    WRITE = Role.EDITOR
    MANAGE = Role.OWNER


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user: str
    is_admin: bool = False
    token_id: str = ""
    node: str = ""  # set for an agent, authenticated by its node certificate; `user` is then "node:<name>"
    run: str = ""  # set for a run's own MLflow token: it acts as its user, and writes only to this run

    @classmethod
    def for_node(cls, name: str) -> Principal:
        return cls(f"node:{name}", node=name)


def project_decision(who: Principal, need: Need, project: str, role: Role | None, archived: bool = False) -> str | None:
    """None when allowed, else the reason in words: what is missing and how to get it."""
    if archived and need is not Need.READ:
        return f"project {project!r} is archived; it can be read but not changed"
    if who.is_admin:
        return None
    if who.node:  # nodes have no roles: node_project_decision decides for them
        return f"node {who.node!r} has no role in project {project!r}"
    if role is None:
        return (
            f"user {who.user!r} is not a member of project {project!r}; "
            f"ask a project owner to add you (kiln project add-member {project} {who.user} --role editor)"
        )
    if role < need.value:
        return (
            f"user {who.user!r} is {role} in project {project!r}, and this needs "
            f"{Role(need.value)} or above; ask a project owner"
        )
    return None


def admin_decision(who: Principal, action: str) -> str | None:
    if who.is_admin:
        return None
    return f"{action} needs a global admin; user {who.user!r} is not one"


# The calls an agent makes with its node certificate: its link, and what the jobs it runs need of the
# coordinator (their inputs, their outputs, and the SDK's question about the run's datasets). A node
# certificate is not a user: a job that stole one gets no user API with it (no runs, projects, users).
AGENT_CALLS = frozenset(
    {
        "/kiln.v1.AgentGateway/Connect",
        "/kiln.v1.AgentGateway/Tunnel",
        "/kiln.v1.Snapshots/GetSnapshot",
        "/kiln.v1.Snapshots/ReadBlobs",
        "/kiln.v1.Snapshots/FindMissingBlobs",
        "/kiln.v1.Snapshots/UploadBlobs",
        "/kiln.v1.Snapshots/CreateSnapshot",
        "/kiln.v1.Datasets/ListDatasets",
    }
)


def node_call_decision(who: Principal, method: str) -> str | None:
    """None when `who` may make this call at all (users: any; nodes: the agent's calls only)."""
    if not who.node or method in AGENT_CALLS:
        return None
    return f"node certificates serve the agent link only; {method.rsplit('/', 1)[-1]} needs a signed-in user"


@dataclass(frozen=True)
class NodeScope:
    """What the runs assigned to a node need now, the whole of what the node may touch: the projects of
    those runs (their outputs go there; the SDK asks about their datasets), and the snapshots they read
    (their input snapshots and their dataset versions' snapshots) as (project, snapshot id)."""

    projects: frozenset[str]
    snapshots: frozenset[tuple[str, str]]


def node_project_decision(
    who: Principal, need: Need, project: str, scope: NodeScope, archived: bool = False
) -> str | None:
    """A node writes outputs into, and reads the dataset list of, only the projects of runs it holds now."""
    if need is Need.MANAGE or project not in scope.projects:
        return f"node {who.node!r} runs nothing in project {project!r} and may not touch it"
    if archived and need is not Need.READ:
        return f"project {project!r} is archived; it can be read but not changed"
    return None


def node_snapshot_decision(who: Principal, project: str, snapshot: str, scope: NodeScope) -> str | None:
    """A node reads a snapshot only if a run it holds now reads it (its input, or one of its datasets)."""
    if (project, snapshot) in scope.snapshots:
        return None
    return f"node {who.node!r} runs nothing that reads snapshot {snapshot[:12]} of project {project!r}"


def node_blobs_decision(who: Principal, project: str, wanted: Iterable[str], readable: set[str]) -> str | None:
    """A node reads only blobs of the snapshots its runs read (`readable`: their digests in `project`)."""
    outside = [d for d in wanted if d not in readable]
    if not outside:
        return None
    return f"node {who.node!r} runs nothing that reads blob {outside[0][:12]} of project {project!r}" + (
        f" ({len(outside)} such blobs)" if len(outside) > 1 else ""
    )
