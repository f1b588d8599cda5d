"""Environment versions of a project, and each project's default environment."""

from __future__ import annotations

from typing import Any

from kiln.coordinator.store.base import Database
from kiln.core.environments import BuildState, Definition, Environment, EnvKind


class EnvironmentTables(Database):
    def add_env_version(self, env: Environment) -> int:
        """Stores `env` as the next version of its name; returns that version."""
        with self.transaction():
            row = self._one(
                "SELECT coalesce(max(version), 0) AS v FROM environments WHERE project = ? AND name = ?",
                [env.project, env.name],
            )
            version = (row["v"] if row else 0) + 1
            d = env.definition
            self._exec(
                "INSERT INTO environments (project, name, version, kind, definition, python, context, digest, "
                "state, source, created_by, created_at, build_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    env.project,
                    env.name,
                    version,
                    str(d.kind),
                    d.text,
                    d.python,
                    d.context,
                    d.digest,
                    str(env.state),
                    env.source,
                    env.created_by,
                    env.created_at,
                    env.build_run,
                ],
            )
        return version

    def env_version_with_digest(self, project: str, name: str, digest: str) -> Environment | None:
        row = self._one(
            "SELECT * FROM environments WHERE project = ? AND name = ? AND digest = ? ORDER BY version LIMIT 1",
            [project, name, digest],
        )
        return None if row is None else _environment(row)

    def env_version(self, project: str, name: str, version: int | None = None) -> Environment | None:
        """That version, or the latest one when `version` is None."""
        if version is None:
            row = self._one(
                "SELECT * FROM environments WHERE project = ? AND name = ? ORDER BY version DESC LIMIT 1",
                [project, name],
            )
        else:
            row = self._one(
                "SELECT * FROM environments WHERE project = ? AND name = ? AND version = ?", [project, name, version]
            )
        return None if row is None else _environment(row)

    def env_versions(
        self, project: str, name: str = "", after: tuple[str, int] = ("", 0), limit: int = -1
    ) -> list[Environment]:
        sql, params = "SELECT * FROM environments WHERE project = ? AND (name, version) > (?, ?)", [project, *after]
        if name:
            sql += " AND name = ?"
            params.append(name)
        return [_environment(r) for r in self._rows(sql + " ORDER BY name, version LIMIT ?", [*params, limit])]

    def env_version_built_by(self, run_id: str) -> Environment | None:
        row = self._one("SELECT * FROM environments WHERE build_run = ?", [run_id])
        return None if row is None else _environment(row)

    def set_env_build(self, project: str, name: str, version: int, run_id: str) -> None:
        self._exec(
            "UPDATE environments SET build_run = ? WHERE project = ? AND name = ? AND version = ?",
            [run_id, project, name, version],
        )

    def finish_env_version(self, env: Environment) -> None:
        """Records how its build ended and what the build found in it."""
        self._exec(
            "UPDATE environments SET state = ?, reason = ?, python_version = ?, packages = ?, image_id = ?, "
            "image_snapshot = ?, size_bytes = ? WHERE project = ? AND name = ? AND version = ?",
            [
                str(env.state),
                env.reason,
                env.python_version,
                "\n".join(env.packages),
                env.image_id,
                env.image_snapshot,
                env.size_bytes,
                env.project,
                env.name,
                env.version,
            ],
        )

    def default_environment(self, project: str) -> str:
        row = self._one("SELECT ref FROM default_environments WHERE project = ?", [project])
        return str(row["ref"]) if row else ""

    def set_default_environment(self, project: str, ref: str) -> None:
        if ref:
            self._exec(
                "INSERT INTO default_environments (project, ref) VALUES (?, ?) "
                "ON CONFLICT (project) DO UPDATE SET ref = excluded.ref",
                [project, ref],
            )
        else:
            self._exec("DELETE FROM default_environments WHERE project = ?", [project])


def _environment(row: dict[str, Any]) -> Environment:
    definition = Definition(EnvKind(row["kind"]), row["definition"], row["python"], row["context"])
    return Environment(
        project=row["project"],
        name=row["name"],
        version=row["version"],
        definition=definition,
        state=BuildState(row["state"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
        build_run=row["build_run"],
        reason=row["reason"],
        source=row["source"],
        python_version=row["python_version"],
        packages=tuple(p for p in row["packages"].split("\n") if p),
        image_id=row["image_id"],
        image_snapshot=row["image_snapshot"],
        size_bytes=row["size_bytes"],
    )
