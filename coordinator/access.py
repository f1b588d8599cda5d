"""The one place permission is decided for a call: every domain function asks here first."""

from __future__ import annotations

from kiln.coordinator.store import SqliteStore
from kiln.core.errors import NotFound, PermissionDenied
from kiln.core.models import Project
from kiln.core.permissions import Need, Principal, Role, admin_decision, project_decision


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
    if who.node:  # a node may work in a project while it holds one of its runs
        role = Role.EDITOR if any(r.spec.project == project for r in store.active_runs(who.node)) else None
    else:
        role = found.members.get(who.user)
    reason = project_decision(who, need, project, role, archived=bool(found.archived_at))
    if reason:
        raise PermissionDenied(reason)
    return found


def require_admin(who: Principal, action: str) -> None:
    reason = admin_decision(who, action)
    if reason:
        raise PermissionDenied(reason)
