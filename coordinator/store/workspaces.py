"""Workspaces: one row per name in a project, naming its latest run (coordinator/workspaces.py)."""

from __future__ import annotations

from typing import Any

from kiln.coordinator.store.base import Database

WORKSPACE_FIELDS = frozenset({"run_id", "tool", "owner", "created_at", "idle_limit_s", "last_active", "warned_at",
                              "last_saved", "last_saved_at", "stop_reason", "shared"})  # fmt: skip


class WorkspaceTables(Database):
    def put_workspace(self, row: dict[str, Any]) -> None:
        with self.transaction():
            self.db["workspaces"].upsert(row, pk=("project", "name"))  # type: ignore[union-attr]

    def workspace(self, project: str, name: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM workspaces WHERE project = ? AND name = ?", [project, name])

    def workspaces(self, project: str) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM workspaces WHERE project = ? ORDER BY name", [project])

    def all_workspaces(self, projects: list[str] | None) -> list[dict[str, Any]]:
        """Every workspace of these projects (None: of all), by project and name."""
        if projects is None:
            return self._rows("SELECT * FROM workspaces ORDER BY project, name")
        marks = ", ".join("?" * len(projects)) or "NULL"
        return self._rows(f"SELECT * FROM workspaces WHERE project IN ({marks}) ORDER BY project, name", projects)

    def running_workspaces(self) -> list[dict[str, Any]]:
        """Workspaces whose run is running (what the idle watch looks at)."""
        return self._rows(
            "SELECT w.* FROM workspaces w JOIN runs r ON r.id = w.run_id WHERE r.state = 'running' ORDER BY w.project"
        )

    def workspace_of_run(self, run_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM workspaces WHERE run_id = ?", [run_id])

    def update_workspace(self, project: str, name: str, **fields: Any) -> None:
        unknown = set(fields) - WORKSPACE_FIELDS
        assert not unknown, f"not workspace fields: {unknown}"
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._exec(f"UPDATE workspaces SET {sets} WHERE project = ? AND name = ?", [*fields.values(), project, name])
