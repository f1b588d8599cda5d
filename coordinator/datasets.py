"""Datasets: named, versioned snapshots of a project. A run that uses one mounts it read-only and records
the exact version as its input."""

from __future__ import annotations

from typing import Any

from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.snapshots import resolve_snapshot
from kiln.core import clock, limits, lineage
from kiln.core.errors import NotFound
from kiln.core.models import DatasetVersion
from kiln.core.names import check_name
from kiln.core.paging import Page, PageRequest, page_of
from kiln.core.permissions import Need, Principal


def add_version(
    ctx: Coordinator, who: Principal, project: str, name: str, snapshot: str, description: str
) -> DatasetVersion:
    require_project(ctx.store, who, Need.WRITE, project)
    check_name("dataset", name)
    limits.DESCRIPTION.text(description, field="dataset description")
    limits.REFERENCE.check(snapshot, field="snapshot id")
    snap = resolve_snapshot(ctx, who, project, snapshot)
    now = clock.now()
    with ctx.store.transaction():
        version = ctx.store.add_dataset_version(project, name, snap.id, description, who.user, now)
        ctx.store.add_edges(
            [lineage.Edge(lineage.snapshot_id(snap.id), lineage.dataset_id(project, name, version), "content")], now
        )
        ctx.store.append_audit(who.user, "dataset.version", f"{project}/{name}@{version}", {"snapshot": snap.id})
    return DatasetVersion(project, name, version, snap.id, who.user, now, snap.files, snap.bytes)


def list_versions(ctx: Coordinator, who: Principal, project: str, page: PageRequest) -> Page[DatasetVersion]:
    """One page of the project's dataset versions, by name and version."""
    require_project(ctx.store, who, Need.READ, project)
    after = (str(page.after[0]), int(page.after[1])) if page.after else ("", 0)
    rows = page_of(ctx.store.dataset_versions(project, "", after, page.size + 1), page.size, _dataset_key)
    found = []
    for r in rows.items:
        snap = ctx.store.snapshot(project, r["snapshot"])
        found.append(
            DatasetVersion(
                project,
                r["name"],
                r["version"],
                r["snapshot"],
                r["created_by"],
                r["created_at"],
                snap.files if snap else 0,
                snap.bytes if snap else 0,
            )
        )
    return Page(found, rows.keys, rows.more)


def _dataset_key(row: dict[str, Any]) -> tuple[str, int]:
    return row["name"], row["version"]


def find_version(ctx: Coordinator, project: str, text: str) -> tuple[str, int, str] | None:
    """(name, version, snapshot) for NAME (the latest version) or NAME:VERSION / NAME@VERSION."""
    name, _, version = text.replace("@", ":").partition(":")
    rows = ctx.store.dataset_versions(project, name)
    if version:
        rows = [r for r in rows if str(r["version"]) == version]
    if not rows:
        return None
    row = rows[-1]
    return row["name"], int(row["version"]), row["snapshot"]


def resolve_inputs(ctx: Coordinator, project: str, names: tuple[str, ...]) -> list[tuple[str, int, str]]:
    """The exact versions a run asks for, or NotFound naming the missing one."""
    found = []
    for text in names:
        version = find_version(ctx, project, text)
        if version is None:
            raise NotFound(f"no dataset {text!r} in project {project!r} (kiln datasets lists them)")
        found.append(version)
    return found
