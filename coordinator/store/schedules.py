"""Schedules and their fires (one row per nominal fire time, keyed by it)."""

from __future__ import annotations

from typing import Any

from kiln.coordinator.store.base import Database
from kiln.core.runs import TERMINAL, RunState

SCHEDULE_FIELDS = frozenset({"state", "last_nominal", "next_fire"})
_OPEN = tuple(sorted(str(s) for s in RunState if s not in TERMINAL))  # runs that have not ended


class ScheduleTables(Database):
    def add_schedule(self, row: dict[str, Any]) -> None:
        with self.transaction():
            self.db["schedules"].insert(row)  # type: ignore[union-attr]

    def schedule(self, project: str, name: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM schedules WHERE project = ? AND name = ?", [project, name])

    def schedule_by_id(self, schedule_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM schedules WHERE id = ?", [schedule_id])

    def schedules(self, project: str, after: str = "", limit: int = -1) -> list[dict[str, Any]]:
        """The project's schedules by name, after `after`, at most `limit`."""
        return self._rows(
            "SELECT * FROM schedules WHERE project = ? AND name > ? ORDER BY name LIMIT ?", [project, after, limit]
        )

    def waiting_schedules(self) -> list[str]:
        """Ids of schedules with a fire waiting for earlier runs to end (overlap queue)."""
        return [
            r["schedule"] for r in self._rows("SELECT DISTINCT schedule FROM schedule_fires WHERE outcome = 'waiting'")
        ]

    def due_schedules(self, now: float) -> list[dict[str, Any]]:
        """Active schedules whose next fire time has come."""
        return self._rows("SELECT * FROM schedules WHERE state = 'active' AND next_fire <= ? ORDER BY next_fire", [now])

    def next_schedule_fire(self) -> float | None:
        row = self._one("SELECT min(next_fire) AS t FROM schedules WHERE state = 'active'")
        return float(row["t"]) if row and row["t"] is not None else None

    def update_schedule(self, schedule_id: str, **fields: Any) -> None:
        unknown = set(fields) - SCHEDULE_FIELDS
        if unknown:
            raise ValueError(f"not a schedule field: {', '.join(sorted(unknown))}")
        sets = ", ".join(f"{key} = ?" for key in fields)
        self._exec(f"UPDATE schedules SET {sets} WHERE id = ?", [*fields.values(), schedule_id])

    def delete_schedule(self, schedule_id: str) -> None:
        with self.transaction():
            self._exec("DELETE FROM schedule_fires WHERE schedule = ?", [schedule_id])
            self._exec("DELETE FROM schedules WHERE id = ?", [schedule_id])

    # -- fires -------------------------------------------------------------------------------------------

    def add_fire(
        self, schedule_id: str, nominal: float, fired_at: float, outcome: str, run_id: str, reason: str
    ) -> None:
        """One nominal time claimed; a second claim of the same time fails (the primary key)."""
        self._exec(
            "INSERT INTO schedule_fires (schedule, nominal, fired_at, outcome, run_id, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [schedule_id, nominal, fired_at, outcome, run_id, reason],
        )

    def update_fire(
        self, schedule_id: str, nominal: float, fired_at: float, outcome: str, run_id: str, reason: str
    ) -> None:
        self._exec(
            "UPDATE schedule_fires SET fired_at = ?, outcome = ?, run_id = ?, reason = ? "
            "WHERE schedule = ? AND nominal = ?",
            [fired_at, outcome, run_id, reason, schedule_id, nominal],
        )

    def fires(self, schedule_id: str, limit: int = -1, outcome: str = "") -> list[dict[str, Any]]:
        """The schedule's fires, newest nominal time first (with the fired run's state, "" for none)."""
        sql = (
            "SELECT f.*, coalesce(r.state, '') AS run_state FROM schedule_fires f "
            "LEFT JOIN runs r ON r.id = f.run_id WHERE f.schedule = ?"
        )
        params: list[Any] = [schedule_id]
        if outcome:
            sql += " AND f.outcome = ?"
            params.append(outcome)
        return self._rows(sql + " ORDER BY f.nominal DESC LIMIT ?", [*params, limit])

    def has_fire(self, schedule_id: str, nominal: float) -> bool:
        return (
            self._one("SELECT 1 FROM schedule_fires WHERE schedule = ? AND nominal = ?", [schedule_id, nominal])
            is not None
        )

    def fire_count(self, schedule_id: str) -> int:
        row = self._one("SELECT count(*) AS n FROM schedule_fires WHERE schedule = ?", [schedule_id])
        return int(row["n"]) if row else 0

    def active_fired_runs(self, schedule_id: str) -> int:
        """How many runs this schedule fired have not ended. The runs that have not ended (few, by their
        state's index) are the outer loop: a schedule's fires grow for ever, its active runs do not."""
        marks = ",".join("?" * len(_OPEN))
        row = self._one(
            "SELECT count(*) AS n FROM runs r CROSS JOIN schedule_fires f ON f.run_id = r.id "
            f"WHERE r.state IN ({marks}) AND f.schedule = ?",
            [*_OPEN, schedule_id],
        )
        return int(row["n"]) if row else 0

    # -- what triggers wait for -------------------------------------------------------------------------

    def dataset_versions_after(
        self, project: str, name: str, after: float, until: float, limit: int
    ) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT version, snapshot, created_at FROM datasets WHERE project = ? AND name = ? AND created_at > ? "
            "AND created_at <= ? ORDER BY created_at LIMIT ?",
            [project, name, after, until, limit],
        )

    def approved_moves_after(
        self, project: str, model: str, after: float, until: float, limit: int
    ) -> list[dict[str, Any]]:
        """Alias moves of `model` made through an approval request."""
        return self._rows(
            "SELECT alias, version, time, request_id FROM alias_moves WHERE project = ? AND name = ? AND time > ? "
            "AND time <= ? AND request_id != '' ORDER BY time LIMIT ?",
            [project, model, after, until, limit],
        )

    def alerts_after(self, monitor_id: str, after: float, until: float, limit: int) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT id, rule, first_at FROM alerts WHERE monitor = ? AND first_at > ? AND first_at <= ? "
            "ORDER BY first_at LIMIT ?",
            [monitor_id, after, until, limit],
        )

    def ended_runs_with_metric(
        self, project: str, key: str, after: float, until: float, not_of_schedule: str, limit: int
    ) -> list[dict[str, Any]]:
        """Runs of the project that ended in (after, until] with a last value of metric `key`, less those
        schedule `not_of_schedule` fired."""
        return self._rows(
            "SELECT r.id, r.finished_at, m.last_value FROM runs r JOIN metric_summary m ON m.run_id = r.id "
            "WHERE r.project = ? AND m.key = ? AND r.finished_at > ? AND r.finished_at <= ? "
            "AND r.id NOT IN (SELECT run_id FROM schedule_fires WHERE schedule = ?) ORDER BY r.finished_at LIMIT ?",
            [project, key, after, until, not_of_schedule, limit],
        )
