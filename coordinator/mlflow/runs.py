"""MLflow runs as Kiln runs. A run created through this API is a Kiln run of kind "external" (runtime
`external`, no node): running from its creation until the client ends it, with the caller as its user
(never the client's claimed `user_id`). Runs made by `kiln run` answer here too, and an MLflow client
inside one (MLFLOW_RUN_ID, set by the agent) logs into it; ending such a run stays the agent's business,
so a client's "FINISHED" does not end it. Logged values go through the same limits and tables as
kiln.track's, in one transaction per call."""

from __future__ import annotations

import secrets
from typing import Any

from kiln.coordinator.access import require_project
from kiln.coordinator.runs import transition
from kiln.coordinator.tracking import check_batch
from kiln.core import clock, limits, lineage
from kiln.core.errors import InvalidArgument, NotFound, PermissionDenied
from kiln.core.link import TrackBatch
from kiln.core.permissions import Need
from kiln.core.query import Field, SortKey
from kiln.core.runs import Resources, Run, RunEvent, RunSpec, RunState, new_run_id

from . import experiments, filters, logged_models
from .protocol import (
    DEFAULT_RESULTS,
    MAX_RESULTS,
    STATE_OF,
    STATUS_OF,
    Call,
    Endpoint,
    as_float,
    json_float,
    ms,
    seconds,
)

EXTERNAL = "external"  # the runtime of runs made through this API: no node has it, the scheduler never places them
RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"
MAX_BATCH_METRICS = 1000  # MLflow's limits on one log-batch
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_ENTITIES = 1000
MAX_HISTORY = 1_000_000  # points of one metric answered at once
LIFECYCLES = ("active", "deleted")


def artifact_uri(run_id: str) -> str:
    return f"mlflow-artifacts:/runs/{run_id}"


def _run_id(call: Call) -> str:
    """The run a call names: `run_id`, or `run_uuid` as older clients send it."""
    return call.text("run_id", limit=limits.TRACK_KEY) or call.text("run_uuid", required=True, limit=limits.TRACK_KEY)


def find(call: Call, run_id: str, need: Need = Need.READ) -> Run:
    """The run, when it is in the tracking URI's project and the caller may `need` it."""
    limits.TRACK_KEY.check(run_id, field="run_id")
    require_project(call.ctx.store, call.who, need, call.project)
    run = call.ctx.store.run(run_id, with_events=False) if run_id else None
    if run is None or run.spec.project != call.project:
        raise NotFound(f"run {run_id!r} not found in project {call.project!r}")
    if need is not Need.READ and call.who.run and call.who.run != run.id:
        raise PermissionDenied(f"the token of run {call.who.run} may change that run only, not {run.id}")
    return run


def run_json(call: Call, run: Run, facts: dict[str, Any] | None = None) -> dict[str, Any]:
    store = call.ctx.store
    if facts is None:
        facts = store.mlflow_runs([run.id]).get(run.id)
    tags = store.tags(run.id)
    name = (facts or {}).get("name") or tags.get(RUN_NAME_TAG) or run.id
    info = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": name,
        "experiment_id": (facts or {}).get("experiment", experiments.DEFAULT),
        "user_id": run.user,
        "status": STATUS_OF[run.state],
        "start_time": ms(run.started_at or run.created_at),
        "artifact_uri": artifact_uri(run.id),
        "lifecycle_stage": (facts or {}).get("lifecycle", "active"),
    }
    if run.finished_at:
        info["end_time"] = ms(run.finished_at)
    metrics = [
        {"key": k, "value": json_float(v), "timestamp": ms(ts), "step": step}
        for k, v, step, ts in store.latest_metrics(run.id)
    ]
    return {
        "info": info,
        "data": {
            "metrics": metrics,
            "params": [{"key": k, "value": v} for k, v in sorted(store.params(run.id).items())],
            "tags": [{"key": k, "value": v} for k, v in sorted({**tags, RUN_NAME_TAG: name}.items())],
        },
        "inputs": {},
        "outputs": {"model_outputs": logged_models.outputs_of(call, run.id)},
    }


# -- runs ----------------------------------------------------------------------------------------------


def create(call: Call) -> dict[str, Any]:
    experiment_id = call.text("experiment_id", limit=limits.TRACK_KEY) or experiments.DEFAULT
    tags = call.tags()
    name = call.text("run_name", limit=limits.TRACK_KEY) or tags.get(RUN_NAME_TAG, "")
    start = call.integer("start_time", default=0)
    if call.who.run:
        raise PermissionDenied(
            f"inside Kiln run {call.who.run}, MLflow logs into that run (MLFLOW_RUN_ID); "
            "its token creates no other runs"
        )
    row = experiments.find(call, experiment_id, Need.WRITE)
    experiments.check_open(row)
    now = clock.now()
    run_id = new_run_id()
    name = name or f"run-{secrets.token_hex(3)}"
    source = tags.get("mlflow.source.name", "") or "mlflow"
    tags = {**tags, RUN_NAME_TAG: name, USER_TAG: call.who.user}  # who it is, as Kiln authenticated them
    check_batch(call.ctx, TrackBatch(run_id, 1, 0, 0, tags=tags))
    spec = RunSpec(call.project, (source[: limits.TRACK_VALUE.most],), runtime=EXTERNAL, resources=Resources(cpus=0))
    started = seconds(start) if start else now
    run = Run(run_id, spec, call.who.user, RunState.RUNNING, now, runtime=EXTERNAL, started_at=started)
    store = call.ctx.store
    with store.transaction():
        store.add_run(run)
        store.update_run(run_id, runtime=EXTERNAL, started_at=started)
        store.add_run_event(run_id, RunEvent(now, RunState.RUNNING, f"started through MLflow by {call.who.user}"))
        store.add_mlflow_run(run_id, experiment_id, name)
        store.add_tags(run_id, tags)
        store.append_audit(
            call.who.user, "run.create", run_id, {"project": call.project, "via": "mlflow", "experiment": experiment_id}
        )
    return {"run": run_json(call, find(call, run_id))}


def get(call: Call) -> dict[str, Any]:
    run_id = _run_id(call)
    return {"run": run_json(call, find(call, run_id))}


def update(call: Call) -> dict[str, Any]:
    run_id = _run_id(call)
    status = call.text("status", limit=limits.TRACK_KEY).upper()
    end = call.integer("end_time", default=0)
    name = call.text("run_name", limit=limits.TRACK_KEY)
    if status and status not in STATE_OF:
        raise InvalidArgument(f"unknown status {status!r}; use RUNNING, SCHEDULED, FINISHED, FAILED or KILLED")
    run = find(call, run_id, Need.WRITE)
    store = call.ctx.store
    if name:
        with store.transaction():
            store.change_mlflow_run(run.id, "name", name)
            store.add_tags(run.id, {RUN_NAME_TAG: name})
    state = STATE_OF.get(status)
    if run.spec.runtime == EXTERNAL and state is not None and state.terminal and not run.state.terminal:
        _end(call, run, state, seconds(end) if end else clock.now())
    return {"run_info": run_json(call, find(call, run.id))["info"]}


def _end(call: Call, run: Run, state: RunState, at: float) -> None:
    from . import artifacts  # the artifacts door builds the run's output snapshot from what it uploaded

    output = artifacts.snapshot_of(call.ctx, call.who, call.project, run.id)
    store = call.ctx.store
    with store.transaction():
        transition(store, run, state, f"ended through MLflow by {call.who.user}", at, output_snapshot=output)
        if output:  # as the dispatcher records a placed run's outputs
            store.add_edges([lineage.Edge(lineage.run_id(run.id), lineage.snapshot_id(output), "output")], at)
        store.append_audit(call.who.user, "run.end", run.id, {"state": str(state), "via": "mlflow"})


def _lifecycle(call: Call, lifecycle: str) -> dict[str, Any]:
    run = find(call, call.text("run_id", required=True, limit=limits.TRACK_KEY), Need.WRITE)
    store = call.ctx.store
    with store.transaction():
        store.change_mlflow_run(run.id, "lifecycle", lifecycle)
        store.append_audit(call.who.user, f"run.{'delete' if lifecycle == 'deleted' else 'restore'}", run.id, {})
    return {}


def delete(call: Call) -> dict[str, Any]:
    return _lifecycle(call, "deleted")


def restore(call: Call) -> dict[str, Any]:
    return _lifecycle(call, "active")


# -- logging -------------------------------------------------------------------------------------------


def log_parameter(call: Call) -> dict[str, Any]:
    run_id = _run_id(call)
    key = call.text("key", required=True, limit=limits.TRACK_KEY)
    _log(call, run_id, params={key: call.text("value")})
    return {}


def log_metric(call: Call) -> dict[str, Any]:
    run_id = _run_id(call)
    point = _point(call.fields)
    _log(call, run_id, metrics=[point])
    return {}


def _point(m: dict[str, Any]) -> tuple[str, int, float, float]:
    key = m.get("key")
    if not isinstance(key, str) or not key:
        raise InvalidArgument("a metric needs a key")
    limits.TRACK_KEY.check(key, field="metric key")
    step = m.get("step", 0) or 0
    timestamp = m.get("timestamp", 0) or 0
    try:
        step, timestamp = int(step), int(timestamp)
    except (TypeError, ValueError):
        raise InvalidArgument(f"metric {key!r}: step and timestamp must be integers") from None
    return (
        key,
        step,
        as_float(m.get("value"), f"value of metric {key!r}"),
        seconds(timestamp) if timestamp else clock.now(),
    )


def log_batch(call: Call) -> dict[str, Any]:
    run_id = call.text("run_id", required=True, limit=limits.TRACK_KEY)
    metrics = call.objects("metrics", MAX_BATCH_METRICS)
    params = call.objects("params", MAX_BATCH_PARAMS)
    tags = call.tags("tags", MAX_BATCH_TAGS)
    if len(metrics) + len(params) + len(tags) > MAX_BATCH_ENTITIES:
        raise InvalidArgument(f"a batch holds at most {MAX_BATCH_ENTITIES} metrics, params and tags together")
    values: dict[str, str] = {}
    for p in params:
        key, value = p.get("key"), p.get("value")
        if not isinstance(key, str) or not key:
            raise InvalidArgument("a param needs a key")
        value = "" if value is None else str(value)
        if key in values and values[key] != value:
            raise InvalidArgument(f"param {key!r} is given twice with different values in one batch")
        values[key] = value
    _log(call, run_id, params=values, tags=tags, metrics=[_point(m) for m in metrics])
    return {}


def set_tag(call: Call) -> dict[str, Any]:
    run_id = _run_id(call)
    key = call.text("key", required=True, limit=limits.TRACK_KEY)
    value = call.text("value")
    _log(call, run_id, tags={key: value})
    if key == RUN_NAME_TAG:
        call.ctx.store.change_mlflow_run(run_id, "name", value)
    return {}


def delete_tag(call: Call) -> dict[str, Any]:
    run = find(call, call.text("run_id", required=True, limit=limits.TRACK_KEY), Need.WRITE)
    key = call.text("key", required=True, limit=limits.TRACK_KEY)
    if not call.ctx.store.delete_tag(run.id, key):
        raise NotFound(f"run {run.id} has no tag {key!r}")
    return {}


def log_inputs(call: Call) -> dict[str, Any]:
    """Datasets a run read, as MLflow describes them: kept as the run's tags `mlflow.input.NAME` (digest
    and source), and for a name that is a Kiln dataset of the project, nothing more is claimed."""
    run_id = call.text("run_id", required=True, limit=limits.TRACK_KEY)
    tags = {}
    for item in call.objects("datasets", 100):
        dataset = item.get("dataset") or {}
        name = str(dataset.get("name") or "")
        if not name:
            raise InvalidArgument("a dataset input needs a name")
        tags[f"mlflow.input.{name}"[: limits.TRACK_KEY.most]] = str(
            {"digest": dataset.get("digest", ""), "source_type": dataset.get("source_type", "")}
        )[: limits.TRACK_VALUE.most]
    if tags:
        _log(call, run_id, tags=tags)
    else:
        find(call, run_id, Need.WRITE)
    return {}


def _log(
    call: Call,
    run_id: str,
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    metrics: list[tuple[str, int, float, float]] | None = None,
) -> None:
    run = find(call, run_id, Need.WRITE)
    store = call.ctx.store
    check_batch(
        call.ctx, TrackBatch(run.id, 1, 0, 0, params=params or {}, tags=tags or {}, metrics=tuple(metrics or ()))
    )
    with store.transaction():
        if params:
            old = store.params(run.id)
            for key, value in params.items():
                if key in old and old[key] != value:
                    raise InvalidArgument(
                        f"param {key!r} of run {run.id} is {old[key]!r}; "
                        f"a param is logged once and cannot become {value!r}"
                    )
            store.add_params(run.id, params)
        if tags:
            store.add_tags(run.id, tags)
        if metrics:
            store.add_metrics(run.id, metrics)


# -- reading -------------------------------------------------------------------------------------------


def search(call: Call) -> dict[str, Any]:
    ids = call.strings("experiment_ids", most=100, limit=limits.TRACK_KEY) or [experiments.DEFAULT]
    view = experiments.VIEW_TYPES.get((call.text("run_view_type") or "ACTIVE_ONLY").upper())
    if view is None:
        raise InvalidArgument("unknown run_view_type; use ACTIVE_ONLY, DELETED_ONLY or ALL")
    size = call.integer("max_results", default=DEFAULT_RESULTS, lo=1, hi=MAX_RESULTS)
    offset = call.integer("page_token", default=0, lo=0)
    where = filters.parse_filter(call.text("filter", limit=limits.FILTER))
    order = filters.parse_order(call.strings("order_by", most=10, limit=limits.FILTER)) or [
        SortKey(Field("", "started_at"), True)
    ]
    for experiment_id in ids:
        experiments.find(call, experiment_id)
    store = call.ctx.store
    found = store.search_experiment_runs(call.project, ids, view, where, order, size + 1, offset)
    runs = {r.id: r for r in store.runs_by_id(found[:size])}
    facts = store.mlflow_runs(runs)
    reply: dict[str, Any] = {"runs": [run_json(call, runs[i], facts.get(i)) for i in found[:size] if i in runs]}
    if len(found) > size:
        reply["next_page_token"] = str(offset + size)
    return reply


def metric_history(call: Call) -> dict[str, Any]:
    run_id = _run_id(call)
    key = call.text("metric_key", required=True, limit=limits.TRACK_KEY)
    run = find(call, run_id)
    _, points = call.ctx.store.metric_series(run.id, key, MAX_HISTORY)
    return {
        "metrics": [{"key": key, "value": json_float(v), "timestamp": ms(ts), "step": step} for step, v, ts in points]
    }


def metric_history_bulk(call: Call) -> dict[str, Any]:
    """The UI's and newer clients' read of one metric over several runs, between two steps."""
    key = call.text("metric_key", required=True, limit=limits.TRACK_KEY)
    start = call.integer("start_step", default=0, lo=-(2**62))
    end = call.integer("end_step", default=2**62, lo=-(2**62))
    most = call.integer("max_results", default=2500, lo=1, hi=MAX_HISTORY)
    out = []
    for run_id in call.strings("run_ids", most=100, limit=limits.TRACK_KEY):
        run = find(call, run_id)
        _, points = call.ctx.store.metric_series(run.id, key, most)
        out += [
            {"key": key, "value": json_float(v), "timestamp": ms(ts), "step": s, "run_id": run.id}
            for s, v, ts in points
            if start <= s <= end
        ]
    return {"metrics": out}


ENDPOINTS = [
    Endpoint("POST", "runs/create", create),
    Endpoint("GET", "runs/get", get),
    Endpoint("POST", "runs/update", update),
    Endpoint("POST", "runs/delete", delete),
    Endpoint("POST", "runs/restore", restore),
    Endpoint("POST", "runs/search", search),
    Endpoint("POST", "runs/log-parameter", log_parameter),
    Endpoint("POST", "runs/log-metric", log_metric),
    Endpoint("POST", "runs/log-batch", log_batch),
    Endpoint("POST", "runs/set-tag", set_tag),
    Endpoint("POST", "runs/delete-tag", delete_tag),
    Endpoint("POST", "runs/log-inputs", log_inputs),
    Endpoint("GET", "metrics/get-history", metric_history),
    Endpoint("GET", "metrics/get-history-bulk-interval", metric_history_bulk),
]
