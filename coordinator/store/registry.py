"""Datasets, the model registry (versions, alias moves, requests and reviews, policies), comments, and
the lineage edges the coordinator writes from what it observed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, Literal, TypeVar

from kiln.coordinator.store.base import Database
from kiln.core.errors import InvalidArgument
from kiln.core.lineage import Edge, in_order, versioned

DEFAULT_APPROVALS = 1


class RegistryTables(Database):
    # -- datasets ---------------------------------------------------------------------------------------

    def add_dataset_version(self, project: str, name: str, snapshot: str, description: str, by: str, at: float) -> int:
        with self.transaction():
            row = self._one(
                "SELECT coalesce(max(version), 0) AS v FROM datasets WHERE project = ? AND name = ?", [project, name]
            )
            version = (row["v"] if row else 0) + 1
            self.db.execute(
                "INSERT INTO datasets (project, name, version, snapshot, description, created_by, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [project, name, version, snapshot, description, by, at],
            )
        return version

    def dataset_versions(
        self, project: str, name: str = "", after: tuple[str, int] = ("", 0), limit: int = -1
    ) -> list[dict[str, Any]]:
        """Versions by name and number: of dataset `name` ("": every one), those after `after`, at most
        `limit` (-1: every one)."""
        return self._versions("datasets", project, name, after, limit)

    # -- models -----------------------------------------------------------------------------------------

    def add_model_version(
        self,
        project: str,
        name: str,
        run_id: str,
        path: str,
        snapshot: str,
        by: str,
        at: float,
        tags: dict[str, str],
        metrics: dict[str, float],
    ) -> int:
        with self.transaction():
            row = self._one(
                "SELECT coalesce(max(version), 0) AS v FROM model_versions WHERE project = ? AND name = ?",
                [project, name],
            )
            version = (row["v"] if row else 0) + 1
            self.db.execute(
                "INSERT INTO model_versions (project, name, version, run_id, path, snapshot, created_by, "
                "created_at, tags_json, metrics_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [project, name, version, run_id, path, snapshot, by, at, json.dumps(tags), json.dumps(metrics)],
            )
        return version

    def model_versions(
        self, project: str, name: str = "", after: tuple[str, int] = ("", 0), limit: int = -1
    ) -> list[dict[str, Any]]:
        """Versions by name and number: of model `name` ("": every one), those after `after`, at most
        `limit` (-1: every one)."""
        return self._versions("model_versions", project, name, after, limit)

    def _versions(
        self, table: Literal["datasets", "model_versions"], project: str, name: str, after: tuple[str, int], limit: int
    ) -> list[dict[str, Any]]:
        """A page of a versioned table (datasets, model_versions), keyed by (name, version)."""
        sql, params = f"SELECT * FROM {table} WHERE project = ? AND (name, version) > (?, ?)", [project, *after]
        if name:
            sql += " AND name = ?"
            params.append(name)
        return self._rows(sql + " ORDER BY name, version LIMIT ?", [*params, limit])

    def move_alias(
        self, project: str, name: str, alias: str, version: int, at: float, by: str, request_id: str = ""
    ) -> None:
        self._exec(
            "INSERT INTO alias_moves (project, name, alias, version, time, actor, request_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [project, name, alias, version, at, by, request_id],
        )

    def alias_moves(
        self, project: str, name: str, until: float = 0, after: int = 0, limit: int = -1
    ) -> list[dict[str, Any]]:
        """A model's alias moves in the order they were made (each with its place in that order, `seq`):
        those made by `until` (0: all), after place `after`, at most `limit` (-1: every one)."""
        sql = "SELECT rowid AS seq, * FROM alias_moves WHERE project = ? AND name = ? AND rowid > ?"
        params: list[Any] = [project, name, after]
        if until:
            sql += " AND time <= ?"
            params.append(until)
        return self._rows(sql + " ORDER BY rowid LIMIT ?", [*params, limit])

    def aliases(self, project: str, name: str, at: float = 0) -> dict[str, int]:
        """Where each alias of a model points (now, or at time `at`)."""
        current: dict[str, int] = {}
        for move in self.alias_moves(project, name, at):
            current[move["alias"]] = move["version"]
        return current

    def add_alias_request(self, request: dict[str, Any]) -> None:
        self._exec(
            "INSERT INTO alias_requests (id, project, name, version, alias, requester, message, state, "
            "required_approvals, created_at) VALUES (:id, :project, :name, :version, :alias, :requester, "
            ":message, :state, :required_approvals, :created_at)",
            request,
        )

    def alias_requests(
        self, project: str, name: str, state: str = "", after: tuple[float, str] | None = None, limit: int = -1
    ) -> list[dict[str, Any]]:
        """A model's requests by creation (in `state`; "": any), those after `after` (created_at, id), at
        most `limit` (-1: every one)."""
        sql = "SELECT * FROM alias_requests WHERE project = ? AND name = ? AND (created_at, id) > (?, ?)"
        params: list[Any] = [project, name, *(after or (-1.0, ""))]
        if state:
            sql += " AND state = ?"
            params.append(state)
        return self._rows(sql + " ORDER BY created_at, id LIMIT ?", [*params, limit])

    def alias_request(self, request_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM alias_requests WHERE id = ?", [request_id])

    def decide_request(self, request_id: str, state: str, at: float) -> None:
        self._exec("UPDATE alias_requests SET state = ?, decided_at = ? WHERE id = ?", [state, at, request_id])

    def add_review(self, request_id: str, reviewer: str, approve: bool, message: str, at: float) -> None:
        self._exec(
            "INSERT INTO reviews (request_id, reviewer, approve, message, time) VALUES (?, ?, ?, ?, ?)",
            [request_id, reviewer, int(approve), message, at],
        )

    def reviews(self, request_id: str) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM reviews WHERE request_id = ? ORDER BY time", [request_id])

    def required_approvals(self, project: str) -> int:
        row = self._one("SELECT required_approvals FROM policies WHERE project = ?", [project])
        return int(row["required_approvals"]) if row else DEFAULT_APPROVALS

    def set_required_approvals(self, project: str, count: int) -> None:
        self._exec(
            "INSERT INTO policies (project, required_approvals) VALUES (?, ?) ON CONFLICT (project) "
            "DO UPDATE SET required_approvals = excluded.required_approvals",
            [project, count],
        )

    def set_validator(self, project: str, user: str, validator: bool) -> None:
        self._exec("UPDATE members SET validator = ? WHERE project = ? AND user = ?", [int(validator), project, user])

    def validators(self, project: str) -> set[str]:
        return {
            r["user"] for r in self._rows("SELECT user FROM members WHERE project = ? AND validator = 1", [project])
        }

    # -- comments ---------------------------------------------------------------------------------------

    def add_comment(self, comment: dict[str, Any]) -> None:
        self._exec(
            "INSERT INTO comments (id, entity, project, author, text, time) "
            "VALUES (:id, :entity, :project, :author, :text, :time)",
            comment,
        )

    def comments(
        self, project: str, entity: str, after: tuple[float, str] | None = None, limit: int = -1
    ) -> list[dict[str, Any]]:
        """The thread on `entity` in `project` (comments belong to the project they were written in: the
        same content in two projects has two threads), oldest first: those after `after` (time, id), at
        most `limit` (-1: every one)."""
        return self._rows(
            "SELECT * FROM comments WHERE project = ? AND entity = ? AND (time, id) > (?, ?) ORDER BY time, id LIMIT ?",
            [project, entity, *(after or (-1.0, "")), limit],
        )

    # -- lineage ----------------------------------------------------------------------------------------

    def add_edges(self, edges: Iterable[Edge], at: float) -> list[Edge]:
        """Records the edges that keep lineage's rule (`kiln.core.lineage.in_order`: between two different
        entities, from the older to the younger) and returns them. The one home of that check, so no
        writer can record an entity as its own ancestor or a run as the source of what existed before it."""
        wanted = list(edges)
        born = self.births({end for e in wanted for end in (e.src, e.dst)})
        for e in wanted:  # an environment is as old as its oldest run, this one included
            if e.relation == "environment" and e.dst in born:
                born[e.src] = min(born.get(e.src, born[e.dst]), born[e.dst])
        kept = [e for e in wanted if in_order(e, born)]
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO lineage (src, dst, relation, time) VALUES (?, ?, ?, ?)",
                [(e.src, e.dst, e.relation, at) for e in kept],
            )
        return kept

    def births(self, ids: Iterable[str]) -> dict[str, float]:
        """When each entity was first recorded: a run's submission, a snapshot's first recording in any
        project (the same files pushed again later are the same, older, snapshot), a dataset or model
        version's creation, the submission of the first run that ran in an environment. Ids of entities
        this coordinator does not hold are left out."""
        by_kind: dict[str, list[str]] = {}
        for entity in set(ids):
            kind, _, rest = entity.partition(":")
            by_kind.setdefault(kind, []).append(rest)
        found: dict[str, float] = {}
        plain = {
            "run": "SELECT id, created_at FROM runs WHERE id IN ({})",
            "deployment": "SELECT name, created_at FROM deployments WHERE name IN ({})",
            "snapshot": "SELECT id, min(created_at) FROM snapshots WHERE id IN ({}) GROUP BY id",
        }
        for kind, sql in plain.items():
            for batch in _batches(by_kind.get(kind, [])):
                for key, at in self._fetch(sql.format(",".join("?" * len(batch))), batch):
                    found[f"{kind}:{key}"] = at
        for batch in _batches([f"environment:{rest}" for rest in by_kind.get("environment", [])]):
            # an environment is as old as the first run that ran in it
            sql = (
                "SELECT l.src, min(r.created_at) FROM lineage l JOIN runs r ON l.dst = 'run:' || r.id "
                f"WHERE l.relation = 'environment' AND l.src IN ({','.join('?' * len(batch))}) GROUP BY l.src"
            )
            for key, at in self._fetch(sql, batch):
                found[key] = at
        versioned_tables = (
            ("dataset", "datasets", "version"),
            ("model", "model_versions", "version"),
            ("monitor", "monitor_results", "seq"),
        )
        for kind, table, number in versioned_tables:
            versions = [k for k in (_versioned(rest) for rest in by_kind.get(kind, [])) if k]
            for versions_batch in _batches(versions):
                rows = ",".join(["(?, ?, ?)"] * len(versions_batch))
                sql = f"SELECT project, name, {number}, created_at FROM {table} WHERE (project, name, {number}) IN "
                sql += f"(VALUES {rows})"
                for project, name, version, at in self._fetch(sql, [v for key in versions_batch for v in key]):
                    found[f"{kind}:{project}/{name}@{version}"] = at
        return found

    def _fetch(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self.db.conn.execute(sql, params).fetchall())

    def edges(self, frontier: set[str], upstream: bool) -> list[Edge]:
        """Edges into (upstream) or out of the frontier, in one query per 500 entities."""
        column = "dst" if upstream else "src"
        found: list[Edge] = []
        for batch in _batches(list(frontier)):
            sql = f"SELECT src, dst, relation FROM lineage WHERE {column} IN ({','.join('?' * len(batch))})"
            found.extend(Edge(*r) for r in self._fetch(sql, batch))
        return found

    def edges_of(self, entity: str, upstream: bool) -> list[tuple[Edge, float]]:
        """The edges into (upstream) or out of one entity, with the time each was recorded."""
        column = "dst" if upstream else "src"
        sql = f"SELECT src, dst, relation, time FROM lineage WHERE {column} = ? ORDER BY time, src, dst, relation"
        return [(Edge(src, dst, relation), at) for src, dst, relation, at in self._fetch(sql, [entity])]


T = TypeVar("T")


def _batches(items: list[T], size: int = 500) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _versioned(rest: str) -> tuple[str, str, int] | None:
    try:
        return versioned(rest)
    except InvalidArgument:
        return None
