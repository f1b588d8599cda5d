"""Deployments as the rows and lines the Deployments page shows: plain data, decided (and tested) without a
widget. The words follow `kiln deploy list` / `kiln deploy show` (kiln.cli.deploy), so the CLI and the
desktop say the same thing the same way ("v3 90%, v4 10%", "1/2" replicas ready)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kiln.core.deployments import ACTIVE, STOPPED, Deployment, Prediction, Split, VersionCard, splits_text
from kiln.desktop import times
from kiln.desktop.rows import Row, ago, when_s, with_zone

ENDPOINT_HEADERS = ("Name", "Model", "State", "Serving", "Ready", "URL")
ENDPOINT_STATE_COLUMN = 2
VERSION_HEADERS = ("Version", "Serving", "Asked", "Replicas ready")
REPLICA_HEADERS = ("Replica run", "Version", "State", "Ready", "Node", "Address", "Started")
REPLICA_STATE_COLUMN = 2
CARD_HEADERS = ("Version", "Requests", "Errors", "p50 ms", "p99 ms", "Req/s", "Labelled", "Accuracy", "MAE")
EVENT_HEADERS = with_zone(("Time", "State", "Cause", "By"))
PREDICTION_HEADERS = ("ID", "Time", "Version", "Status", "ms", "Caller", "Label")
PREDICTIONS_SHOWN = 50  # the newest this many: the ledger itself is for `kiln predictions`

# The card's and the predictions' window: (label, seconds back; 0 for everything).
WINDOWS = (("last 15 min", 900.0), ("last hour", 3600.0), ("last day", 86400.0), ("last 7 days", 7 * 86400.0),
           ("everything", 0.0))  # fmt: skip
DEFAULT_WINDOW = 1

GREEN = ("#d5f0db", "#17602c")
GREY = ("#e4e4e4", "#4a4a4a")
BLUE = ("#dbe8fb", "#0b4a9e")


@dataclass(frozen=True)
class EndpointView:
    """One endpoint as the page shows it: the endpoint read with its replicas and history, the per-version
    card over the window, and its newest predictions."""

    deployment: Deployment
    cards: tuple[VersionCard, ...] = ()
    predictions: tuple[Prediction, ...] = ()
    since: float = 0.0


def since_of(window_s: float, now: float | None = None) -> float:
    """The first moment a window of `window_s` seconds covers (0.0: everything)."""
    if not window_s:
        return 0.0
    return (time.time() if now is None else now) - window_s


def endpoint_colours(text: str) -> tuple[str, str]:
    """(fill, text) of an endpoint's state pill: green while active, grey once stopped."""
    return {ACTIVE: GREEN, STOPPED: GREY}.get(text, BLUE)


def ready_text(d: Deployment) -> str:
    return f"{sum(r.ready for r in d.replica_list)}/{len(d.replica_list)}"


def model_text(d: Deployment) -> str:
    return d.model + (f" @{d.alias}" if d.alias else "")


def endpoint_rows(found: Iterable[Deployment]) -> list[Row]:
    rows = []
    for d in sorted(found, key=lambda d: d.name):
        cells = (d.name, model_text(d), d.state, splits_text(d.serving), ready_text(d), d.url or "-")
        tips = ("", f"{d.model}, following {d.alias}" if d.alias else "", "", f"asked: {splits_text(d.traffic)}")
        rows.append(Row(cells, d.name, tips=tips))
    return rows


def details_text(d: Deployment) -> str:
    """What the endpoint is, in two lines: model and what it follows, state, URL; replicas and resources."""
    follows = f"following {d.alias}" if d.alias else "pinned to its versions"
    rolling = " (switching once its replicas are ready)" if d.state == ACTIVE and d.traffic != d.serving else ""
    resources = f"{d.cpus:g} cpus" + (f", {d.gpus} gpus" if d.gpus else "")
    extra = "".join(
        (
            f"; sticky header {d.sticky_header}" if d.sticky_header else "",
            f"; ledger keeps {d.sample_rate:.0%} of requests" if d.sample_rate < 1 else "",
            f"; environment {d.environment}" if d.environment else "",
        )
    )
    return (
        f"<b>{d.name}</b> ({d.project}): {d.model}, {follows}, {d.state}{rolling}<br>"
        f"URL: {d.url or '(no gateway on this coordinator)'}<br>"
        f"{d.replicas} replica{'s' if d.replicas != 1 else ''} per version, {resources} each{extra}; "
        f"created by {d.created_by or '-'} {times.local_zoned(d.created_at)}"
    )


def _share(splits: Sequence[Split], version: int) -> str:
    for s in splits:
        if s.version == version:
            return "shadow" if s.shadow else f"{s.weight}%"
    return "-"


def version_rows(d: Deployment) -> list[Row]:
    """Every version the endpoint serves or is asked to: its share now and asked, and its ready replicas."""
    versions = sorted({s.version for s in (*d.serving, *d.traffic)} | {r.version for r in d.replica_list})
    rows = []
    for v in versions:
        mine = [r for r in d.replica_list if r.version == v]
        serving, asked = _share(d.serving, v), _share(d.traffic, v)
        cells = (f"v{v}", serving, asked, f"{sum(r.ready for r in mine)}/{len(mine)}")
        rows.append(Row(cells, v, marked=serving != asked))
    return rows


def replica_rows(d: Deployment, now: float) -> list[Row]:
    rows = []
    for r in sorted(d.replica_list, key=lambda r: (r.version, r.started_at, r.run_id)):
        started, exact = ago(r.started_at, now)
        cells = (r.run_id, f"v{r.version}", r.state, "yes" if r.ready else "no", r.node or "-", r.address or "-",
                 started)  # fmt: skip
        rows.append(Row(cells, r.run_id, tips=("", "", "", "", "", "", exact)))
    return rows


def _ratio(value: float | None, digits: str = ".3f") -> str:
    return "-" if value is None else format(value, digits)


def card_rows(cards: Iterable[VersionCard]) -> list[Row]:
    return [
        Row(
            (
                f"v{c.version}",
                str(c.requests),
                str(c.errors),
                f"{c.p50_ms:.2f}",
                f"{c.p99_ms:.2f}",
                f"{c.rate_per_s:.1f}",
                str(c.labelled),
                _ratio(c.accuracy),
                _ratio(c.mae, ".4g"),
            ),
            c.version,
        )
        for c in sorted(cards, key=lambda c: c.version)
    ]


def event_rows(d: Deployment) -> list[Row]:
    """The state history, newest first."""
    ordered = sorted(enumerate(d.events), key=lambda ie: (ie[1].time, ie[0]), reverse=True)
    return [Row((when_s(e.time), e.state, e.cause, e.actor), i, tips=(times.exact(e.time),)) for i, e in ordered]


def prediction_rows(found: Iterable[Prediction], now: float) -> list[Row]:
    rows = []
    for p in found:
        r = p.record
        at, exact = ago(r.time, now)
        version = f"v{r.version}" + (" shadow" if r.shadow else "")
        cells = (r.id, at, version, str(r.status), f"{r.latency_ms:.2f}", r.caller or "-", p.label or "-")
        rows.append(Row(cells, r.id, marked=r.status >= 400, tips=("", exact, "", r.error)))
    return rows


def summary_text(project: str, found: Sequence[Deployment]) -> str:
    if not found:
        return f"no endpoints in {project} yet: Deploy… a model version"
    active = sum(1 for d in found if d.state == ACTIVE)
    n = len(found)
    return f"{n} endpoint{'s' if n != 1 else ''} in {project}, {active} active"


def cards_title(view: EndpointView | None) -> str:
    if view is None:
        return ""
    if not view.cards:
        return "no requests in this window"
    return f"{sum(c.requests for c in view.cards)} requests in this window"
