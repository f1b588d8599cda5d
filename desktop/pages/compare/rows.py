"""What the compare view shows, as rows: one per field, one column per run, a row whose values differ
marked."""

from __future__ import annotations

from collections.abc import Sequence

from kiln.core.runs import Run
from kiln.desktop.pages.runs.rows import SPEC_FIELDS, outcome_fields
from kiln.desktop.rows import Row


def compare_headers(runs: Sequence[Run]) -> tuple[str, ...]:
    return ("Field", *(r.id for r in runs))


def compare_rows(runs: Sequence[Run], now: float) -> list[Row]:
    """One row per field (outcome first, then what was asked for), one column per run; a row whose
    values differ between the runs is marked, so the differences stand out."""
    rows = []
    for label, read in outcome_fields(now) + SPEC_FIELDS:
        values = tuple(read(r) for r in runs)
        rows.append(Row((label, *values), label, marked=len(set(values)) > 1))
    return rows


def differing(rows: Sequence[Row]) -> list[str]:
    return [r.key for r in rows if r.marked]
