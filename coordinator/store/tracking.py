"""What runs log: params, tags, metrics (with a per-key summary for search), outputs, environment; and
run search compiled from kiln.core.query trees into SQL with bound parameters."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from kiln.coordinator.store.base import Database
from kiln.core.errors import InvalidArgument
from kiln.core.models import RunValues
from kiln.core.query import MAX_FIELDS, Condition, Expr, Field, SortKey

ATTRIBUTE_COLUMNS = {
    "state": "r.state",
    "user": "r.user",
    "node": "r.node",
    "id": "r.id",
    "created_at": "r.created_at",
    "started_at": "r.started_at",
    "finished_at": "r.finished_at",
}


# kind -> (table, key column, extra condition, its parameters), for tracked_keys
_KEYED: dict[str, tuple[str, str, str, list[Any]]] = {
    "params": ("run_params", "key", "", []),
    "tags": ("run_tags", "key", "", []),
    "metrics": ("metric_summary", "key", "", []),
    "environment": ("run_environment", "key", "", []),
    "artifact": ("run_outputs", "path", " AND kind = ?", ["artifact"]),
    "model": ("run_outputs", "path", " AND kind = ?", ["model"]),
}


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


class TrackingTables(Database):
    def track_batch_seen(self, run_id: str, attempt: int, pid: int, seq: int) -> bool:
        """Records a batch as applied; False if it was applied before (a resend)."""
        cur = self.db.conn.execute(
            "INSERT OR IGNORE INTO track_batches (run_id, attempt, pid, seq) VALUES (?, ?, ?, ?)",
            [run_id, attempt, pid, seq],
        )
        return cur.rowcount == 1

    def add_params(self, run_id: str, params: dict[str, str]) -> None:
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO run_params (run_id, key, value, value_num) VALUES (?, ?, ?, ?)",
            [(run_id, k, v, _number(v)) for k, v in params.items()],
        )

    def add_tags(self, run_id: str, tags: dict[str, str]) -> None:
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO run_tags (run_id, key, value) VALUES (?, ?, ?)",
            [(run_id, k, v) for k, v in tags.items()],
        )

    def add_metrics(self, run_id: str, points: Sequence[tuple[str, int, float, float]]) -> None:
        """Stores (key, step, value, timestamp) points and folds them into each key's summary."""
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO metrics (run_id, key, step, value, timestamp) VALUES (?, ?, ?, ?, ?)",
            [(run_id, k, s, None if math.isnan(v) else v, t) for k, s, v, t in points],
        )
        summary: dict[str, list[Any]] = {}
        for key, step, value, _ in points:
            row = summary.setdefault(key, [step, value, value, value, 0])
            if step >= row[0]:
                row[0], row[1] = step, value
            if not math.isnan(value):
                row[2] = value if math.isnan(row[2]) else min(row[2], value)
                row[3] = value if math.isnan(row[3]) else max(row[3], value)
            row[4] += 1
        self.db.conn.executemany(
            "INSERT INTO metric_summary (run_id, key, last_step, last_value, min_value, max_value, points) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET "
            "last_value = CASE WHEN excluded.last_step >= last_step THEN excluded.last_value ELSE last_value END, "
            "last_step = max(last_step, excluded.last_step), "
            "min_value = min(coalesce(min_value, excluded.min_value), coalesce(excluded.min_value, min_value)), "
            "max_value = max(coalesce(max_value, excluded.max_value), coalesce(excluded.max_value, max_value)), "
            "points = points + excluded.points",
            [(run_id, k, r[0], _nan_none(r[1]), _nan_none(r[2]), _nan_none(r[3]), r[4]) for k, r in summary.items()],
        )

    def add_outputs(self, run_id: str, kind: str, items: Iterable[tuple[str, str, str]]) -> None:
        """Artifacts and models a run logged: (path, name, flavor)."""
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO run_outputs (run_id, kind, path, name, flavor) VALUES (?, ?, ?, ?, ?)",
            [(run_id, kind, *item) for item in items],
        )

    def add_environment(self, run_id: str, env: dict[str, str]) -> None:
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO run_environment (run_id, key, value) VALUES (?, ?, ?)",
            [(run_id, k, v) for k, v in env.items()],
        )

    # -- reading ----------------------------------------------------------------------------------------

    def params(self, run_id: str) -> dict[str, str]:
        return dict(self._pairs("SELECT key, value FROM run_params WHERE run_id = ? ORDER BY key", [run_id]))

    def tags(self, run_id: str) -> dict[str, str]:
        return dict(self._pairs("SELECT key, value FROM run_tags WHERE run_id = ? ORDER BY key", [run_id]))

    def environment(self, run_id: str) -> dict[str, str]:
        return dict(self._pairs("SELECT key, value FROM run_environment WHERE run_id = ? ORDER BY key", [run_id]))

    def outputs(self, run_id: str, kind: str) -> list[tuple[str, str, str]]:
        return self._pairs(
            "SELECT path, name, flavor FROM run_outputs WHERE run_id = ? AND kind = ? ORDER BY path",
            [run_id, kind],
        )

    def metric_summaries(self, run_id: str) -> list[tuple[str, float, int, float, float, int]]:
        """(key, last value, last step, min, max, points) per metric key."""
        return [
            (k, _none_nan(v), s, _none_nan(lo), _none_nan(hi), n)
            for k, v, s, lo, hi, n in self._pairs(
                "SELECT key, last_value, last_step, min_value, max_value, points FROM metric_summary WHERE run_id = ? "
                "ORDER BY key",
                [run_id],
            )
        ]

    def metric_series(
        self, run_id: str, key: str, max_points: int, after_step: int | None = None
    ) -> tuple[int, list[tuple[int, float, float]]]:
        """(total points, at most `max_points` evenly spaced points including the last) of one metric: of
        all its points, or of those after `after_step` (total points is the key's total either way)."""
        total = self._pairs("SELECT points FROM metric_summary WHERE run_id = ? AND key = ?", [run_id, key])
        count = int(total[0][0]) if total else 0
        after = [] if after_step is None else [after_step]
        where = "run_id = ? AND key = ?" + ("" if after_step is None else " AND step > ?")
        if after_step is not None:
            count_after = self._pairs(f"SELECT count(*) FROM metrics WHERE {where}", [run_id, key, *after])
            shown = int(count_after[0][0])
        else:
            shown = count
        stride = max(1, math.ceil(shown / max(1, max_points - 1))) if shown > max_points else 1
        rows = self._pairs(
            "SELECT step, value, timestamp FROM (SELECT step, value, timestamp, "
            "row_number() OVER (ORDER BY step, timestamp) - 1 AS i, count(*) OVER () AS n FROM metrics "
            f"WHERE {where}) WHERE i % ? = 0 OR i = n - 1 ORDER BY step, timestamp",
            [run_id, key, *after, stride],
        )
        return count, [(s, _none_nan(v), t) for s, v, t in rows]

    def metric_extremes(self, run_id: str, key: str) -> tuple[tuple[int, float] | None, tuple[int, float] | None]:
        """(earliest step, value) of the lowest and of the highest value of one metric (None: no value)."""
        found = []
        for order in ("ASC", "DESC"):
            rows = self._pairs(
                "SELECT step, value FROM metrics WHERE run_id = ? AND key = ? AND value IS NOT NULL "
                f"ORDER BY value {order}, step ASC LIMIT 1",
                [run_id, key],
            )
            found.append((int(rows[0][0]), float(rows[0][1])) if rows else None)
        return found[0], found[1]

    def run_values(self, run_ids: list[str], columns: Sequence[Field]) -> dict[str, RunValues]:
        """The asked-for params, last metric values and tags of each run, one query per namespace and batch
        of runs; runs with none of them are left out."""
        found: dict[str, dict[str, dict[str, Any]]] = {}
        sources = (
            ("params", "run_params", "value"),
            ("metrics", "metric_summary", "last_value"),
            ("tags", "run_tags", "value"),
        )
        for namespace, table, value in sources:
            keys = sorted({c.name for c in columns if c.namespace == namespace})
            for i in range(0, len(run_ids) if keys else 0, 500):
                batch = run_ids[i : i + 500]
                rows = self._pairs(
                    f"SELECT run_id, key, {value} FROM {table} WHERE run_id IN ({','.join('?' * len(batch))}) "
                    f"AND key IN ({','.join('?' * len(keys))})",
                    [*batch, *keys],
                )
                for run_id, key, v in rows:
                    of_run = found.setdefault(run_id, {"params": {}, "metrics": {}, "tags": {}})
                    of_run[namespace][key] = _none_nan(v) if namespace == "metrics" else v
        return {run_id: RunValues(**values) for run_id, values in found.items()}

    def tracked_keys(self, run_id: str, kind: str, keys: Iterable[str]) -> tuple[int, int]:
        """(how many keys of `kind` the run holds, how many of `keys` it does not hold yet), so a batch that
        would take a run past its limits is refused before any of it is stored. `kind`: params, tags,
        metrics, environment, artifact or model."""
        table, column, extra, args = _KEYED[kind]
        wanted = list(dict.fromkeys(keys))
        held = self._pairs(f"SELECT count(*) FROM {table} WHERE run_id = ?{extra}", [run_id, *args])[0][0]
        known = 0
        for i in range(0, len(wanted), 500):
            batch = wanted[i : i + 500]
            known += self._pairs(
                f"SELECT count(*) FROM {table} WHERE run_id = ?{extra} AND {column} IN ({','.join('?' * len(batch))})",
                [run_id, *args, *batch],
            )[0][0]
        return int(held), len(wanted) - int(known)

    # -- search -----------------------------------------------------------------------------------------

    def search_runs(
        self, projects: list[str] | None, where: Expr | None, sort: list[SortKey], limit: int, offset: int = 0
    ) -> list[str]:
        """Ids of the runs matching `where`, ordered by `sort` (newest first by default), from place `offset`."""
        sql, params = _Compiler().select(projects, where, sort, limit)
        return [r[0] for r in self._pairs(sql + " OFFSET ?", [*params, offset])]

    def count_runs(self, projects: list[str] | None, where: Expr | None) -> int:
        """How many runs match `where`, in all."""
        sql, params = _Compiler().count(projects, where)
        return int(self._pairs(sql, params)[0][0])

    def run_keys(self, project: str, namespace: str, limit: int) -> list[str]:
        """The distinct keys of `namespace` (params, metrics, tags) the project's runs logged, by name:
        at most `limit` of them."""
        table = _Compiler.TABLES[namespace][0]
        rows = self._pairs(
            f"SELECT DISTINCT t.key FROM runs r JOIN {table} t ON t.run_id = r.id WHERE r.project = ? "
            "ORDER BY t.key LIMIT ?",
            [project, limit],
        )
        return [r[0] for r in rows]


class _Compiler:
    """Turns a query tree into SQL; values only ever travel as bound parameters. Each params/metrics/tags
    field becomes one join: an inner join when a top-level `and` condition needs the field (so the planner
    may start from that table's index), else a left join."""

    TABLES = {
        "metrics": ("metric_summary", "last_value", "last_value"),
        "params": ("run_params", "value_num", "value"),
        "tags": ("run_tags", "value", "value"),
    }

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.joins: dict[Field, str] = {}  # field -> its join clause
        self.aliases: dict[Field, str] = {}
        self.join_params: list[Any] = []
        self.required: set[Field] = set()

    def select(
        self, projects: list[str] | None, where: Expr | None, sort: list[SortKey], limit: int
    ) -> tuple[str, list[Any]]:
        clauses = self.where(projects, where)
        order = self.order(sort)
        joins = " ".join(self.joins.values())
        sql = f"SELECT r.id FROM runs r {joins} WHERE {' AND '.join(clauses) or '1'} ORDER BY {order} LIMIT ?"
        return sql, [*self.join_params, *self.params, limit]

    def order(self, sort: list[SortKey]) -> str:
        """The ORDER BY list of a search: its sort keys (empty values last), then newest first."""
        keys = [
            f"{self.column(k.field, k.field.namespace != 'tags')} {'DESC' if k.descending else 'ASC'} NULLS LAST"
            for k in sort
        ]
        return ", ".join([*keys, "r.created_at DESC, r.id DESC"])

    def count(self, projects: list[str] | None, where: Expr | None) -> tuple[str, list[Any]]:
        clauses = self.where(projects, where)
        joins = " ".join(self.joins.values())
        return f"SELECT count(*) FROM runs r {joins} WHERE {' AND '.join(clauses) or '1'}", [
            *self.join_params,
            *self.params,
        ]

    def where(self, projects: list[str] | None, where: Expr | None) -> list[str]:
        """The conditions of a search (its joins collected on the way)."""
        top = [where] if isinstance(where, Condition) else list(where.items) if where and where.op == "AND" else []
        self.required = {c.field for c in top if isinstance(c, Condition) and c.field.namespace}
        clauses = []
        if projects is not None:
            clauses.append(f"r.project IN ({','.join('?' * len(projects)) or 'NULL'})")
            self.params.extend(projects)
        if where is not None:
            clauses.append(self.expr(where))
        return clauses

    def expr(self, e: Expr) -> str:
        if isinstance(e, Condition):
            return self.condition(e)
        return "(" + f" {e.op} ".join(self.expr(x) for x in e.items) + ")"

    def column(self, f: Field, numeric: bool) -> str:
        if not f.namespace:
            return ATTRIBUTE_COLUMNS[f.name]
        table, num_col, text_col = self.TABLES[f.namespace]
        if f not in self.joins:
            if len(self.joins) >= MAX_FIELDS:  # query.check_search says so first; SQLite joins 64 tables at most
                raise InvalidArgument(f"a search may use at most {MAX_FIELDS} distinct params, metrics and tags fields")
            alias = self.aliases[f] = f"j{len(self.joins)}"
            kind = "JOIN" if f in self.required else "LEFT JOIN"
            self.joins[f] = f"{kind} {table} {alias} ON {alias}.run_id = r.id AND {alias}.key = ?"
            self.join_params.append(f.name)
        return f"{self.aliases[f]}.{num_col if numeric else text_col}"

    def condition(self, c: Condition) -> str:
        numeric = isinstance(c.value, float)
        if c.op == "LIKE" and numeric:
            raise InvalidArgument(f"'like' compares text: quote the value for {c.field}")
        expr = self.column(c.field, numeric)
        self.params.append(
            c.value
            if c.field.name not in ("created_at", "started_at", "finished_at") or numeric
            else _timestamp(str(c.value))
        )
        return f"{expr} {c.op} ?"


def _timestamp(text: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InvalidArgument(f"not a time: {text!r} (use ISO 8601, e.g. 2026-11-24T10:00:00Z)") from None


def _nan_none(v: float) -> float | None:
    return None if v is None or math.isnan(v) else v


def _none_nan(v: float | None) -> float:
    return math.nan if v is None else float(v)
