"""Monitors as records: create, read, list, delete and run now, each checked and audited.

A monitor watches one endpoint's prediction ledger: every `every` it judges the last `window` (drift of
each feature and of the prediction against the model version's frozen reference, quality where labels
joined, errors, latency, KPIs, one health score), records the result as a lineage entity
(monitor:PROJECT/NAME@N, fed by the model versions it judged and the reference's dataset), and fires or
resolves alerts (coordinator/alerts/manage.py).
"""

from __future__ import annotations

import json
import math
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.deployments.manage import deployment_row
from kiln.coordinator.monitoring import drift, reference
from kiln.coordinator.schedules.timing import parse_every
from kiln.coordinator.store.deployments import splits_from
from kiln.core import clock, limits
from kiln.core.errors import AlreadyExists, InvalidArgument, NotFound
from kiln.core.names import check_name
from kiln.core.paging import Page, PageRequest, page_of
from kiln.core.permissions import Need, Principal

KPI_METRICS = (
    "requests", "error_rate", "p50_latency_ms", "p99_latency_ms", "drift_share", "health", "accuracy", "precision",
    "recall", "f1", "auc", "mae", "rmse",
)  # fmt: skip
KPI_OPS = ("<", "<=", ">", ">=")
_TRACKED_KEY = re.compile(r"[A-Za-z0-9_./-]{1,250}")
MAX_KPIS = 20
MAX_FEATURES = 1000  # as many columns as a reference profile may hold
SEVERITIES = ("info", "warning", "critical")
DEFAULT_EVERY, DEFAULT_WINDOW = "5m", "1h"
MIN_WINDOW_S, MAX_WINDOW_S = 60, 30 * 86400
RECENT_RESULTS = 12


@dataclass(frozen=True)
class Kpi:
    metric: str
    op: str
    value: float

    def breached(self, measured: float | None) -> bool:
        if measured is None or math.isnan(measured):
            return False
        return {"<": measured < self.value, "<=": measured <= self.value, ">": measured > self.value,
                ">=": measured >= self.value}[self.op]  # fmt: skip

    def text(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclass(frozen=True)
class NewMonitor:
    project: str
    name: str
    deployment: str
    every: str = DEFAULT_EVERY
    window: str = DEFAULT_WINDOW
    statistic: str = ""  # "" each column's size-aware default
    reference: str = ""  # DATASET[:V]; "" the training run's dataset
    features: tuple[str, ...] = ()  # the model's input columns in order (requests that name none: by position)
    target: str = ""  # the reference dataset's label column, left out of the features
    latency_slo_ms: float = 250.0
    health_below: float = 70.0  # an alert fires when the health score is under this
    kpis: tuple[str, ...] = ()  # "METRIC OP VALUE", e.g. "error_rate > 0.05"
    severity: str = "warning"
    min_rows: int = 30  # fewer rows in a window: no drift verdict (too few to tell)
    scoring: str = ""  # instead of an endpoint: the output dataset of batch scorings (kiln score --output)


@dataclass(frozen=True)
class Config:
    statistic: str
    reference: str
    features: tuple[str, ...]
    target: str
    latency_slo_ms: float
    health_below: float
    kpis: tuple[Kpi, ...]
    severity: str
    min_rows: int
    prediction_profile: str = ""  # frozen from the first window with enough rows (the prediction's reference)
    reference_sources: dict[str, str] = field(default_factory=dict)  # model version -> dataset lineage id
    scoring: str = ""  # the batch scorings' output dataset it watches ("" an endpoint)

    def to_json(self) -> str:
        data = {**self.__dict__, "kpis": [k.__dict__ for k in self.kpis], "features": list(self.features)}
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Config:
        data = json.loads(text)
        data["kpis"] = tuple(Kpi(**k) for k in data["kpis"])
        data["features"] = tuple(data["features"])
        return cls(**data)


def parse_kpi(text: str) -> Kpi:
    """METRIC OP VALUE: a window's figure (KPI_METRICS), or metric:KEY, the last value of tracked metric KEY
    of the project's latest run that ended in the window (a nightly evaluation run's, say)."""
    words = text.split()
    tracked = len(words) == 3 and words[0].startswith("metric:") and bool(_TRACKED_KEY.fullmatch(words[0][7:]))
    if len(words) != 3 or not (words[0] in KPI_METRICS or tracked) or words[1] not in KPI_OPS:
        raise InvalidArgument(
            f"KPI {limits.preview(text)}: write METRIC OP VALUE, e.g. 'error_rate > 0.05'; metrics: "
            f"{', '.join(KPI_METRICS)}, or metric:KEY for a tracked metric; operators: {' '.join(KPI_OPS)}"
        )
    try:
        value = float(words[2])
    except ValueError:
        raise InvalidArgument(f"KPI {limits.preview(text)}: {words[2]!r} is not a number") from None
    if not math.isfinite(value):
        raise InvalidArgument(f"KPI {limits.preview(text)}: the threshold must be a finite number")
    return Kpi(words[0], words[1], value)


def create(ctx: Coordinator, who: Principal, new: NewMonitor) -> dict[str, Any]:
    check_name("monitor", new.name)
    require_project(ctx.store, who, Need.WRITE, new.project)
    if bool(new.deployment) == bool(new.scoring):
        raise InvalidArgument("a monitor watches one thing: --deployment ENDPOINT or --scoring OUTPUT_DATASET")
    if new.scoring:
        check_name("dataset", new.scoring)
        versions: list[tuple[str, int]] = [(j["model"], j["version"]) for j in ctx.store.scorings_into(
            new.project, new.scoring)][-1:]  # fmt: skip
    else:
        endpoint = deployment_row(ctx, who, new.deployment)
        if endpoint["project"] != new.project:
            raise InvalidArgument(f"endpoint {new.deployment} is in project {endpoint['project']}, not {new.project}")
        versions = [(endpoint["model"], split.version) for split in splits_from(endpoint["traffic_json"])]
    try:
        every_s, window_s = parse_every(new.every), parse_every(new.window)
    except ValueError as e:
        raise InvalidArgument(str(e)) from None
    if not MIN_WINDOW_S <= window_s <= MAX_WINDOW_S:
        raise InvalidArgument(f"--window must be from {MIN_WINDOW_S}s to {MAX_WINDOW_S // 86400}d")
    if new.statistic and new.statistic not in drift.STATISTICS:
        raise InvalidArgument(f"--statistic must be one of {', '.join(drift.STATISTICS)} (default: by size)")
    if new.severity not in SEVERITIES:
        raise InvalidArgument(f"--severity must be one of {', '.join(SEVERITIES)}")
    if not (0 < new.latency_slo_ms < math.inf and 0 <= new.health_below <= 100 and 1 <= new.min_rows <= 1_000_000):
        raise InvalidArgument("the latency SLO is a positive number of ms, --health-below 0..100, --min-rows ≥ 1")
    kpis = tuple(parse_kpi(k) for k in limits.Limit("KPIs", MAX_KPIS, "items").check(new.kpis))
    limits.Limit("features", MAX_FEATURES, "items").check(new.features)
    for f in (*new.features, new.target):
        limits.REFERENCE.check(f, field="column name")
    if ctx.store.monitor(new.project, new.name) is not None:
        raise AlreadyExists(f"project {new.project} already has a monitor named {new.name!r}")
    sources = {}
    for model, version in versions:  # frozen now, so a bad --reference is said at once
        found = reference.for_version(ctx, new.project, model, version, new.reference)
        if found is not None:
            sources[str(version)] = found.source
    config = Config(new.statistic, new.reference, new.features, new.target, new.latency_slo_ms, new.health_below,
                    kpis, new.severity, new.min_rows, reference_sources=sources, scoring=new.scoring)  # fmt: skip
    now = clock.now()
    monitor_id = f"m-{secrets.token_hex(6)}"
    row: dict[str, Any] = {
        "id": monitor_id, "project": new.project, "name": new.name, "deployment": new.deployment,
        "every_s": every_s, "window_s": window_s, "config_json": config.to_json(), "state": "active",
        "next_at": now, "created_by": who.user, "created_at": now,
    }  # fmt: skip
    with ctx.store.transaction():
        ctx.store.add_monitor(row)
        details = {"project": new.project, "name": new.name, "deployment": new.deployment, "every_s": every_s,
                   "window_s": window_s, "kpis": [k.text() for k in kpis]}  # fmt: skip
        ctx.store.append_audit(who.user, "monitor.create", monitor_id, details)
    return row


def monitor_row(ctx: Coordinator, who: Principal, project: str, name: str, need: Need = Need.READ) -> dict[str, Any]:
    limits.REFERENCE.check(name, field="monitor name")
    require_project(ctx.store, who, need, project)
    row = ctx.store.monitor(project, name)
    if row is None:
        raise NotFound(f"project {project} has no monitor named {name!r} (kiln monitor list shows them)")
    return row


def list_page(ctx: Coordinator, who: Principal, project: str, page: PageRequest) -> Page[dict[str, Any]]:
    require_project(ctx.store, who, Need.READ, project)
    after = str(page.after[0]) if page.after else ""
    rows = ctx.store.monitors(project, after=after, limit=page.size + 1)
    return page_of(rows, page.size, lambda r: (r["name"],))


def delete(ctx: Coordinator, who: Principal, project: str, name: str) -> None:
    row = monitor_row(ctx, who, project, name, Need.WRITE)
    with ctx.store.transaction():
        ctx.store.delete_monitor(row["id"])
        ctx.store.append_audit(who.user, "monitor.delete", row["id"], {"project": project, "name": name})
