"""Monitors, their results per window, reference profiles frozen per model version, alerts, alert channels
and the notifications outbox."""

from __future__ import annotations

from typing import Any

from kiln.coordinator.store.base import Database

MONITOR_FIELDS = frozenset({"state", "next_at", "config_json"})
ALERT_FIELDS = frozenset(
    {"state", "last_at", "count", "acked_by", "acked_at", "resolved_at", "summary", "details_json"}
)
NOTIFICATION_FIELDS = frozenset({"state", "attempts", "next_at", "last_error", "sent_at"})


def _sets(fields: dict[str, Any], allowed: frozenset[str], what: str) -> str:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not a {what} field: {', '.join(sorted(unknown))}")
    return ", ".join(f"{key} = ?" for key in fields)


class MonitoringTables(Database):
    # -- monitors ----------------------------------------------------------------------------------------

    def add_monitor(self, row: dict[str, Any]) -> None:
        with self.transaction():
            self.db["monitors"].insert(row)  # type: ignore[union-attr]

    def monitor(self, project: str, name: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM monitors WHERE project = ? AND name = ?", [project, name])

    def monitor_by_id(self, monitor_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM monitors WHERE id = ?", [monitor_id])

    def monitors(self, project: str, after: str = "", limit: int = -1) -> list[dict[str, Any]]:
        sql = "SELECT * FROM monitors WHERE project = ? AND name > ? ORDER BY name LIMIT ?"
        return self._rows(sql, [project, after, limit])

    def due_monitors(self, now: float) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM monitors WHERE state = 'active' AND next_at <= ? ORDER BY next_at", [now])

    def update_monitor(self, monitor_id: str, **fields: Any) -> None:
        sets = _sets(fields, MONITOR_FIELDS, "monitor")
        self._exec(f"UPDATE monitors SET {sets} WHERE id = ?", [*fields.values(), monitor_id])

    def delete_monitor(self, monitor_id: str) -> None:
        with self.transaction():
            self._exec("DELETE FROM monitor_results WHERE monitor = ?", [monitor_id])
            self._exec("DELETE FROM monitors WHERE id = ?", [monitor_id])

    def add_monitor_result(self, row: dict[str, Any]) -> int:
        """Stores one window's result under the monitor's next sequence number; returns it."""
        with self.transaction():
            last = self._one("SELECT max(seq) AS n FROM monitor_results WHERE monitor = ?", [row["monitor"]])
            seq = int(last["n"] or 0) + 1 if last else 1
            self.db["monitor_results"].insert({**row, "seq": seq})  # type: ignore[union-attr]
        return seq

    def monitor_results(self, monitor_id: str, limit: int = -1) -> list[dict[str, Any]]:
        """Newest first."""
        return self._rows(
            "SELECT * FROM monitor_results WHERE monitor = ? ORDER BY seq DESC LIMIT ?", [monitor_id, limit]
        )

    def monitor_result(self, project: str, name: str, seq: int) -> dict[str, Any] | None:
        sql = "SELECT * FROM monitor_results WHERE project = ? AND name = ? AND seq = ?"
        return self._one(sql, [project, name, seq])

    def scorings_into(self, project: str, output: str) -> list[dict[str, Any]]:
        """The batch scorings into dataset `output`, oldest first."""
        sql = "SELECT * FROM scorings s JOIN runs r ON r.id = s.run_id WHERE s.project = ? AND s.output = ? "
        return self._rows(sql + "ORDER BY r.created_at", [project, output])

    def latest_scoring(self, project: str, output: str, after: float, until: float) -> dict[str, Any] | None:
        """The latest settled, successful batch scoring into dataset `output` that ended in (after, until]."""
        return self._one(
            "SELECT s.*, r.finished_at FROM scorings s JOIN runs r ON r.id = s.run_id WHERE s.project = ? "
            "AND s.output = ? AND s.settled = 1 AND r.state = 'succeeded' AND r.finished_at > ? "
            "AND r.finished_at <= ? ORDER BY r.finished_at DESC LIMIT 1",
            [project, output, after, until],
        )

    # -- reference profiles ------------------------------------------------------------------------------

    def reference_profile(self, project: str, model: str, version: int) -> dict[str, Any] | None:
        sql = "SELECT * FROM reference_profiles WHERE project = ? AND model = ? AND version = ?"
        return self._one(sql, [project, model, version])

    def add_reference_profile(self, row: dict[str, Any]) -> None:
        """Frozen: the first profile of a model version stays (a second one is ignored)."""
        self._exec(
            "INSERT OR IGNORE INTO reference_profiles (project, model, version, source, profile_json, created_at) "
            "VALUES (:project, :model, :version, :source, :profile_json, :created_at)",
            row,
        )

    # -- alerts ------------------------------------------------------------------------------------------

    def add_alert(self, row: dict[str, Any]) -> None:
        self.db["alerts"].insert(row)  # type: ignore[union-attr]

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM alerts WHERE id = ?", [alert_id])

    def open_alert(self, monitor_id: str, rule: str) -> dict[str, Any] | None:
        """The alert of this monitor and rule that has not resolved (firing or acknowledged)."""
        sql = "SELECT * FROM alerts WHERE monitor = ? AND rule = ? AND state != 'resolved' ORDER BY first_at DESC"
        return self._one(sql, [monitor_id, rule])

    def open_alerts_of(self, monitor_id: str) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM alerts WHERE monitor = ? AND state != 'resolved'", [monitor_id])

    def alerts(self, projects: list[str] | None, state: str = "", limit: int = -1) -> list[dict[str, Any]]:
        """Newest first."""
        sql, params = "SELECT * FROM alerts WHERE 1", []
        if projects is not None:
            sql += f" AND project IN ({','.join('?' * len(projects))})"
            params += projects
        if state:
            sql += " AND state = ?"
            params.append(state)
        return self._rows(sql + " ORDER BY first_at DESC, id LIMIT ?", [*params, limit])

    def update_alert(self, alert_id: str, **fields: Any) -> None:
        sets = _sets(fields, ALERT_FIELDS, "alert")
        self._exec(f"UPDATE alerts SET {sets} WHERE id = ?", [*fields.values(), alert_id])

    # -- channels ----------------------------------------------------------------------------------------

    def add_channel(self, row: dict[str, Any]) -> None:
        self.db["alert_channels"].insert(row)  # type: ignore[union-attr]

    def channel(self, project: str, name: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM alert_channels WHERE project = ? AND name = ?", [project, name])

    def channels(self, project: str) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM alert_channels WHERE project = ? ORDER BY name", [project])

    def delete_channel(self, project: str, name: str) -> None:
        self._exec("DELETE FROM alert_channels WHERE project = ? AND name = ?", [project, name])

    # -- notifications ----------------------------------------------------------------------------------

    def add_notification(self, row: dict[str, Any]) -> None:
        self.db["notifications"].insert(row)  # type: ignore[union-attr]

    def due_notifications(self, now: float, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT * FROM notifications WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?"
        return self._rows(sql, [now, limit])

    def notifications(self, project: str, state: str = "", alert: str = "", limit: int = -1) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM notifications WHERE project = ?", [project]
        if state:
            sql += " AND state = ?"
            params.append(state)
        if alert:
            sql += " AND alert = ?"
            params.append(alert)
        return self._rows(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])

    def claim_notification(self, notification_id: int, now: float, until: float) -> bool:
        """Takes a due notification for one sender until `until` (another pass, or a coordinator restarted
        meanwhile, sends it then if this one never recorded how it went); False when it was not due."""
        n = self._exec(
            "UPDATE notifications SET next_at = ? WHERE id = ? AND state = 'pending' AND next_at <= ?",
            [until, notification_id, now],
        )
        return n == 1

    def next_notification_at(self) -> float | None:
        row = self._one("SELECT min(next_at) AS t FROM notifications WHERE state = 'pending'")
        return float(row["t"]) if row and row["t"] is not None else None

    def update_notification(self, notification_id: int, **fields: Any) -> None:
        sets = _sets(fields, NOTIFICATION_FIELDS, "notification")
        self._exec(f"UPDATE notifications SET {sets} WHERE id = ?", [*fields.values(), notification_id])
