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
