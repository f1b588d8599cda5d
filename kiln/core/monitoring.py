"""Monitors, their results, alerts, channels and notifications as the client sees them.

What a monitor measured in a window travels as JSON (`result`): per-column drift, quality per version,
latency, errors, KPIs and the reasons behind the health score; the coordinator's
kiln.coordinator.monitoring documents each figure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MonitorResult:
    seq: int
    window_start: float
    window_end: float
    health: float | None
    drift_share: float | None
    drifted: bool
    requests: int
    result_json: str
    created_at: float
    lineage_id: str

    @property
    def result(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.result_json or "{}")
        return data


@dataclass(frozen=True)
class Monitor:
    id: str
    project: str
    name: str
    deployment: str
    every_s: int
    window_s: int
    state: str
    created_by: str
    created_at: float
    next_at: float
    config_json: str
    results: tuple[MonitorResult, ...] = ()

    @property
    def config(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.config_json or "{}")
        return data


@dataclass(frozen=True)
class Alert:
    id: str
    project: str
    monitor: str
    rule: str
    severity: str
    state: str  # firing, acknowledged or resolved
    title: str
    summary: str
    details_json: str
    first_at: float
    last_at: float
    count: int
    acked_by: str = ""
    acked_at: float = 0.0
    resolved_at: float = 0.0


@dataclass(frozen=True)
class Channel:
    project: str
    name: str
    kind: str
    channel_json: str  # its settings, secrets hidden
    created_by: str
    created_at: float


@dataclass(frozen=True)
class NotificationRecord:
    id: int
    alert: str
    channel: str
    state: str  # pending, sent or dead
    attempts: int
    next_at: float
    last_error: str
    created_at: float
    sent_at: float
