"""A run's tracking record (kiln.track: params, tags, metrics, artifacts, models, inputs, environment)
turned into table rows and chart points: plain data, so what the run page shows is decided and tested
without widgets, and a NaN logged by a run never reaches a chart axis."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from kiln.core.errors import InvalidArgument
from kiln.core.lineage import split
from kiln.desktop.rows import Row

PAIR_HEADERS = ("Name", "Value")
METRIC_HEADERS = ("Metric", "Last", "Step", "Min", "Max", "Points")
ARTIFACT_HEADERS = ("Artifact (in the output snapshot)",)
LOGGED_MODEL_HEADERS = ("Path", "Name", "Flavor")
INPUT_HEADERS = ("Kind", "What", "Entity id")
PACKAGE_HEADERS = ("Package", "Version")
KIND_WORDS = {
    "run": "run",
    "snapshot": "code/data snapshot",
    "dataset": "dataset version",
    "model": "model",
    "environment": "environment",
}

MetricSummary = tuple[str, float, int, float, float, int]  # RunRecord.metrics: key, last, step, min, max, n


def number(value: float) -> str:
    """Short and exact enough to compare runs by eye; NaN and infinities said as such."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.6g}"


def pair_rows(pairs: Mapping[str, str]) -> list[Row]:
    return [Row((k, v), k) for k, v in sorted(pairs.items())]


def metric_rows(summaries: Iterable[MetricSummary]) -> list[Row]:
    return [
        Row((key, number(last), str(step), number(low), number(high), str(n)), key)
        for key, last, step, low, high, n in sorted(summaries)
    ]


def artifact_rows(paths: Iterable[str]) -> list[Row]:
    return [Row((p,), p) for p in sorted(paths)]


def logged_model_rows(models: Iterable[tuple[str, str, str]]) -> list[Row]:
    return [Row((path, name, flavor), path) for path, name, flavor in sorted(models)]


def describe_entity(entity: str) -> tuple[str, str]:
    """(kind, words) for an entity id: `dataset:p/images@1` is the dataset version "p/images v1"."""
    try:
        kind, rest = split(entity)
    except InvalidArgument:
        return "", entity
    if kind in ("snapshot", "environment"):
        return kind, f"{kind} {rest[:12]}"
    if kind in ("dataset", "model"):
        name, _, version = rest.partition("@")
        return kind, f"{name} v{version}"
    return kind, rest


def input_rows(inputs: Iterable[str]) -> list[Row]:
    """What the run read, each keyed by its entity id (a click opens its lineage)."""
    rows = []
    for entity in inputs:
        kind, words = describe_entity(entity)
        rows.append(Row((KIND_WORDS.get(kind, kind), words, entity), entity))
    return sorted(rows, key=lambda r: (r.cells[0], r.cells[1]))


def environment_rows(environment: Mapping[str, str]) -> list[Row]:
    """What the agent recorded about where the run ran; the package list has a table of its own."""
    return [Row((k, v), k) for k, v in sorted(environment.items()) if k != "packages"]


def package_rows(environment: Mapping[str, str]) -> list[Row]:
    """`pip freeze` lines as (package, version); a line in another form is shown whole."""
    rows = []
    for line in environment.get("packages", "").splitlines():
        line = line.strip()
        if line:
            name, sep, version = line.partition("==")
            rows.append(Row((name, version) if sep else (line, ""), line))
    return sorted(rows, key=lambda r: r.cells[0].lower())


def chart_points(points: Sequence[tuple[int, float, float]]) -> list[tuple[float, float]]:
    """(step, value) in step order, without the non-finite values a chart cannot place."""
    return [(float(step), value) for step, value, _ in sorted(points) if math.isfinite(value)]


def chart_caption(key: str, total: int, shown: int) -> str:
    if shown >= total:
        return f"{key}: {total} point{'s' if total != 1 else ''}"
    return f"{key}: {shown} of {total} points (downsampled on the coordinator)"


def value_range(values: Sequence[float]) -> tuple[float, float]:
    """An axis range with a margin, never empty (a constant metric still gets a visible line)."""
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    return low - pad, high + pad
