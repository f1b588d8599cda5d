"""What the MLflow-compatible API keeps beside Kiln's own records (coordinator/mlflow/): experiments,
runs' MLflow facts, uploaded artifacts, logged models, and registered models' MLflow metadata."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from kiln.coordinator.store.base import Database
from kiln.coordinator.store.tracking import _Compiler
from kiln.core.query import Expr, SortKey

DEFAULT_EXPERIMENT = "0"


class MlflowTables(Database):
    # -- experiments ------------------------------------------------------------------------------------

    def add_experiment(self, project: str, experiment_id: str, name: str, tags: dict[str, str], at: float) -> None:
        self._exec(
            "INSERT INTO mlflow_experiments (project, id, name, lifecycle, tags_json, created_at, updated_at) "
            "VALUES (?, ?, ?, 'active', ?, ?, ?)",
            [project, experiment_id, name, json.dumps(tags), at, at],
        )

    def experiment(self, project: str, experiment_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM mlflow_experiments WHERE project = ? AND id = ?", [project, experiment_id])

    def experiment_named(self, project: str, name: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM mlflow_experiments WHERE project = ? AND name = ?", [project, name])

    def experiments(self, project: str) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM mlflow_experiments WHERE project = ? ORDER BY created_at, id", [project])

    def update_experiment(self, project: str, experiment_id: str, at: float, **fields: Any) -> None:
        if "tags" in fields:
            fields["tags_json"] = json.dumps(fields.pop("tags"))
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._exec(
            f"UPDATE mlflow_experiments SET {sets}, updated_at = ? WHERE project = ? AND id = ?",
            [*fields.values(), at, project, experiment_id],
        )

    # -- runs -------------------------------------------------------------------------------------------

    def add_mlflow_run(self, run_id: str, experiment: str, name: str) -> None:
        """A run made through MLflow: its experiment and name, active."""
        self._exec(
            "INSERT INTO mlflow_runs (run_id, experiment, name, lifecycle) VALUES (?, ?, ?, 'active')",
            [run_id, experiment, name],
        )

    def change_mlflow_run(self, run_id: str, column: str, value: str) -> None:
        """Sets one MLflow fact of a run (its name or lifecycle), keeping the others; a run with no facts
        yet (one made by kiln run) gets the defaults for the rest: experiment "0", active."""
        assert column in ("name", "lifecycle"), column
        name, lifecycle = (value, "active") if column == "name" else ("", value)
        self._exec(
            "INSERT INTO mlflow_runs (run_id, experiment, name, lifecycle) VALUES (?, ?, ?, ?) "
            f"ON CONFLICT (run_id) DO UPDATE SET {column} = excluded.{column}",
            [run_id, DEFAULT_EXPERIMENT, name, lifecycle],
        )

    def mlflow_runs(self, run_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(run_ids)
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ", ".join("?" * len(part))
            for r in self._rows(f"SELECT * FROM mlflow_runs WHERE run_id IN ({marks})", part):
                found[r["run_id"]] = r
        return found

    def search_experiment_runs(
        self,
        project: str,
        experiments: list[str],
        lifecycle: str,
        where: Expr | None,
        sort: list[SortKey],
        limit: int,
        offset: int,
    ) -> list[str]:
        """Ids of the project's runs in these experiments (a run with no MLflow facts is in "0", active)
        of this lifecycle ('' any), matching `where`, by `sort` (newest first), from place `offset`."""
        c = _Compiler()
        clauses = c.where([project], where)
        clauses.append(f"coalesce(m.experiment, '{DEFAULT_EXPERIMENT}') IN ({', '.join('?' * len(experiments))})")
        params: list[Any] = list(experiments)
        if lifecycle:
            clauses.append("coalesce(m.lifecycle, 'active') = ?")
            params.append(lifecycle)
        order = c.order(sort)
        joins = " ".join(c.joins.values())
        sql = (
            f"SELECT r.id FROM runs r LEFT JOIN mlflow_runs m ON m.run_id = r.id {joins} "
            f"WHERE {' AND '.join(clauses)} ORDER BY {order} LIMIT ? OFFSET ?"
        )
        return [r[0] for r in self._pairs(sql, [*c.join_params, *c.params, *params, limit, offset])]

    def latest_metrics(self, run_id: str) -> list[tuple[str, float, int, float]]:
        """(key, last value, its step, its timestamp) of each of the run's metrics."""
        rows = self._pairs(
            "SELECT s.key, s.last_value, s.last_step, coalesce((SELECT max(m.timestamp) FROM metrics m "
            "WHERE m.run_id = s.run_id AND m.key = s.key AND m.step = s.last_step), 0) FROM metric_summary s "
            "WHERE s.run_id = ? ORDER BY s.key",
            [run_id],
        )
        return [(k, float("nan") if v is None else v, s, ts) for k, v, s, ts in rows]

    def delete_tag(self, run_id: str, key: str) -> int:
        return self._exec("DELETE FROM run_tags WHERE run_id = ? AND key = ?", [run_id, key])

    # -- artifacts (of a run, or of a logged model: `owner` is its id) ----------------------------------

    def add_artifact(self, owner: str, path: str, digest: str, size: int, at: float) -> None:
        self._exec(
            "INSERT INTO mlflow_artifacts (owner, path, digest, size, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (owner, path) DO UPDATE SET digest = excluded.digest, size = excluded.size, at = excluded.at",
            [owner, path, digest, size, at],
        )

    def artifact(self, owner: str, path: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM mlflow_artifacts WHERE owner = ? AND path = ?", [owner, path])

    def artifacts(self, owner: str, prefix: str = "") -> list[dict[str, Any]]:
        """The owner's artifacts under `prefix` ('' all), by path."""
        if not prefix:
            return self._rows("SELECT * FROM mlflow_artifacts WHERE owner = ? ORDER BY path", [owner])
        return self._rows(
            "SELECT * FROM mlflow_artifacts WHERE owner = ? AND path LIKE ? ESCAPE '\\' ORDER BY path",
            [owner, _below(prefix)],
        )

    def delete_artifacts(self, owner: str, path: str) -> int:
        return self._exec(
            "DELETE FROM mlflow_artifacts WHERE owner = ? AND (path = ? OR path LIKE ? ESCAPE '\\')",
            [owner, path, _below(path)],
        )

    # -- logged models (MLflow 3) -----------------------------------------------------------------------

    def add_logged_model(self, row: dict[str, Any]) -> None:
        with self.transaction():
            self.db["mlflow_logged_models"].insert(row)  # type: ignore[union-attr]

    def logged_model(self, model_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM mlflow_logged_models WHERE id = ?", [model_id])

    def logged_models(self, project: str, experiments: list[str]) -> list[dict[str, Any]]:
        marks = ", ".join("?" * len(experiments))
        return self._rows(
            f"SELECT * FROM mlflow_logged_models WHERE project = ? AND experiment IN ({marks}) "
            "ORDER BY created_at DESC, id",
            [project, *experiments],
        )

    def update_logged_model(self, model_id: str, at: float, **fields: Any) -> None:
        for name in ("tags", "params"):
            if name in fields:
                fields[f"{name}_json"] = json.dumps(fields.pop(name))
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._exec(
            f"UPDATE mlflow_logged_models SET {sets}, updated_at = ? WHERE id = ?", [*fields.values(), at, model_id]
        )

    def delete_logged_model(self, model_id: str) -> None:
        with self.transaction():
            self._exec("DELETE FROM mlflow_logged_models WHERE id = ?", [model_id])
            self._exec("DELETE FROM mlflow_artifacts WHERE owner = ?", [model_id])

    # -- registered models and versions: MLflow's metadata beside Kiln's registry ------------------------

    def registered_model(self, project: str, name: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM mlflow_registered_models WHERE project = ? AND name = ?", [project, name])

    def registered_models(self, project: str) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM mlflow_registered_models WHERE project = ? ORDER BY name", [project])

    def put_registered_model(self, project: str, name: str, description: str, tags: dict[str, str], at: float) -> None:
        self._exec(
            "INSERT INTO mlflow_registered_models (project, name, description, tags_json, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (project, name) DO UPDATE SET description = excluded.description, "
            "tags_json = excluded.tags_json, updated_at = excluded.updated_at",
            [project, name, description, json.dumps(tags), at, at],
        )

    def delete_registered_model(self, project: str, name: str) -> None:
        with self.transaction():
            self._exec("DELETE FROM mlflow_registered_models WHERE project = ? AND name = ?", [project, name])
            self._exec("DELETE FROM mlflow_model_versions WHERE project = ? AND name = ?", [project, name])

    def version_meta(self, project: str, name: str, version: int) -> dict[str, Any] | None:
        return self._one(
            "SELECT * FROM mlflow_model_versions WHERE project = ? AND name = ? AND version = ?",
            [project, name, version],
        )

    def versions_meta(self, project: str, name: str) -> dict[int, dict[str, Any]]:
        rows = self._rows("SELECT * FROM mlflow_model_versions WHERE project = ? AND name = ?", [project, name])
        return {r["version"]: r for r in rows}

    def put_version_meta(
        self,
        project: str,
        name: str,
        version: int,
        description: str,
        source: str,
        tags: dict[str, str],
        model_id: str,
        at: float,
    ) -> None:
        self._exec(
            "INSERT INTO mlflow_model_versions (project, name, version, description, source, tags_json, model_id, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project, name, version) DO UPDATE SET "
            "description = excluded.description, source = excluded.source, tags_json = excluded.tags_json, "
            "model_id = excluded.model_id, updated_at = excluded.updated_at",
            [project, name, version, description, source, json.dumps(tags), model_id, at],
        )

    def rename_registered_model(self, project: str, name: str, new_name: str, at: float) -> None:
        with self.transaction():
            self._exec(
                "UPDATE mlflow_registered_models SET name = ?, updated_at = ? WHERE project = ? AND name = ?",
                [new_name, at, project, name],
            )
            self._exec(
                "UPDATE mlflow_model_versions SET name = ? WHERE project = ? AND name = ?", [new_name, project, name]
            )

    # -- what the artifacts door and logged models need beyond the rows above ---------------------------

    def artifact_clash(self, owner: str, path: str) -> str:
        """An artifact of the owner that `path` cannot sit beside (a file at one of its parent folders, or
        files below it as a folder); "" when none."""
        parents = []
        parent = path.rpartition("/")[0]
        while parent:
            parents.append(parent)
            parent = parent.rpartition("/")[0]
        if parents:
            marks = ", ".join("?" * len(parents))
            row = self._one(
                f"SELECT path FROM mlflow_artifacts WHERE owner = ? AND path IN ({marks})", [owner, *parents]
            )
            if row:
                return str(row["path"])
        below = self.artifacts(owner, path)
        return str(below[0]["path"]) if below else ""

    def logged_models_of_run(self, run_id: str) -> list[dict[str, Any]]:
        """The logged models a run made (its source run) or output (log-outputs), oldest first."""
        return self._rows(
            "SELECT * FROM mlflow_logged_models WHERE run_id = ? OR source_run = ? ORDER BY created_at, id",
            [run_id, run_id],
        )

    def delete_version_meta(self, project: str, name: str, version: int) -> None:
        self._exec(
            "DELETE FROM mlflow_model_versions WHERE project = ? AND name = ? AND version = ?", [project, name, version]
        )


def _below(folder: str) -> str:
    """A LIKE pattern (escaped with \\) for every path below `folder`."""
    escaped = folder.rstrip("/").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%"
