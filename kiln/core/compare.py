"""Runs side by side: what `kiln compare` prints and the desktop's compare view shows, decided in one place.

Every fact worth comparing is a `Field` with one value per run (None where a run has none, so "no such
param" is not mistaken for an empty one); each metric is a `MetricComparison` holding every run's final
value, step, min and max; `best_runs` says which runs did best on a metric, given which way is better.
Pure functions over `RunRecord`s, so the command line and the desktop cannot disagree about a run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from kiln.core.environments import package_map
from kiln.core.metrics import Direction
from kiln.core.models import RunRecord
from kiln.core.runs import Run, pairs_text, resources_text

UNNAMED_SECTIONS = ("run", "inputs")  # their fields are named bare ("command"), the others "params.lr"

# What each run was asked to do, how it ended and where it ran, in the order people read them.
RUN_FACTS: tuple[tuple[str, Callable[[Run], str]], ...] = (
    ("state", lambda r: str(r.state)),
    ("exit code", lambda r: "" if r.exit_code is None else str(r.exit_code)),
    ("command", lambda r: " ".join(r.spec.command)),
    ("snapshot", lambda r: r.spec.snapshot),
    ("image", lambda r: r.spec.image),
    ("environment", lambda r: r.spec.environment),
    ("runtime", lambda r: r.runtime or r.spec.runtime),
    ("resources", resources_text),
    ("env", lambda r: pairs_text(r.spec.env)),
    ("datasets", lambda r: " ".join(r.spec.datasets)),
    ("rerun of", lambda r: r.spec.rerun_of),
    ("node", lambda r: r.node),
    ("output snapshot", lambda r: r.output_snapshot),
)


@dataclass(frozen=True)
class Field:
    """One compared fact: its section ("run", "params", "metrics", "environment", "packages", "inputs"), its
    name and
    one value per run, in the order the runs were given."""

    section: str
    name: str
    values: tuple[str | None, ...]

    @property
    def label(self) -> str:
        """As `kiln compare` names it: "command", "params.lr", "metrics.acc"."""
        return self.name if self.section in UNNAMED_SECTIONS else f"{self.section}.{self.name}"

    @property
    def differs(self) -> bool:
        return len(set(self.values)) > 1


def run_fields(records: Sequence[RunRecord]) -> list[Field]:
    return [Field("run", name, tuple(read(r.run) for r in records)) for name, read in RUN_FACTS]


def keyed_fields(section: str, maps: Sequence[Mapping[str, str]]) -> list[Field]:
    """One field per key any run has (the union, sorted), None for a run without it."""
    keys = sorted({k for m in maps for k in m})
    return [Field(section, k, tuple(m.get(k) for m in maps)) for k in keys]


def param_fields(records: Sequence[RunRecord]) -> list[Field]:
    return keyed_fields("params", [r.params for r in records])


def environment_fields(records: Sequence[RunRecord]) -> list[Field]:
    """Where each run ran, as its agent recorded it; the package list is too long to compare in a row."""
    return keyed_fields("environment", [{k: v for k, v in r.environment.items() if k != "packages"} for r in records])


def package_fields(records: Sequence[RunRecord]) -> list[Field]:
    """One field per package whose version differs between the runs (or that some lack), by name: the
    whole list is long and mostly the same, so only what differs is compared."""
    maps = [package_map(r.environment.get("packages", "")) for r in records]
    if sum(1 for m in maps if m) < 2:
        return []
    names = sorted({n for m in maps for n in m})
    return [f for n in names if (f := Field("packages", n, tuple(m.get(n) for m in maps))).differs]


def input_field(records: Sequence[RunRecord]) -> Field:
    return Field("inputs", "inputs", tuple(" ".join(r.inputs) for r in records))


def compare_fields(records: Sequence[RunRecord]) -> list[Field]:
    """Everything worth comparing: what each run was asked to do and how it ended, its params, final
    metrics, recorded environment, the packages that differ, and inputs."""
    finals = [{k: f"{last:.6g}" for k, last, *_ in r.metrics} for r in records]
    return [
        *run_fields(records),
        *param_fields(records),
        *keyed_fields("metrics", finals),
        *environment_fields(records),
        *package_fields(records),
        input_field(records),
    ]


@dataclass(frozen=True)
class MetricSummary:
    """What one run logged for one metric: the last value (at `step`), the lowest and highest, how many."""

    last: float
    step: int
    low: float
    high: float
    points: int


@dataclass(frozen=True)
class MetricComparison:
    key: str
    runs: tuple[MetricSummary | None, ...]  # one per run; None where the run did not log it

    def lasts(self) -> list[float | None]:
        return [None if s is None else s.last for s in self.runs]


def metric_comparisons(records: Sequence[RunRecord]) -> list[MetricComparison]:
    """One entry per metric any run logged (sorted by key), with every run's summary of it."""
    per_run = [{k: MetricSummary(last, step, lo, hi, n) for k, last, step, lo, hi, n in r.metrics} for r in records]
    keys = sorted({k for summaries in per_run for k in summaries})
    return [MetricComparison(k, tuple(s.get(k) for s in per_run)) for k in keys]


def best_runs(values: Sequence[float | None], direction: Direction | None) -> frozenset[int]:
    """The positions of the runs whose value is best (every one of them on a tie), `direction` being
    which way is better (kiln.core.metrics.better(name), or a person's choice); none without a direction,
    when fewer than two runs have a number to compare, or when they all have the same."""
    finite = {i: v for i, v in enumerate(values) if v is not None and math.isfinite(v)}
    if direction is None or len(finite) < 2 or len(set(finite.values())) == 1:
        return frozenset()
    best = min(finite.values()) if direction == "min" else max(finite.values())
    return frozenset(i for i, v in finite.items() if v == best)
