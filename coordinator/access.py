"""The one place permission is decided for a call: every domain function asks here first.

Users act by their roles. A node (an agent, by its certificate) has no role: it may touch only what the
runs assigned to it need now (`node_scope`): their projects, for outputs and the dataset list; their input
snapshots and their dataset versions' snapshots, and the blobs of those, for reading. A node that runs
something in project A therefore reads nothing else of A, and nothing at all of B.
"""

from __future__ import annotations

from collections.abc import Iterable

from kiln.coordinator.store import SqliteStore
from kiln.core.errors import NotFound, PermissionDenied
from kiln.core.models import Project, Snapshot
from kiln.core.permissions import (
    Need,
    NodeScope,
    Principal,
    admin_decision,
    node_blobs_decision,
    node_call_decision,
    node_project_decision,
    node_snapshot_decision,
    project_decision,
)


def require_project(store: SqliteStore, who: Principal, need: Need, project: str) -> Project:
    """The project, if `who` may act on it as `need` says; PermissionDenied or NotFound otherwise."""
    found = store.project(project)
    if found is None:
        if who.is_admin:
            raise NotFound(f"no project named {project!r} (kiln project list shows them)")
        # Non-members learn nothing about which projects exist.
        raise PermissionDenied(
            f"user {who.user!r} is not a member of project {project!r} "
            "(or it does not exist); ask a project owner to add you"
        )
    archived = bool(found.archived_at)
    if who.node:
        reason = node_project_decision(who, need, project, node_scope(store, who.node), archived)
    else:
        reason = project_decision(who, need, project, found.members.get(who.user), archived)
    if reason:
        raise PermissionDenied(reason)
    return found


def require_snapshot(store: SqliteStore, who: Principal, snap: Snapshot) -> None:
    """Reading a snapshot (its record, its manifest): a reader of its project, or a node one of whose
    runs reads it now."""
    if not who.node:
        require_project(store, who, Need.READ, snap.project)
        return
    reason = node_snapshot_decision(who, snap.project, snap.id, node_scope(store, who.node))
    if reason:
        raise PermissionDenied(reason)


def require_blobs(store: SqliteStore, who: Principal, project: str, digests: Iterable[str]) -> None:
    """Reading blobs of `project`: a reader of it, or a node whose runs read snapshots holding them."""
    require_project(store, who, Need.READ, project)
    if not who.node:
        return
    wanted = list(digests)
    readable: set[str] = set()
    for p, snapshot in sorted(node_scope(store, who.node).snapshots):
        if p == project and not all(d in readable for d in wanted):
            readable.update(e.digest for e in store.manifest(p, snapshot) if e.has_blob)
    reason = node_blobs_decision(who, project, wanted, readable)
    if reason:
        raise PermissionDenied(reason)


def require_node_call(who: Principal, method: str) -> None:
    """Node certificates serve the agent link and its jobs' inputs and outputs, nothing else."""
    reason = node_call_decision(who, method)
    if reason:
        raise PermissionDenied(reason)


def node_scope(store: SqliteStore, node: str) -> NodeScope:
    """What the runs assigned to `node` now (assigned, preparing or running) need: their projects, and
    the snapshots they read (inputs, dataset versions, a Docker environment's saved image). Dataset and
    environment names were pinned to NAME:VERSION at submission, so the versions found here are the ones
    the node was given."""
    projects: set[str] = set()
    snapshots: set[tuple[str, str]] = set()
    for run in store.active_runs(node):
        project = run.spec.project
        projects.add(project)
        if run.spec.snapshot:
            snapshots.add((project, run.spec.snapshot))
        for text in run.spec.datasets:  # NAME:VERSION, as submission pinned it
            name, _, version = text.partition(":")
            snapshots.update(
                (project, r["snapshot"]) for r in store.dataset_versions(project, name) if str(r["version"]) == version
            )
        if run.spec.environment:  # NAME:VERSION, pinned at submission: a Docker one's saved image
            name, _, version = run.spec.environment.partition(":")
            env = store.env_version(project, name, int(version)) if version.isdigit() else None
            if env is not None and env.image_snapshot:
                snapshots.add((project, env.image_snapshot))
    return NodeScope(frozenset(projects), frozenset(snapshots))


def require_admin(who: Principal, action: str) -> None:
    reason = admin_decision(who, action)
    if reason:
        raise PermissionDenied(reason)
