"""Projects and their members."""

from __future__ import annotations

from dataclasses import replace

from kiln.coordinator.access import require_project
from kiln.coordinator.store import SqliteStore
from kiln.core import clock, limits, overview
from kiln.core.errors import AlreadyExists, FailedPrecondition, NotFound
from kiln.core.models import Project
from kiln.core.names import check_name
from kiln.core.overview import BestRun, ProjectSummary
from kiln.core.paging import Page, PageRequest, page_of
from kiln.core.permissions import Need, Principal, Role


def create_project(store: SqliteStore, who: Principal, name: str, description: str) -> Project:
    check_name("project", name)
    limits.DESCRIPTION.text(description, field="project description")
    if store.project(name):
        raise AlreadyExists(f"project {name!r} already exists")
    with store.transaction():
        store.add_project(name, description, who.user)
        store.append_audit(who.user, "project.create", name, {"description": description})
    return _seen_by(store, who, name)


def list_projects(store: SqliteStore, who: Principal, include_archived: bool, page: PageRequest) -> Page[Project]:
    """One page of the projects the caller may see (an admin: every one), by name."""
    after = str(page.after[0]) if page.after else ""
    projects = store.projects(None if who.is_admin else who.user, include_archived, after, page.size + 1)
    return page_of([replace(p, my_role=_role_name(p, who)) for p in projects], page.size, lambda p: (p.name,))


def get_project(store: SqliteStore, who: Principal, name: str) -> Project:
    require_project(store, who, Need.READ, name)
    return _seen_by(store, who, name)


def summary(store: SqliteStore, who: Principal, name: str, metric: str = "", direction: str = "") -> ProjectSummary:
    """The project at a glance, for a reader of it. The best run is chosen by `metric` ("": the one most
    succeeded runs logged) getting better in `direction` ("": as the metric's name implies); where no
    direction is known, the latest succeeded run is named instead (with no metric)."""
    limits.REFERENCE.check(name, field="project")
    limits.TRACK_KEY.check(metric, field="metric")
    overview.check_direction(direction)
    require_project(store, who, Need.READ, name)
    found = store.project_summary(name)
    metric = metric or store.primary_metric(name)
    direction = direction or (overview.direction_of(metric) if metric else "")
    best: BestRun | None = None
    if metric and direction and (by := store.best_by(name, metric, direction)):
        best = BestRun(by[0], metric=metric, direction=direction, value=by[1], finished_at=by[2])
    elif latest := store.latest_succeeded(name):
        best = BestRun(latest[0], finished_at=latest[1])
    if best is not None:
        best = replace(best, name=store.tags(best.run_id).get(overview.NAME_TAG, ""))
    return replace(found, best=best)


def set_member(store: SqliteStore, who: Principal, project: str, user: str, role: Role) -> Project:
    found = require_project(store, who, Need.MANAGE, project)
    if store.user(user) is None:
        raise NotFound(f"no user named {user!r}; an admin creates users (kiln user create)")
    _keep_an_owner(found, user, role)
    with store.transaction():
        store.set_member(project, user, role)
        store.append_audit(who.user, "project.member.set", project, {"user": user, "role": str(role)})
    return _seen_by(store, who, project)


def remove_member(store: SqliteStore, who: Principal, project: str, user: str) -> Project:
    found = require_project(store, who, Need.MANAGE, project)
    if user not in found.members:
        raise NotFound(f"user {user!r} is not a member of project {project!r}")
    _keep_an_owner(found, user, None)
    with store.transaction():
        store.remove_member(project, user)
        store.append_audit(who.user, "project.member.remove", project, {"user": user})
    return _seen_by(store, who, project)


def archive_project(store: SqliteStore, who: Principal, project: str) -> Project:
    require_project(store, who, Need.MANAGE, project)
    with store.transaction():
        store.archive_project(project, clock.now())
        store.append_audit(who.user, "project.archive", project, {})
    return _seen_by(store, who, project)


def _keep_an_owner(project: Project, user: str, new_role: Role | None) -> None:
    owners = {u for u, r in project.members.items() if r is Role.OWNER}
    if owners == {user} and new_role is not Role.OWNER:
        raise FailedPrecondition(
            f"{user!r} is the last owner of project {project.name!r}; make someone else owner first"
        )


def _seen_by(store: SqliteStore, who: Principal, name: str) -> Project:
    project = store.project(name)
    assert project is not None
    return replace(project, my_role=_role_name(project, who))


def _role_name(project: Project, who: Principal) -> str:
    role = project.members.get(who.user)
    return str(role) if role else ""
