"""Tracking on the coordinator: applying what runs log (once, whatever the agent resends), reading a run's
record and metric histories, and searching runs."""

from __future__ import annotations

from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.lineage import recorded
from kiln.coordinator.runs import get_run, list_runs
from kiln.core import lineage
from kiln.core.errors import InvalidArgument
from kiln.core.link import TrackBatch
from kiln.core.models import MetricSeries, RunRecord, RunValues
from kiln.core.permissions import Need, Principal
from kiln.core.query import Field, parse_field, parse_filter, parse_sort
from kiln.core.runs import Run

MAX_POINTS = 10_000
INPUT_RELATIONS = frozenset({"input", "parent", "rerun"})
MAX_COLUMNS = 32


def ingest(ctx: Coordinator, node: str, batch: TrackBatch, now: float) -> bool:
    """Applies a batch from the node that runs the run; a batch seen before is ignored. False if refused."""
    run = ctx.store.run(batch.run_id, with_events=False)
    if run is None or run.node != node:
        return False
    store = ctx.store
    with store.transaction():
        if not store.track_batch_seen(batch.run_id, batch.attempt, batch.pid, batch.seq):
            return True
        if batch.params:
            store.add_params(run.id, batch.params)
        if batch.tags:
            store.add_tags(run.id, batch.tags)
        if batch.metrics:
            store.add_metrics(run.id, batch.metrics)
        if batch.artifacts:
            store.add_outputs(run.id, "artifact", [(p, "", "") for p in batch.artifacts])
        if batch.models:
            store.add_outputs(run.id, "model", batch.models)
        if batch.environment:
            store.add_environment(run.id, batch.environment)
        if batch.datasets:
            _record_datasets_used(ctx, run, batch.datasets, now)
    return True


def _record_datasets_used(ctx: Coordinator, run: Run, names: tuple[str, ...], now: float) -> None:
    """A dataset the run says it read becomes an input edge only if the coordinator knows that version."""
    from kiln.coordinator.datasets import find_version

    mounted = dict(d.partition(":")[::2] for d in run.spec.datasets)  # name -> the version it was given
    edges = []
    for text in names:
        if text in mounted:  # a bare name is the version the run was given, not whatever is latest now
            text = f"{text}:{mounted[text]}"
        found = find_version(ctx, run.spec.project, text)
        if found is not None:
            edges.append(
                lineage.Edge(lineage.dataset_id(run.spec.project, found[0], found[1]), lineage.run_id(run.id), "input")
            )
    if edges:
        ctx.store.add_edges(edges, now)


def run_record(ctx: Coordinator, who: Principal, run_id: str) -> RunRecord:
    run = get_run(ctx, who, run_id)
    store = ctx.store
    # only inputs that existed before the run (edges an older coordinator wrote may say otherwise)
    inputs = sorted({r.entity for r in recorded(ctx, run.id, True, INPUT_RELATIONS)})
    return RunRecord(
        run,
        store.params(run.id),
        store.tags(run.id),
        store.metric_summaries(run.id),
        [p for p, _, _ in store.outputs(run.id, "artifact")],
        store.outputs(run.id, "model"),
        inputs,
        store.environment(run.id),
    )


def metric_history(
    ctx: Coordinator, who: Principal, run_id: str, keys: list[str], max_points: int
) -> list[MetricSeries]:
    run = get_run(ctx, who, run_id)
    points = min(max_points or 1000, MAX_POINTS)
    wanted = keys or [k for k, *_ in ctx.store.metric_summaries(run.id)]
    series = []
    for key in wanted:
        total, found = ctx.store.metric_series(run.id, key, points)
        series.append(MetricSeries(key=key, total_points=total, points=tuple(found)))
    return series


def search(ctx: Coordinator, who: Principal, project: str, text: str, sort: str, limit: int) -> list[Run]:
    if project:
        require_project(ctx.store, who, Need.READ, project)
        projects: list[str] | None = [project]
    else:
        projects = None if who.is_admin else [p.name for p in ctx.store.projects(who.user, True)]
    if not text and not sort:
        return list_runs(ctx, who, project, "", limit)
    if limit > 100_000:
        raise InvalidArgument("limit must be at most 100000")
    ids = ctx.store.search_runs(projects, parse_filter(text), parse_sort(sort), limit or 100)
    runs = {r.id: r for r in ctx.store.runs_by_id(ids)}
    return [runs[i] for i in ids if i in runs]


def parse_columns(columns: list[str]) -> list[Field]:
    """The fields a listing asks for as columns: params.NAME, metrics.NAME (the last value), tags.NAME."""
    if len(columns) > MAX_COLUMNS:
        raise InvalidArgument(f"at most {MAX_COLUMNS} columns, not {len(columns)}")
    fields: list[Field] = []
    for text in columns:
        field = parse_field(text.strip())
        if not field.namespace:
            raise InvalidArgument(f"column {text!r}: columns are params.NAME, metrics.NAME or tags.NAME")
        fields.append(field)
    return fields


def column_values(ctx: Coordinator, runs: list[Run], fields: list[Field]) -> dict[str, RunValues]:
    """Those fields' values for runs the caller was already allowed to list."""
    return ctx.store.run_values([r.id for r in runs], fields) if fields else {}
