"""Reference profiles, frozen once per model version: from the dataset version its training run read (or
the one a monitor names), its CSV and Parquet files as the store holds them, profiled by drift.profile.

The profile is the model version's, not the monitor's: every monitor of every endpoint serving that version
compares against the same frozen reference, and a later dataset version never changes it. A version whose
training run read no dataset has no profile until a monitor names one (`--reference DATASET[:V]`); until
then its monitors report quality, latency and errors, and say that drift needs a reference.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiln.coordinator.context import Coordinator
from kiln.coordinator.monitoring import drift
from kiln.core import clock, lineage
from kiln.core.errors import FailedPrecondition, InvalidArgument, NotFound

MAX_REFERENCE_ROWS = 1_000_000  # rows of the dataset read into the profile (the profile's own sample is capped)
MAX_FILE_BYTES = 2 << 30
# values per numeric column kept for KS and Wasserstein: a profile of 20 columns stays near 4 MB, and both
# statistics against a sample this size differ from the whole reference's by less than their thresholds resolve
PROFILE_SAMPLE = 20_000
SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class Reference:
    profile: drift.Profile
    source: str  # the dataset version's lineage id (dataset:P/N@V)


def for_version(ctx: Coordinator, project: str, model: str, version: int, named: str = "") -> Reference | None:
    """The version's frozen profile, making it now from `named` (DATASET[:V]) or its training run's first
    dataset when it has none; None when there is nothing to make it from."""
    row = ctx.store.reference_profile(project, model, version)
    if row is not None:
        return Reference(drift.Profile.from_json(row["profile_json"]), row["source"])
    source = _source(ctx, project, model, version, named)
    if source is None:
        return None
    name, number, snapshot = source
    profile = _profile_of(ctx, project, snapshot, f"dataset {name} v{number}")
    dataset = lineage.dataset_id(project, name, number)
    ctx.store.add_reference_profile(
        {"project": project, "model": model, "version": version, "source": dataset,
         "profile_json": profile.to_json(), "created_at": clock.now()}
    )  # fmt: skip
    kept = ctx.store.reference_profile(project, model, version)  # another monitor may have frozen it first
    assert kept is not None
    return Reference(drift.Profile.from_json(kept["profile_json"]), kept["source"])


def _source(ctx: Coordinator, project: str, model: str, version: int, named: str) -> tuple[str, int, str] | None:
    """(dataset name, version, snapshot) the profile is made from."""
    if named:
        name, _, number = named.partition(":")
        rows = ctx.store.dataset_versions(project, name)
        if not rows:
            raise NotFound(f"project {project} has no dataset {name!r} (kiln datasets lists them)")
        if number and not number.isdigit():
            raise InvalidArgument(f"--reference {named!r}: a dataset version is NAME or NAME:NUMBER")
        picked = [r for r in rows if not number or r["version"] == int(number)]
        if not picked:
            raise NotFound(f"dataset {name} has no version {number}")
        r = max(picked, key=lambda r: r["version"])
        return r["name"], int(r["version"]), r["snapshot"]
    versions = [r for r in ctx.store.model_versions(project, model) if r["version"] == version]
    run = ctx.store.run(versions[0]["run_id"], with_events=False) if versions else None
    for ref in run.spec.datasets if run else ():
        name, _, number = ref.partition(":")
        for r in ctx.store.dataset_versions(project, name):
            if number.isdigit() and r["version"] == int(number):
                return r["name"], int(r["version"]), r["snapshot"]
    return None


def _profile_of(ctx: Coordinator, project: str, snapshot: str, what: str) -> drift.Profile:
    columns, _ = read_columns(ctx, project, snapshot, what, MAX_REFERENCE_ROWS)
    return drift.profile(columns, sample_size=PROFILE_SAMPLE)


def read_columns(
    ctx: Coordinator, project: str, snapshot: str, what: str, max_rows: int
) -> tuple[dict[str, np.ndarray], int]:
    """The columns of a snapshot's CSV and Parquet files (those every file has), at most `max_rows` rows, as
    the store holds them; FailedPrecondition when there is nothing to read."""
    files = [e for e in ctx.store.manifest(project, snapshot) if e.digest and e.path.lower().endswith(SUFFIXES)]
    if not files:
        raise FailedPrecondition(f"{what} holds no .csv or .parquet file")
    columns: dict[str, list[Any]] = {}
    rows = 0
    from kiln.serve.batch import read_chunks

    with tempfile.TemporaryDirectory(prefix="kiln-columns-") as tmp:
        for i, entry in enumerate(files):
            if entry.size > MAX_FILE_BYTES or rows >= max_rows:
                continue
            # the reader knows a file by its suffix: a link with the entry's name to the stored blob
            link = Path(tmp) / f"{i}-{Path(entry.path).name}"
            link.symlink_to(ctx.blobs.path(entry.digest))
            for names, chunk in read_chunks(link, max_rows - rows):
                for name, values in zip(names, chunk, strict=True):
                    columns.setdefault(name, []).append(values)
                rows += len(chunk[0]) if chunk else 0
                if rows >= max_rows:
                    break
    if not rows:
        raise FailedPrecondition(f"{what} has no data rows")
    whole = {name: np.concatenate(parts) for name, parts in columns.items()}
    return {name: values for name, values in whole.items() if len(values) == rows}, rows  # in every file


def describe(profile: drift.Profile) -> dict[str, Any]:
    """What a person needs to know of a profile: its columns and how many rows made it."""
    return {"rows": profile.rows, "columns": list(profile.names)}
