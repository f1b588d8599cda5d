"""What the compare view's tables show, as rows computed from the runs' records (kiln.core.compare decides
what is compared; here it becomes cells): the header (who, what state, when), the parameters with "only
differences", the metrics with each row's best run marked, and the execution details. Plain data, so what
the view displays is decided and tested without widgets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kiln.core.compare import (
    Field,
    MetricComparison,
    MetricSummary,
    best_runs,
    environment_fields,
    input_field,
    keyed_fields,
    metric_comparisons,
    param_fields,
    run_fields,
)
from kiln.core.environments import RECORD_PACKAGES, package_map
from kiln.core.metrics import Direction
from kiln.core.models import MetricSeries, RunRecord
from kiln.core.overview import NAME_TAG
from kiln.desktop import times
from kiln.desktop.pages.run.recordrows import number
from kiln.desktop.pages.runs.rows import duration_s, format_duration, state_text
from kiln.desktop.rows import Row

MISSING = "—"  # a run without that param or metric
BEST_MARK = "★"
DIRECTION_WORDS: dict[Direction | None, str] = {"max": "higher is better", "min": "lower is better", None: "no best"}


@dataclass(frozen=True)
class GridRow(Row):
    """A row whose cells at `best` are drawn as the best run of that row (bold, coloured, starred)."""

    best: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Compared:
    """Everything one compare view shows: the runs' records and metric histories, in the order asked."""

    records: tuple[RunRecord, ...]
    series: tuple[Mapping[str, MetricSeries], ...]  # per run: metric key -> its (downsampled) history

    @property
    def ids(self) -> list[str]:
        return [r.run.id for r in self.records]

    def metrics(self) -> list[MetricComparison]:
        return metric_comparisons(self.records)


def run_name(record: RunRecord) -> str:
    return record.tags.get(NAME_TAG, "")


def run_label(record: RunRecord) -> str:
    """One line naming a run, for legends and hover: "r-1a2b (baseline)"."""
    name = run_name(record)
    return f"{record.run.id} ({name})" if name else record.run.id


def run_headers(first: str, records: Sequence[RunRecord]) -> tuple[str, ...]:
    """A table's headers: its first column's title, then one column per run (its id, its name below)."""
    return (first, *(f"{r.run.id}\n{run_name(r)}" if run_name(r) else r.run.id for r in records))


def _text(value: str | None) -> str:
    return MISSING if value is None else value


def header_rows(records: Sequence[RunRecord]) -> list[Row]:
    """Who ran each run, how it stands and when it started (local time; the exact moment on hover)."""
    started = [r.run.started_at for r in records]
    return [
        Row(("State", *(state_text(r.run) for r in records)), "state"),
        Row(("User", *(r.run.user for r in records)), "user"),
        Row(
            (f"Started ({times.zone()})", *(times.local(ts) or "not yet" for ts in started)),
            "started",
            tips=("", *(times.exact(ts) for ts in started)),
        ),
    ]


def field_row(f: Field, label: str | None = None) -> Row:
    """One compared fact: its values ("—" where a run has none), marked where the runs differ."""
    return Row((label or f.name, *(_text(v) for v in f.values)), f.label, marked=f.differs)


def param_rows(records: Sequence[RunRecord], only_differences: bool) -> list[Row]:
    """The union of every run's params; with `only_differences`, just those whose values differ."""
    return [field_row(f) for f in param_fields(records) if f.differs or not only_differences]


def param_summary(records: Sequence[RunRecord]) -> str:
    fields = param_fields(records)
    differ = sum(1 for f in fields if f.differs)
    if not fields:
        return "no run logged parameters"
    return f"{differ} of {len(fields)} parameter{'s' if len(fields) != 1 else ''} differ"


def package_union(records: Sequence[RunRecord]) -> list[Field]:
    """Every package any run's Python had (by normalised name, as pip would match it), its version per run:
    the union, where kiln.core.compare.package_fields keeps only those that differ, so the view can show
    all of them when asked."""
    return keyed_fields("packages", [package_map(r.environment.get(RECORD_PACKAGES, "")) for r in records])


def package_rows(records: Sequence[RunRecord], only_differences: bool) -> list[Row]:
    """The union of the runs' packages; with `only_differences`, those whose versions differ (or that
    some run lacks)."""
    return [field_row(f) for f in package_union(records) if f.differs or not only_differences]


def package_summary(records: Sequence[RunRecord]) -> str:
    fields = package_union(records)
    if not fields:
        return "no run recorded its packages"
    differ = sum(1 for f in fields if f.differs)
    return f"{differ} of {len(fields)} package{'s' if len(fields) != 1 else ''} differ"


def metric_text(summary: MetricSummary | None, best: bool) -> str:
    """ "0.98 (0.51 – 0.98)": the last value, then the range it moved in; the best one starred."""
    if summary is None:
        return MISSING
    text = f"{number(summary.last)}  ({number(summary.low)} – {number(summary.high)})"
    return f"{BEST_MARK} {text}" if best else text


def metric_tip(comparison: MetricComparison, column: int) -> str:
    summary = comparison.runs[column]
    if summary is None:
        return f"this run logged no {comparison.key}"
    return (
        f"{comparison.key}: last {number(summary.last)} at step {summary.step}\n"
        f"lowest {number(summary.low)}, highest {number(summary.high)}, {summary.points} points"
    )


def metric_rows(comparisons: Sequence[MetricComparison], directions: Mapping[str, Direction | None]) -> list[GridRow]:
    """One row per metric: which way is better, then each run's "last (min – max)"; the run with the best
    last value (by that row's direction) marked. Columns: Metric, Better, then the runs."""
    rows = []
    for c in comparisons:
        direction = directions.get(c.key)
        best = best_runs(c.lasts(), direction)
        values = tuple(metric_text(s, i in best) for i, s in enumerate(c.runs))
        tips = ("", "which way this metric gets better", *(metric_tip(c, i) for i in range(len(c.runs))))
        cells = (c.key, DIRECTION_WORDS[direction], *values)
        rows.append(GridRow(cells, c.key, tips=tips, best=frozenset(i + 2 for i in best)))
    return rows


def best_run_ids(compared: Compared, directions: Mapping[str, Direction | None]) -> dict[str, list[str]]:
    """metric key -> the ids of the runs marked best on it (none where there is no best)."""
    ids = compared.ids
    return {c.key: [ids[i] for i in sorted(best_runs(c.lasts(), directions.get(c.key)))] for c in compared.metrics()}


def _time_row(label: str, key: str, stamps: Sequence[float]) -> Row:
    return Row(
        (f"{label} ({times.zone()})", *(times.local_s(ts) or MISSING for ts in stamps)),
        key,
        marked=len(set(stamps)) > 1,
        tips=("", *(times.exact(ts) for ts in stamps)),
    )


def _packages_row(records: Sequence[RunRecord]) -> Row:
    """How many packages each run's Python had, marked (with what differs on hover) where the lists differ."""
    lists = [frozenset(p for p in r.environment.get("packages", "").splitlines() if p.strip()) for r in records]
    common = frozenset.intersection(*lists) if lists else frozenset()
    tips = ["", *("; ".join(sorted(p - common)[:20]) or "the same as every other run" for p in lists)]
    cells = [f"{len(p)} packages" if p else MISSING for p in lists]
    return Row(("packages", *cells), "packages", marked=len(set(lists)) > 1, tips=tuple(tips))


def detail_rows(records: Sequence[RunRecord], now: float) -> list[Row]:
    """How each run was executed: how long, when, what it ran, where and in what environment (a fact no
    run has, an image for process runs say, is left out)."""
    runs = [r.run for r in records]
    durations = [format_duration(duration_s(r, now)) or MISSING for r in runs]
    rows = [
        Row(("Duration", *durations), "duration", marked=len(set(durations)) > 1),
        _time_row("Started", "started", [r.started_at for r in runs]),
        _time_row("Finished", "finished", [r.finished_at for r in runs]),
    ]
    rows += [field_row(f, f.name.capitalize()) for f in run_fields(records) if any(f.values)]
    rows += [field_row(f, f"{f.name} (recorded)") for f in environment_fields(records)]
    rows.append(_packages_row(records))
    inputs = input_field(records)
    if any(inputs.values):
        rows.append(field_row(inputs, "Inputs"))
    return rows


def differing(rows: Sequence[Row]) -> list[str]:
    """The keys of the rows whose values differ between the runs."""
    return [r.key for r in rows if r.marked]
