"""Monitors, alerts and schedules as the rows and lines the Monitoring page shows: plain data, decided (and
tested) without a widget. The words follow `kiln monitor show`, `kiln alerts` and `kiln schedule show`
(kiln.cli.monitoring, kiln.cli.schedules), so the CLI and the desktop say the same thing the same way."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiln.core.monitoring import Alert, Monitor, MonitorResult
from kiln.core.schedules import FAILED, SKIPPED, Schedule, ScheduleFire, overlap_text
from kiln.desktop import times
from kiln.desktop.pages.runs.chips import AMBER, GREEN, GREY, RED
from kiln.desktop.rows import Row, ago, when, when_s, with_zone

MONITOR_HEADERS = ("Name", "Endpoint", "Health", "Drifted", "Last window")
WINDOW_HEADERS = ("#", "Window end", "Requests", "Health", "Drift share", "Version", "Quality")
ALERT_HEADERS = ("State", "Severity", "Title", "Monitor", "Since", "Last", "Windows", "Acknowledged by")
ALERT_STATE_COLUMN = 0
SCHEDULE_HEADERS = ("Name", "State", "Timing", "Next fire", "Last fire", "Fires")
FIRE_HEADERS = ("Nominal", "Fired at", "Outcome", "Run", "Run state", "Reason")
FIRING, ACKNOWLEDGED, RESOLVED = "firing", "acknowledged", "resolved"
ALERT_ORDER = {FIRING: 0, ACKNOWLEDGED: 1, RESOLVED: 2}  # what needs someone first
DEFAULT_HEALTH_BELOW = 70.0  # the coordinator's default for --health-below
WATCH_BAND = 15.0  # points above the alert line still shown amber: close to alerting

# (background, text) of the health headline: none yet, under the alert line, close to it, fine
HEALTH_NONE, HEALTH_LOW, HEALTH_CLOSE, HEALTH_GOOD = GREY, RED, AMBER, GREEN


def window_headers() -> tuple[str, ...]:
    """The zone named where the local times are (read when a table is made: tests set their own zone)."""
    return with_zone(WINDOW_HEADERS, "Window end")


def schedule_headers() -> tuple[str, ...]:
    return with_zone(SCHEDULE_HEADERS, "Next fire")


def fire_headers() -> tuple[str, ...]:
    return with_zone(FIRE_HEADERS, "Nominal")


@dataclass(frozen=True)
class Overview:
    """What the page shows of one project, read in one go: its monitors with their recent windows, its
    alerts, and its schedules (a schedule's fires are read when it is picked)."""

    project: str
    monitors: tuple[Monitor, ...] = ()
    alerts: tuple[Alert, ...] = ()
    schedules: tuple[Schedule, ...] = ()


@dataclass(frozen=True)
class Quality:
    """The main version's quality in one window: accuracy (classification) or rmse (regression), on n labels."""

    version: int
    kind: str
    n: int
    metric: str
    value: float | None


# -- monitors -------------------------------------------------------------------------------------------------


def oldest_first(results: Iterable[MonitorResult]) -> list[MonitorResult]:
    return sorted(results, key=lambda r: r.seq)


def latest(m: Monitor) -> MonitorResult | None:
    return max(m.results, key=lambda r: r.seq, default=None)


def health_text(score: float | None) -> str:
    return "-" if score is None else f"{score:.0f}"


def share_text(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def health_below(m: Monitor) -> float:
    value = m.config.get("health_below")
    return float(value) if isinstance(value, int | float) else DEFAULT_HEALTH_BELOW


def health_colours(score: float | None, below: float = DEFAULT_HEALTH_BELOW) -> tuple[str, str]:
    """(background, text) of a health score: red under the monitor's alert line, amber within WATCH_BAND
    above it, green above that, grey before any window had requests."""
    if score is None:
        return HEALTH_NONE
    if score < below:
        return HEALTH_LOW
    return HEALTH_CLOSE if score < below + WATCH_BAND else HEALTH_GOOD


def reasons(r: MonitorResult) -> list[str]:
    """Why the score is what it is, then what the monitor could not judge (its notes), as the CLI lists them."""
    result = r.result
    said = (result.get("health") or {}).get("reasons") or []
    return [str(s) for s in said] + [str(n) for n in result.get("notes") or []]


def drifted_text(r: MonitorResult | None) -> str:
    if r is None or r.drift_share is None:
        return "-"  # no verdict: too few rows, or no reference
    return "yes" if r.drifted else "no"


def monitor_rows(monitors: Iterable[Monitor], now: float) -> list[Row]:
    """One line a monitor, from its latest window; a drifted one is highlighted."""
    rows = []
    for m in sorted(monitors, key=lambda m: m.name):
        r = latest(m)
        last, exact = ago(r.window_end, now) if r else ("no window yet", "")
        cells = (m.name, m.deployment, health_text(r.health if r else None), drifted_text(r), last)
        tips = (
            f"every {m.every_s}s over the last {m.window_s}s",
            "",
            "; ".join(reasons(r)) if r else "",
            f"{share_text(r.drift_share)} of the features drifted" if r and r.drift_share is not None else "",
            exact,
        )
        rows.append(Row(cells, m.name, marked=bool(r and r.drifted), tips=tips))
    return rows


def monitor_text(m: Monitor) -> str:
    """What the monitor watches, in one line (rich text)."""
    below = health_below(m)
    kpis = [f"{k.get('metric')} {k.get('op')} {k.get('value')}" for k in m.config.get("kpis") or []]
    extra = f"; KPIs: {', '.join(kpis)}" if kpis else ""
    return (
        f"<b>{m.name}</b> watches endpoint <b>{m.deployment}</b> every {m.every_s}s over the last {m.window_s}s "
        f"({m.state}); health alert under {below:g}{extra}"
    )


def headline_text(m: Monitor) -> tuple[str, str]:
    """(the health score, big; the line under it) of the monitor's latest window."""
    r = latest(m)
    if r is None:
        return "-", "no window judged yet: Run now judges one"
    if r.health is None:
        return "-", f"window #{r.seq}: no requests in it, so no health score"
    return health_text(r.health), f"health of window #{r.seq}, ending {times.local_zoned(r.window_end)}"


def quality_of(r: MonitorResult) -> Quality | None:
    """The quality of the version that answered most of the window (None when it has no quality entry)."""
    result: dict[str, Any] = r.result
    main = result.get("main_version")
    q = (result.get("quality") or {}).get(str(main))
    if not q or not isinstance(main, int):
        return None
    kind = str(q.get("kind", ""))
    metric = "accuracy" if kind == "classification" else "rmse"
    value = (q.get("metrics") or {}).get(metric)
    return Quality(main, kind, int(q.get("n") or 0), metric, float(value) if isinstance(value, int | float) else None)


def quality_text(q: Quality | None) -> str:
    if q is None:
        return "-"
    if not q.n or q.value is None:
        return "no labels yet"
    return f"{q.metric} {q.value:.3f} (n={q.n})"


def window_rows(m: Monitor) -> list[Row]:
    """The monitor's recent windows, newest first: health, drift share and quality over time."""
    rows = []
    for r in sorted(m.results, key=lambda r: r.seq, reverse=True):
        q = quality_of(r)
        main = r.result.get("main_version")
        version = f"v{main}" if isinstance(main, int) and main else "-"
        cells = (f"#{r.seq}", when(r.window_end), str(r.requests), health_text(r.health), share_text(r.drift_share),
                 version, quality_text(q))  # fmt: skip
        tips = ("", times.exact(r.window_end), "", "; ".join(reasons(r)), drifted_text(r), "", "")
        rows.append(Row(cells, r.seq, marked=r.drifted, tips=tips))
    return rows


# -- alerts ---------------------------------------------------------------------------------------------------


def alert_colours(state: str) -> tuple[str, str]:
    """(fill, text) of an alert's state pill: red while firing, amber once acknowledged, green resolved."""
    return {FIRING: RED, ACKNOWLEDGED: AMBER, RESOLVED: GREEN}.get(state, GREY)


def monitor_name(a: Alert, names: Mapping[str, str]) -> str:
    """The name of the alert's monitor (an alert holds the monitor's id): from `names` (id -> name) where the
    page has it, else from what the alert's details say."""
    if a.monitor in names:
        return names[a.monitor]
    try:
        details = json.loads(a.details_json or "{}")
    except ValueError:
        details = {}
    named = details.get("monitor") if isinstance(details, dict) else None
    return str(named) if named else a.monitor


def alert_rows(alerts: Iterable[Alert], now: float, names: Mapping[str, str] | None = None) -> list[Row]:
    """Firing first, then acknowledged, then resolved; newest first within each."""
    rows = []
    for a in sorted(alerts, key=lambda a: (ALERT_ORDER.get(a.state, 9), -a.first_at, a.id)):
        since, since_exact = ago(a.first_at, now)
        last, last_exact = ago(a.last_at, now)
        acked = f"{a.acked_by}, {times.exact(a.acked_at)}" if a.acked_by else ""
        monitor = monitor_name(a, names or {})
        cells = (a.state, a.severity, a.title, monitor, since, last, str(a.count), a.acked_by or "-")
        tips = ("", "", a.summary, "", since_exact, last_exact, "windows that breached", acked)
        rows.append(Row(cells, a.id, tips=tips))
    return rows


def firing_count(alerts: Iterable[Alert]) -> int:
    return sum(1 for a in alerts if a.state == FIRING)


def alerts_title(alerts: Sequence[Alert]) -> str:
    """The tab's title: how many need someone."""
    n = firing_count(alerts)
    return f"Alerts ({n} firing)" if n else "Alerts"


def alert_text(a: Alert | None) -> str:
    if a is None:
        return "Pick an alert to see what it says."
    text = f"<b>{a.title}</b> ({a.severity}, {a.state}): {a.summary}"
    if a.acked_by:
        text += f"<br>acknowledged by {a.acked_by} {times.local_zoned(a.acked_at)}"
    if a.resolved_at:
        text += f"<br>resolved {times.local_zoned(a.resolved_at)}"
    return text


# -- schedules ------------------------------------------------------------------------------------------------


def timing_text(s: Schedule) -> str:
    if s.trigger:
        return f"on {s.trigger}"
    return s.description or (f"cron {s.cron} {s.tz}" if s.cron else f"every {s.every_s}s")


def last_fire_text(s: Schedule, now: float) -> tuple[str, str]:
    """(cell, tip) of the newest fire: "fired 5 min ago", its run and the exact time on hover."""
    if not s.fires:
        return "-", ""
    f = s.fires[0]
    at, exact = ago(f.fired_at, now)
    run = f", run {f.run_id} {f.run_state}".rstrip() if f.run_id else ""
    return f"{f.outcome} {at}", f"{exact}{run}" + (f": {f.reason}" if f.reason else "")


def schedule_rows(schedules: Iterable[Schedule], now: float) -> list[Row]:
    """One line a schedule (read with its fires): next fire in local time, the newest fire's outcome."""
    rows = []
    for s in sorted(schedules, key=lambda s: s.name):
        following = ", ".join(when_s(t) for t in s.next_fires)
        upcoming = when_s(s.next_fires[0]) if s.next_fires else "-"
        last, last_tip = last_fire_text(s, now)
        cells = (s.name, s.state, timing_text(s), upcoming, last, str(s.fire_count))
        tips = ("", "", s.description, following and f"next: {following}", last_tip, "fires in all")
        rows.append(Row(cells, s.name, marked=bool(s.fires) and s.fires[0].outcome == FAILED, tips=tips))
    return rows


def next_fires_text(s: Schedule) -> str:
    """The next nominal fire times in local time, the zone named."""
    if not s.next_fires:
        if s.trigger:
            return f"fires on {s.trigger}, not on a clock"
        return "no later fire time" if s.state != "paused" else "paused: no fire until it is resumed"
    return f"next fires ({times.zone(s.next_fires[0])}): " + ", ".join(when_s(t) for t in s.next_fires)


def schedule_text(s: Schedule | None) -> str:
    """What the schedule runs and when (rich text)."""
    if s is None:
        return "Pick a schedule to see its next fire times and recent fires."
    runs = f"a rerun of {s.rerun_of}" if s.rerun_of else " ".join(s.spec.command) or "-"
    return (
        f"<b>{s.name}</b> ({s.state}): {timing_text(s)}; overlap {overlap_text(s.overlap, s.overlap_max)}, "
        f"catch-up {s.catch_up}<br>runs: {runs}<br>{next_fires_text(s)}"
    )


def fire_key(f: ScheduleFire) -> tuple[float, float]:
    """A fire's row key: its nominal time and when it was claimed (a refresh keeps the same fire picked)."""
    return (f.nominal, f.fired_at)


def fire_rows(s: Schedule, now: float) -> list[Row]:
    """The schedule's recent fires, newest first (as the coordinator gives them); skipped and failed ones
    highlighted, the reason on hover."""
    rows = []
    for f in s.fires:
        fired, exact = ago(f.fired_at, now)
        cells = (when_s(f.nominal), fired, f.outcome, f.run_id or "-", f.run_state or "-", f.reason or "-")
        tips = (times.exact(f.nominal), exact, "", "double-click to open the run" if f.run_id else "", "", f.reason)
        rows.append(Row(cells, fire_key(f), marked=f.outcome in (SKIPPED, FAILED), tips=tips))
    return rows


def fires_title(s: Schedule | None) -> str:
    if s is None:
        return ""
    if not s.fires:
        return "no fires yet"
    n = len(s.fires)
    if s.fire_count <= n:
        return f"{n} fire{'s' if n != 1 else ''}"
    return f"the most recent {n} fire{'s' if n != 1 else ''} (of {s.fire_count} in all)"


# -- the page -------------------------------------------------------------------------------------------------


def summary_text(view: Overview) -> str:
    n, found = len(view.monitors), view.monitors
    drifted = sum(1 for m in found if (r := latest(m)) is not None and r.drifted)
    firing = firing_count(view.alerts)
    s = len(view.schedules)
    monitors = (
        f"no monitors in {view.project} yet (kiln monitor create NAME --deployment ENDPOINT)"
        if not n
        else f"{n} monitor{'s' if n != 1 else ''} in {view.project}, {drifted} drifted in the latest window"
    )
    return f"{monitors}; {firing} alert{'s' if firing != 1 else ''} firing; {s} schedule{'s' if s != 1 else ''}"


def judged_text(name: str, r: MonitorResult) -> str:
    """What Run now says: as `kiln monitor run`."""
    health = "no requests" if r.health is None else f"health {r.health:.0f}"
    return f"monitor {name} judged window #{r.seq}: {r.requests} requests, {health}, drifted: {drifted_text(r)}"
