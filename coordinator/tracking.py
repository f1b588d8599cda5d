"""Tracking on the coordinator: applying what runs log (once, whatever the agent resends), reading a run's
record and metric histories, and searching runs."""

from __future__ import annotations

import logging

from kiln.coordinator.context import Coordinator
from kiln.coordinator.lineage import recorded
from kiln.coordinator.runs import get_run, readable_projects
from kiln.core import limits, lineage
from kiln.core.errors import InvalidArgument
from kiln.core.link import TrackBatch
from kiln.core.models import MetricSeries, RunKeys, RunRecord, RunValues
from kiln.core.paging import Page, PageRequest, page_in_memory, page_of
from kiln.core.paths import check_relpath
from kiln.core.permissions import Principal
from kiln.core.query import Field, check_search, parse_field, parse_filter, parse_sort
from kiln.core.runs import Run

MAX_POINTS = 10_000
# Keys of each kind ListRunKeys lists: 3 x 5,000 keys of 250 characters (15 MB even at 4 bytes each) fit a reply.
RUN_KEYS_LISTED = 5000
INPUT_RELATIONS = frozenset({"input", "parent", "rerun"})
log = logging.getLogger("kiln.coordinator.tracking")


def ingest(ctx: Coordinator, node: str, batch: TrackBatch, now: float) -> bool:
    """Applies a batch from the node that runs the run; a batch seen before is ignored. False if refused."""
    run = ctx.store.run(batch.run_id, with_events=False)
    if run is None or run.node != node:
        return False
    store = ctx.store
    try:
        check_batch(ctx, batch)
    except InvalidArgument as e:  # acknowledged and dropped whole: resending it would not make it fit
        log.warning("refused tracking batch %d of run %s from node %s: %s", batch.seq, run.id, node, e)
        return False
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


def check_batch(ctx: Coordinator, batch: TrackBatch) -> None:
    """Refuses a batch that holds more than a run may log (kiln.core.limits), before any of it is stored:
    the run's SDK is outside the coordinator, and what it sends ends up in every record and search."""
    for what, pairs in (("param", batch.params), ("tag", batch.tags)):
        for key, value in pairs.items():
            limits.TRACK_KEY.check(key, field=f"{what} key")
            limits.TRACK_VALUE.check(value, key, field=what)
    metric_keys = {key for key, *_ in batch.metrics}
    for key in metric_keys:
        limits.TRACK_KEY.check(key, field="metric key")
    for path in (*batch.artifacts, *(m[0] for m in batch.models)):
        check_relpath(path)
    for text in batch.datasets:
        limits.TRACK_KEY.check(text, field="dataset")
    for _, name, flavor in batch.models:
        limits.TRACK_KEY.check(name, field="model name")
        limits.TRACK_KEY.check(flavor, field="model flavor")
    limits.ENVIRONMENT.check(batch.environment)
    totals = (
        (limits.RUN_PARAMS, "params", list(batch.params)),
        (limits.RUN_TAGS, "tags", list(batch.tags)),
        (limits.RUN_METRIC_KEYS, "metrics", list(metric_keys)),
        (limits.RUN_ARTIFACTS, "artifact", list(batch.artifacts)),
        (limits.RUN_MODELS, "model", [m[0] for m in batch.models]),
        (limits.Limit("environment", limits.ENVIRONMENT.entries, "entries"), "environment", list(batch.environment)),
    )
    for limit, kind, keys in totals:
        if keys:
            held, new = ctx.store.tracked_keys(batch.run_id, kind, keys)
            if held + new > limit.most:
                raise InvalidArgument(
                    f"{limit.field}: {held:,} logged and {new:,} new; at most {limit.amount(limit.most)}"
                )


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
    ctx: Coordinator,
    who: Principal,
    run_id: str,
    keys: list[str],
    max_points: int,
    page: PageRequest,
    after_step: dict[str, int] | None = None,
) -> Page[MetricSeries]:
    """One page of the run's metric series (those named, or every one), by key: whole (downsampled, with
    where the lowest and highest values are), or for the keys in `after_step` only the points after it."""
    for key in limits.METRIC_KEYS.check(keys):
        limits.TRACK_KEY.check(key, field="metric key")
    after = check_after_step(after_step or {}, keys)
    run = get_run(ctx, who, run_id)
    points = min(max_points or 1000, MAX_POINTS)
    wanted = sorted(set(keys)) if keys else [k for k, *_ in ctx.store.metric_summaries(run.id)]
    chosen = page_in_memory(wanted, page, lambda k: (k,))
    series = []
    for key in chosen.items:
        since = after.get(key)
        total, found = ctx.store.metric_series(run.id, key, points, since)
        low, high = ctx.store.metric_extremes(run.id, key) if since is None else (None, None)
        series.append(MetricSeries(key, total, tuple(found), since, low, high))
    return Page(series, chosen.keys, chosen.more)


def check_after_step(after_step: dict[str, int], keys: list[str]) -> dict[str, int]:
    """The per-key steps of an incremental read: as many keys as a read may name, each a metric key the
    read asks for (any key of the run when it names none)."""
    limits.METRIC_KEYS.check(list(after_step), field="after_step")
    asked = set(keys)
    for key in after_step:
        limits.TRACK_KEY.check(key, field="after_step key")
        if not key:
            raise InvalidArgument("after_step has an empty key: name the metric whose new points to read")
        if asked and key not in asked:
            raise InvalidArgument(f"after_step names {key!r}, which the read does not ask for: add it to keys")
    return dict(after_step)


def search(ctx: Coordinator, who: Principal, project: str, text: str, sort: str, page: PageRequest) -> Page[Run]:
    """One page of the runs matching `text`, sorted by `sort` (newest first when neither is given), paged
    by position in that order."""
    where, order = parse_filter(text), parse_sort(sort)  # a filter over its size is refused unread
    check_search(where, order)
    projects = readable_projects(ctx, who, project)
    start = int(page.after[0]) if page.after else 0
    ids = ctx.store.search_runs(projects, where, order, page.size + 1, start)
    runs = {r.id: r for r in ctx.store.runs_by_id(ids)}
    placed = [(place, runs[i]) for place, i in enumerate(ids, start + 1) if i in runs]
    return page_of(placed, page.size, lambda p: (p[0],)).map(lambda p: p[1])


def count_matching(ctx: Coordinator, who: Principal, project: str, text: str) -> int:
    """How many runs `text` matches in all (what a table's "200 of 3,412" counts)."""
    where = parse_filter(text)
    check_search(where, [])
    return ctx.store.count_runs(readable_projects(ctx, who, project), where)


def run_keys(ctx: Coordinator, who: Principal, project: str) -> RunKeys:
    """The params, metrics and tags keys `project`'s runs logged: at most RUN_KEYS_LISTED of each."""
    if not project:
        raise InvalidArgument("name the project whose keys to list")
    limits.NAME.check(project, field="project name")
    readable_projects(ctx, who, project)  # PermissionDenied or NotFound unless the caller reads it
    kinds = ("params", "metrics", "tags")
    found = {kind: ctx.store.run_keys(project, kind, RUN_KEYS_LISTED + 1) for kind in kinds}
    truncated = any(len(keys) > RUN_KEYS_LISTED for keys in found.values())
    listed = {kind: tuple(keys[:RUN_KEYS_LISTED]) for kind, keys in found.items()}
    return RunKeys(listed["params"], listed["metrics"], listed["tags"], truncated)


def parse_columns(columns: list[str]) -> list[Field]:
    """The fields a listing asks for as columns: params.NAME, metrics.NAME (the last value), tags.NAME."""
    limits.COLUMNS.check(columns)
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
