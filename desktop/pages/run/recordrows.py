"""A run's tracking record (kiln.track: params, tags, metrics, artifacts, models, inputs, environment)
turned into table rows: plain data, so what the run page shows is decided and tested without widgets
(the charts' own arithmetic is kiln.desktop.widgets.chartscale)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from kiln.core.errors import InvalidArgument
from kiln.core.lineage import split
from kiln.core.manifest import Entry
from kiln.core.metrics import Direction, better
from kiln.core.units import format_bytes
from kiln.desktop.pages.run.preview import file_type
from kiln.desktop.rows import Row

PAIR_HEADERS = ("Name", "Value")
METRIC_HEADERS = ("Metric", "Last", "Step", "Min", "Max", "Best @ step", "Points")
ARTIFACT_HEADERS = ("Path", "Logged as", "Type", "Size")
FOLDER_FILES = 500  # files listed under one logged folder; the rest are pulled with the output snapshot
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
Best = tuple[Direction | None, tuple[int, float] | None]  # which way is better; (step, value) of the best


def number(value: float) -> str:
    """Short and exact enough to compare runs by eye; NaN and infinities said as such."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.6g}"


def pair_rows(pairs: Mapping[str, str]) -> list[Row]:
    return [Row((k, v), k) for k, v in sorted(pairs.items())]


def metric_rows(summaries: Iterable[MetricSummary], bests: Mapping[str, Best] | None = None) -> list[Row]:
    """One row per metric: last value and its step, min, max, the best value and its step (by which way
    the name says is better; `bests` from the held history), and how many points were logged."""
    rows = []
    for key, last, step, low, high, n in sorted(summaries):
        best, tip = best_cell(*(bests or {}).get(key, (better(key), None)))
        cells = (key, number(last), str(step), number(low), number(high), best, str(n))
        rows.append(Row(cells, key, tips=("", "", "", "", "", tip, "")))
    return rows


def best_cell(direction: Direction | None, at: tuple[int, float] | None) -> tuple[str, str]:
    """("0.0123 @ 1800", "lower is better (loss)") for a metric's best point; its direction unknown said."""
    if direction is None:
        return "? (name says neither)", "the name does not say whether lower or higher is better"
    words = "lower is better" if direction == "min" else "higher is better"
    if at is None:
        return "no value yet", words
    return f"{number(at[1])} @ {at[0]}", f"{words}: the {'lowest' if direction == 'min' else 'highest'} value"


def logged_as(path: str, artifacts: Iterable[str], models: Iterable[tuple[str, str, str]]) -> str:
    """ "artifact", "model churn (sklearn)", or both, for a path the run logged."""
    said = ["artifact"] if path in {a.strip("/") for a in artifacts} else []
    for model_path, name, flavor in models:
        if model_path.strip("/") == path:
            said.append(f"model {name} ({flavor})" if flavor else f"model {name}")
    return ", ".join(said)


def under(entry: Entry, path: str) -> bool:
    return entry.path == path or entry.path.startswith(path + "/")


def artifact_rows(
    artifacts: Iterable[str], models: Iterable[tuple[str, str, str]], entries: Sequence[Entry] | None
) -> list[Row]:
    """Each logged artifact and model with its type and size in the output snapshot, a logged folder
    followed by its files (keyed by their paths, to preview and save one). `entries` is None while the
    output snapshot is not known yet (the run goes on, or its manifest is on its way)."""
    artifacts, models = list(artifacts), list(models)
    logged = sorted({a.strip("/") for a in artifacts} | {m[0].strip("/") for m in models})
    rows: list[Row] = []
    seen = set(logged)  # a file logged on its own has its own row, not one under its folder too
    for path in logged:
        what = logged_as(path, artifacts, models)
        if entries is None:
            rows.append(Row((path, what, file_type(path), ""), path))
            continue
        inside = [e for e in entries if under(e, path)]
        files = [e for e in inside if e.has_blob]
        if not inside:
            rows.append(Row((path, what, "not in the output snapshot", ""), path))
        elif len(inside) == 1 and inside[0].path == path and files:
            rows.append(Row((path, what, file_type(path, files[0].kind), format_bytes(files[0].size)), path))
        else:
            kind = f"folder, {len(files)} file{'s' if len(files) != 1 else ''}"
            rows.append(Row((path + "/", what, kind, format_bytes(sum(e.size for e in files))), path))
            rows.extend(folder_rows(path, files, seen))
    return rows


def folder_rows(folder: str, files: Sequence[Entry], seen: set[str]) -> list[Row]:
    """The files of a logged folder, up to FOLDER_FILES, then a line saying how many more there are."""
    rows = []
    for e in sorted(files)[:FOLDER_FILES]:
        if e.path not in seen:
            seen.add(e.path)
            cells = ("    " + e.path, f"in {folder}/", file_type(e.path, e.kind), format_bytes(e.size))
            rows.append(Row(cells, e.path))
    if len(files) > FOLDER_FILES:
        more = len(files) - FOLDER_FILES
        rows.append(Row((f"    … {more:,} more files: pull the output snapshot", "", "", ""), None))
    return rows


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
