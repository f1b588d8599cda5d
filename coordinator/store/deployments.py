"""Deployments, their state history and replicas, endpoint tokens, the prediction ledger and batch scorings."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from kiln.coordinator.store.base import Database
from kiln.core.deployments import PredictionRecord, Split

DEPLOYMENT_FIELDS = (
    "model",
    "alias",
    "replicas",
    "state",
    "cpus",
    "memory_bytes",
    "gpus",
    "environment",
    "sticky_header",
    "sample_rate",
    "serving_since",
)


def splits_json(splits: Iterable[Split]) -> str:
    return json.dumps([[s.version, s.weight, int(s.shadow)] for s in splits])


def splits_from(text: str) -> tuple[Split, ...]:
    return tuple(Split(int(v), int(w), bool(sh)) for v, w, sh in json.loads(text))


class DeploymentTables(Database):
    # -- deployments --------------------------------------------------------------------------------------

    def add_deployment(self, row: dict[str, Any]) -> None:
        with self.transaction():
            self.db["deployments"].insert(row)  # type: ignore[union-attr]

    def deployment(self, name: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM deployments WHERE name = ?", [name])

    def deployments(
        self, projects: Sequence[str] | None = None, state: str = "", after: str = "", limit: int = -1
    ) -> list[dict[str, Any]]:
        """By name: of `projects` (None: every one), in `state` ("": any), after `after`, at most `limit`."""
        sql, params = "SELECT * FROM deployments WHERE name > ?", [after]
        if projects is not None:
            sql += f" AND project IN ({','.join('?' * len(projects))})"
            params += list(projects)
        if state:
            sql += " AND state = ?"
            params.append(state)
        return self._rows(sql + " ORDER BY name LIMIT ?", [*params, limit])

    def update_deployment(self, name: str, **fields: Any) -> None:
        sets, params = [], []
        for key, value in fields.items():
            if key in ("traffic", "serving"):
                sets.append(f"{key}_json = ?")
                params.append(splits_json(value))
            else:
                assert key in DEPLOYMENT_FIELDS, key
                sets.append(f"{key} = ?")
                params.append(value)
        self._exec(f"UPDATE deployments SET {', '.join(sets)} WHERE name = ?", [*params, name])

    def add_deployment_event(self, name: str, time: float, state: str, cause: str, actor: str = "") -> None:
        self._exec(
            "INSERT INTO deployment_events (deployment, time, state, cause, actor) VALUES (?, ?, ?, ?, ?)",
            [name, time, state, cause, actor],
        )

    def deployment_events(self, name: str, limit: int = 200) -> list[dict[str, Any]]:
        """The latest `limit` events, oldest first."""
        rows = self._rows(
            "SELECT * FROM deployment_events WHERE deployment = ? ORDER BY time DESC, rowid DESC LIMIT ?", [name, limit]
        )
        return rows[::-1]

    # -- replicas ----------------------------------------------------------------------------------------

    def add_replica(self, run_id: str, deployment: str, version: int) -> None:
        self._exec(
            "INSERT INTO deployment_replicas (run_id, deployment, version) VALUES (?, ?, ?)",
            [run_id, deployment, version],
        )

    def replica_rows(self, deployment: str = "", active_only: bool = True) -> list[dict[str, Any]]:
        """Replicas with their run's state, node and start: of one deployment ("": every one)."""
        sql = (
            "SELECT r.run_id, r.deployment, r.version, runs.state, runs.node, runs.started_at, runs.created_at, "
            "runs.reason, runs.cancel_requested FROM deployment_replicas r JOIN runs ON runs.id = r.run_id"
        )
        where, params = [], []
        if deployment:
            where.append("r.deployment = ?")
            params.append(deployment)
        if active_only:
            where.append("runs.state IN ('queued', 'assigned', 'preparing', 'running')")
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._rows(sql + " ORDER BY runs.created_at, r.run_id", params)

    def recent_replicas(self, deployment: str, version: int, limit: int) -> list[dict[str, Any]]:
        """The latest replicas of one version, newest first, with their run's state, end and reason."""
        return self._rows(
            "SELECT r.run_id, runs.state, runs.finished_at, runs.reason FROM deployment_replicas r "
            "JOIN runs ON runs.id = r.run_id WHERE r.deployment = ? AND r.version = ? "
            "ORDER BY runs.created_at DESC, r.run_id DESC LIMIT ?",
            [deployment, version, limit],
        )

    def drained_nodes(self) -> set[str]:
        return {r["name"] for r in self._rows("SELECT name FROM nodes WHERE drained = 1")}

    def model_version(self, project: str, name: str, version: int) -> dict[str, Any] | None:
        return self._one(
            "SELECT * FROM model_versions WHERE project = ? AND name = ? AND version = ?", [project, name, version]
        )

    def replica_of(self, run_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM deployment_replicas WHERE run_id = ?", [run_id])

    def addresses(self, run_ids: Sequence[str], tag: str) -> dict[str, str]:
        """The `tag` value of each run that has it (replicas tell their address so)."""
        if not run_ids:
            return {}
        rows = self._rows(
            f"SELECT run_id, value FROM run_tags WHERE key = ? AND run_id IN ({','.join('?' * len(run_ids))})",
            [tag, *run_ids],
        )
        return {r["run_id"]: r["value"] for r in rows}

    # -- endpoint tokens ---------------------------------------------------------------------------------

    def add_endpoint_token(self, row: dict[str, Any]) -> None:
        with self.transaction():
            self.db["endpoint_tokens"].insert(row)  # type: ignore[union-attr]

    def endpoint_token(self, token_id: str = "", secret_hash: str = "") -> dict[str, Any] | None:
        if secret_hash:
            return self._one("SELECT * FROM endpoint_tokens WHERE secret_hash = ?", [secret_hash])
        return self._one("SELECT * FROM endpoint_tokens WHERE id = ?", [token_id])

    def revoke_endpoint_token(self, token_id: str, at: float) -> None:
        self._exec("UPDATE endpoint_tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0", [at, token_id])

    # -- the ledger --------------------------------------------------------------------------------------

    def add_predictions(self, records: Sequence[PredictionRecord]) -> int:
        """Stores what is new (a record is kept once by id: a gateway resends after a crash); how many were."""
        rows = [
            (
                r.id,
                r.endpoint,
                r.version,
                r.time,
                r.latency_ms,
                r.status,
                r.replica,
                r.node,
                int(r.shadow),
                r.caller,
                r.content_type,
                r.request,
                r.response,
                int(r.truncated),
                r.error,
            )
            for r in records
        ]
        with self.transaction():
            before = self.db.conn.total_changes
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO predictions (id, deployment, version, time, latency_ms, status, replica, "
                "node, shadow, caller, content_type, request, response, truncated, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return self.db.conn.total_changes - before

    def predictions(
        self,
        deployment: str,
        since: float,
        until: float,
        version: int = 0,
        after: tuple[float, str] | None = None,
        limit: int = -1,
        bodies: bool = True,
    ) -> list[dict[str, Any]]:
        """Newest first: of `deployment` between `since` and `until`, before `after` (time, id)."""
        columns = "*" if bodies else "id, deployment, version, time, latency_ms, status, replica, node, shadow, "
        if not bodies:
            columns += "caller, content_type, truncated, error, label, labelled_at, x'' AS request, x'' AS response"
        sql = f"SELECT {columns} FROM predictions WHERE deployment = ? AND time >= ? AND time <= ?"
        params: list[Any] = [deployment, since, until]
        if version:
            sql += " AND version = ?"
            params.append(version)
        if after is not None:
            sql += " AND (time < ? OR (time = ? AND id < ?))"
            params += [after[0], after[0], after[1]]
        return self._rows(sql + " ORDER BY time DESC, id DESC LIMIT ?", [*params, limit])

    def prediction(self, prediction_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM predictions WHERE id = ?", [prediction_id])

    def add_labels(self, deployment: str, labels: Sequence[tuple[str, str]], at: float) -> list[str]:
        """Joins each label to its prediction (and that prediction's shadow answer); the ids not found."""
        unknown = []
        with self.transaction():
            for prediction_id, label in labels:
                n = self.db.execute(
                    "UPDATE predictions SET label = ?, labelled_at = ? WHERE deployment = ? AND (id = ? OR id = ?)",
                    [label, at, deployment, prediction_id, prediction_id + "-shadow"],
                ).rowcount
                if not n:
                    unknown.append(prediction_id)
        return unknown

    def prediction_stats_rows(self, deployment: str, since: float) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT version, shadow, time, latency_ms, status, response, label FROM predictions "
            "WHERE deployment = ? AND time >= ? ORDER BY time",
            [deployment, since],
        )

    # -- batch scoring -----------------------------------------------------------------------------------

    def add_scoring(self, row: dict[str, Any]) -> None:
        with self.transaction():
            self.db["scorings"].insert(row)  # type: ignore[union-attr]

    def scoring(self, run_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM scorings WHERE run_id = ?", [run_id])

    def settle_scoring(self, run_id: str) -> None:
        self._exec("UPDATE scorings SET settled = 1 WHERE run_id = ?", [run_id])
