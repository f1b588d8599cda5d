"""Projects, members, blobs held per project, and snapshots."""

from __future__ import annotations

import json
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from kiln.coordinator.store.base import Database
from kiln.core import clock
from kiln.core.manifest import Entry, Manifest
from kiln.core.models import Project, Snapshot
from kiln.core.overview import ProjectSummary
from kiln.core.permissions import Role

MANIFEST_CACHE = 16


class ProjectTables(Database):
    _manifests: OrderedDict[tuple[str, str], Manifest] | None = None

    def add_project(self, name: str, description: str, owner: str) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO projects (name, description, created_by, created_at) VALUES (?, ?, ?, ?)",
                [name, description, owner, clock.now()],
            )
            self.db.execute(
                "INSERT INTO members (project, user, role) VALUES (?, ?, ?)", [name, owner, str(Role.OWNER)]
            )

    def project(self, name: str) -> Project | None:
        row = self._one("SELECT * FROM projects WHERE name = ?", [name])
        if row is None:
            return None
        rows = self._rows("SELECT user, role, validator FROM members WHERE project = ? ORDER BY user", [name])
        members = {r["user"]: Role.parse(r["role"]) for r in rows}
        return replace(_project(row, members), validators=tuple(r["user"] for r in rows if r["validator"]))

    def projects(self, member: str | None, include_archived: bool, after: str = "", limit: int = -1) -> list[Project]:
        """Projects by name (of which `member` is a member; None: all), those after `after`, at most `limit`
        (-1: every one)."""
        archived = "" if include_archived else " AND p.archived_at = 0"
        if member is None:
            rows = self._rows(
                f"SELECT p.* FROM projects p WHERE p.name > ?{archived} ORDER BY p.name LIMIT ?", [after, limit]
            )
        else:
            rows = self._rows(
                "SELECT p.* FROM projects p JOIN members m ON m.project = p.name "
                f"WHERE m.user = ? AND p.name > ?{archived} ORDER BY p.name LIMIT ?",
                [member, after, limit],
            )
        return [p for p in (self.project(r["name"]) for r in rows) if p is not None]

    def role(self, project: str, user: str) -> Role | None:
        row = self._one("SELECT role FROM members WHERE project = ? AND user = ?", [project, user])
        return Role.parse(row["role"]) if row else None

    def set_member(self, project: str, user: str, role: Role) -> None:
        self._exec(
            "INSERT INTO members (project, user, role) VALUES (?, ?, ?) "
            "ON CONFLICT (project, user) DO UPDATE SET role = excluded.role",
            [project, user, str(role)],
        )

    def remove_member(self, project: str, user: str) -> None:
        self._exec("DELETE FROM members WHERE project = ? AND user = ?", [project, user])

    def archive_project(self, name: str, at: float) -> None:
        self._exec("UPDATE projects SET archived_at = ? WHERE name = ?", [at, name])

    def project_blobs(self, project: str, digests: Iterable[str]) -> dict[str, int]:
        """The size of each of `digests` that the project holds (one query, however many are asked)."""
        with self._lock:
            rows = self.db.conn.execute(
                "SELECT b.digest, b.size FROM json_each(?) j "
                "JOIN project_blobs p ON p.project = ? AND p.digest = j.value "
                "JOIN blobs b ON b.digest = j.value",
                [json.dumps(list(digests)), project],
            ).fetchall()
        return dict(rows)

    def add_project_blobs(self, project: str, blobs: list[tuple[str, int]]) -> None:
        """Records blobs (digest, size) as present on disk and held by the project."""
        now = clock.now()
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO blobs (digest, size, created_at) VALUES (?, ?, ?)",
                [(d, size, now) for d, size in blobs],
            )
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO project_blobs (project, digest) VALUES (?, ?)",
                [(project, d) for d, _ in blobs],
            )

    def add_snapshot(self, snap: Snapshot, canonical_manifest: bytes, form: Manifest | None = None) -> None:
        """Records a snapshot with its manifest; `form`, the same manifest decoded, is kept for the next
        snapshot described as changes to this one."""
        self._exec(
            "INSERT INTO snapshots (project, id, parent, message, author, created_at, files, bytes, "
            "manifest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                snap.project,
                snap.id,
                snap.parent,
                snap.message,
                snap.author,
                snap.created_at,
                snap.files,
                snap.bytes,
                zlib.compress(canonical_manifest, 1),
            ],
        )
        if form is not None:
            self._remember((snap.project, snap.id), form)

    def snapshot(self, project: str, snapshot_id: str) -> Snapshot | None:
        row = self._one("SELECT * FROM snapshots WHERE project = ? AND id = ?", [project, snapshot_id])
        return _snapshot(row) if row else None

    def snapshots_matching(self, prefix: str) -> list[Snapshot]:
        """Every (project, snapshot) whose id starts with `prefix`."""
        rows = self._rows("SELECT * FROM snapshots WHERE id >= ? AND id < ? ORDER BY project", [prefix, prefix + "g"])
        return [_snapshot(r) for r in rows]

    def snapshots(self, project: str, before: tuple[float, str] | None = None, limit: int = -1) -> list[Snapshot]:
        """A project's snapshots, newest first: those before `before` (created_at, id), at most `limit`
        (-1: every one)."""
        sql, params = "SELECT * FROM snapshots WHERE project = ?", list[Any]([project])
        if before is not None:
            sql += " AND (created_at, id) < (?, ?)"
            params += before
        rows = self._rows(sql + " ORDER BY created_at DESC, id DESC LIMIT ?", [*params, limit])
        return [_snapshot(r) for r in rows]

    # -- a project at a glance (kiln.core.overview) -------------------------------------------------------

    def project_summary(self, project: str) -> ProjectSummary:
        """Runs by state, the latest activity, the blobs held and the members; the best run is the caller's
        to choose (`primary_metric`, `best_by`, `latest_succeeded`)."""
        states = self._rows("SELECT state, COUNT(*) AS n FROM runs WHERE project = ? GROUP BY state", [project])
        latest = self._one(
            "SELECT MAX(t) AS t FROM ("
            " SELECT MAX(MAX(created_at, started_at, finished_at)) AS t FROM runs WHERE project = :p"
            " UNION ALL SELECT MAX(created_at) FROM snapshots WHERE project = :p"
            " UNION ALL SELECT MAX(created_at) FROM datasets WHERE project = :p"
            " UNION ALL SELECT MAX(created_at) FROM model_versions WHERE project = :p"
            " UNION ALL SELECT MAX(time) FROM comments WHERE project = :p)",
            {"p": project},
        )
        held = self._one(
            "SELECT COUNT(*) AS n, COALESCE(SUM(b.size), 0) AS size FROM project_blobs p "
            "JOIN blobs b ON b.digest = p.digest WHERE p.project = ?",
            [project],
        )
        members = self._one("SELECT COUNT(*) AS n FROM members WHERE project = ?", [project])
        return ProjectSummary(
            project,
            {r["state"]: r["n"] for r in states},
            float((latest or {}).get("t") or 0.0),
            int(held["size"]) if held else 0,
            int(held["n"]) if held else 0,
            int(members["n"]) if members else 0,
        )

    def primary_metric(self, project: str) -> str:
        """The metric most of the project's succeeded runs logged (by name on a tie); "" for none."""
        row = self._one(
            "SELECT m.key FROM metric_summary m JOIN runs r ON r.id = m.run_id "
            "WHERE r.project = ? AND r.state = 'succeeded' GROUP BY m.key ORDER BY COUNT(*) DESC, m.key LIMIT 1",
            [project],
        )
        return str(row["key"]) if row else ""

    def best_by(self, project: str, metric: str, direction: str) -> tuple[str, float, float] | None:
        """(run id, last value, finished at) of the succeeded run whose last `metric` is lowest ("min") or
        highest ("max"); the later run on a tie; NaN values (stored as NULL) never win."""
        order = "ASC" if direction == "min" else "DESC"
        row = self._one(
            "SELECT r.id, m.last_value, r.finished_at FROM metric_summary m JOIN runs r ON r.id = m.run_id "
            "WHERE r.project = ? AND r.state = 'succeeded' AND m.key = ? AND m.last_value IS NOT NULL "
            f"ORDER BY m.last_value {order}, r.finished_at DESC, r.id LIMIT 1",
            [project, metric],
        )
        return (row["id"], float(row["last_value"]), float(row["finished_at"])) if row else None

    def latest_succeeded(self, project: str) -> tuple[str, float] | None:
        """(run id, finished at) of the project's run that succeeded last."""
        row = self._one(
            "SELECT id, finished_at FROM runs WHERE project = ? AND state = 'succeeded' "
            "ORDER BY finished_at DESC, id LIMIT 1",
            [project],
        )
        return (row["id"], float(row["finished_at"])) if row else None

    def manifest(self, project: str, snapshot_id: str) -> list[Entry]:
        """A snapshot's entries, sorted by path ([] for no such snapshot)."""
        form = self.manifest_form(project, snapshot_id)
        return list(form.entries) if form is not None else []

    def manifest_form(self, project: str, snapshot_id: str) -> Manifest | None:
        """A snapshot's manifest, decoded. Snapshots never change, so the last few read or recorded are kept:
        the next push of a folder is described as changes to its last snapshot, which is then read again."""
        key = (project, snapshot_id)
        with self._lock:
            found = self._manifests.get(key) if self._manifests is not None else None
            if found is not None:
                self._manifests.move_to_end(key)  # type: ignore[union-attr]
                return found
        row = self._one("SELECT manifest FROM snapshots WHERE project = ? AND id = ?", [project, snapshot_id])
        if row is None:
            return None
        form = Manifest(_decode_manifest(row["manifest"]))
        self._remember(key, form)
        return form

    def _remember(self, key: tuple[str, str], form: Manifest) -> None:
        with self._lock:
            if self._manifests is None:
                self._manifests = OrderedDict()
            self._manifests[key] = form
            self._manifests.move_to_end(key)
            if len(self._manifests) > MANIFEST_CACHE:
                self._manifests.popitem(last=False)


def _project(row: dict[str, Any], members: dict[str, Role]) -> Project:
    return Project(row["name"], row["description"], row["created_by"], row["created_at"], row["archived_at"], members)


def _snapshot(row: dict[str, Any]) -> Snapshot:
    return Snapshot(
        row["id"],
        row["project"],
        row["parent"],
        row["message"],
        row["author"],
        row["created_at"],
        row["files"],
        row["bytes"],
    )


def _decode_manifest(blob: bytes) -> list[Entry]:
    return list(map(Entry._make, json.loads(zlib.decompress(blob))))
