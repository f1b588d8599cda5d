"""MLflow 3's logged models: a model logged in (or outside) a run, with its own artifacts
(`mlflow-artifacts:/models/MODEL_ID`), params and tags; `mlflow.<flavor>.log_model` creates one, uploads
its files and links it to the run as an output. A logged model is not yet a Kiln registry entry: it
becomes one when registered (coordinator/mlflow/registry.py), from a snapshot of its artifacts.

Also the small filter language of the registry and logged-model searches (`simple_filter`): conditions
joined by AND on a few named fields, `=`, `!=`, `LIKE`, `ILIKE`, as MLflow's servers accept there.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

from kiln.coordinator.access import require_project
from kiln.core import clock, limits
from kiln.core.errors import InvalidArgument, NotFound
from kiln.core.permissions import Need

from . import artifacts
from .protocol import DEFAULT_RESULTS, MAX_RESULTS, Call, Endpoint, ms

STATUSES = (
    "LOGGED_MODEL_STATUS_UNSPECIFIED",
    "LOGGED_MODEL_PENDING",
    "LOGGED_MODEL_READY",
    "LOGGED_MODEL_UPLOAD_FAILED",
)
MAX_PARAMS = 1000
MAX_OUTPUTS = 100


def new_model_id() -> str:
    return "m-" + secrets.token_hex(16)


def find(call: Call, model_id: str, need: Need = Need.READ) -> dict[str, Any]:
    """The logged model's row, when it is in the tracking URI's project and the caller may `need` it."""
    limits.TRACK_KEY.check(model_id, field="model_id")
    require_project(call.ctx.store, call.who, need, call.project)
    row = call.ctx.store.logged_model(model_id) if model_id else None
    if row is None or row["project"] != call.project:
        raise NotFound(f"logged model {model_id!r} not found in project {call.project!r}")
    return row


def model_json(row: dict[str, Any]) -> dict[str, Any]:
    tags = json.loads(row["tags_json"])
    params = json.loads(row["params_json"])
    info: dict[str, Any] = {
        "model_id": row["id"],
        "experiment_id": row["experiment"],
        "name": row["name"],
        "creation_timestamp_ms": ms(row["created_at"]),
        "last_updated_timestamp_ms": ms(row["updated_at"]),
        "artifact_uri": artifacts.model_uri(row["id"]),
        "status": row["status"],
        "model_type": row["model_type"],
        "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())],
    }
    if row["source_run"]:
        info["source_run_id"] = row["source_run"]
    return {"info": info, "data": {"params": [{"key": k, "value": v} for k, v in sorted(params.items())]}}


def outputs_of(call: Call, run_id: str) -> list[dict[str, Any]]:
    """The run's model outputs as MLflow's RunOutputs.model_outputs (for runs/get's `outputs`)."""
    return [
        {"model_id": r["id"], "step": r["step"]}
        for r in call.ctx.store.logged_models_of_run(run_id)
        if r["run_id"] == run_id
    ]


def _pairs(call: Call, name: str, most: int) -> dict[str, str]:
    return call.tags(name, most) if call.raw(name) is not None else {}


def _status(call: Call) -> str:
    value = call.raw("status")
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(STATUSES):
        return STATUSES[value]
    if value in STATUSES[1:]:
        return str(value)
    raise InvalidArgument(f"parameter 'status' must be one of {', '.join(STATUSES[1:])}, not {value!r}")


# -- handlers --------------------------------------------------------------------------------------------


def create(call: Call) -> dict[str, Any]:
    from . import experiments, runs

    store = call.ctx.store
    experiment = call.text("experiment_id", limit=limits.TRACK_KEY) or experiments.DEFAULT
    experiments.check_open(experiments.find(call, experiment, Need.WRITE))
    run_id = call.text("source_run_id", limit=limits.TRACK_KEY)
    if run_id:
        runs.find(call, run_id, Need.WRITE)
    model_id = new_model_id()
    name = call.text("name", limit=limits.TRACK_KEY) or f"model-{model_id[2:10]}"
    now = clock.now()
    row = {
        "id": model_id,
        "project": call.project,
        "experiment": experiment,
        "run_id": "",
        "name": name,
        "status": "LOGGED_MODEL_PENDING",
        "model_type": call.text("model_type", limit=limits.TRACK_KEY),
        "source_run": run_id,
        "params_json": json.dumps(_pairs(call, "params", MAX_PARAMS)),
        "tags_json": json.dumps(call.tags()),
        "created_by": call.who.user,
        "created_at": now,
        "updated_at": now,
        "step": 0,
    }
    with store.transaction():
        store.add_logged_model(row)
        store.append_audit(
            call.who.user, "mlflow.model.create", f"{call.project}/{model_id}", {"name": name, "run": run_id}
        )
    return {"model": model_json(row)}


def get(call: Call) -> dict[str, Any]:
    return {"model": model_json(find(call, call.text("model_id", required=True, limit=limits.TRACK_KEY)))}


def finalize(call: Call) -> dict[str, Any]:
    row = find(call, call.text("model_id", required=True, limit=limits.TRACK_KEY), Need.WRITE)
    status = _status(call)
    with call.ctx.store.transaction():
        call.ctx.store.update_logged_model(row["id"], clock.now(), status=status)
        call.ctx.store.append_audit(
            call.who.user, "mlflow.model.finalize", f"{call.project}/{row['id']}", {"status": status}
        )
    return get(call)


def delete(call: Call) -> dict[str, Any]:
    row = find(call, call.text("model_id", required=True, limit=limits.TRACK_KEY), Need.WRITE)
    with call.ctx.store.transaction():
        call.ctx.store.delete_logged_model(row["id"])
        call.ctx.store.append_audit(
            call.who.user, "mlflow.model.delete", f"{call.project}/{row['id']}", {"name": row["name"]}
        )
    return {}


def _update_map(call: Call, column: str, changes: dict[str, str | None]) -> dict[str, Any]:
    row = find(call, call.text("model_id", required=True, limit=limits.TRACK_KEY), Need.WRITE)
    current: dict[str, str] = json.loads(row[f"{column}_json"])
    for k, v in changes.items():
        if v is None:
            current.pop(k, None)
        else:
            current[k] = v
    limit = limits.RUN_TAGS.most if column == "tags" else MAX_PARAMS
    if len(current) > limit:
        raise InvalidArgument(f"a logged model holds at most {limit} {column}")
    with call.ctx.store.transaction():
        call.ctx.store.update_logged_model(row["id"], clock.now(), **{column: current})
        call.ctx.store.append_audit(
            call.who.user, f"mlflow.model.{column}", f"{call.project}/{row['id']}", {"changed": sorted(changes)}
        )
    return {}


def set_tags(call: Call) -> dict[str, Any]:
    return _update_map(call, "tags", dict(call.tags()))


def delete_tag(call: Call) -> dict[str, Any]:
    return _update_map(call, "tags", {call.text("tag_key", required=True, limit=limits.TRACK_KEY): None})


def log_params(call: Call) -> dict[str, Any]:
    return _update_map(call, "params", dict(call.tags("params", MAX_PARAMS)))


def search(call: Call) -> dict[str, Any]:
    from . import experiments

    ids = call.strings("experiment_ids", limit=limits.TRACK_KEY) or [experiments.DEFAULT]
    for experiment in ids:
        experiments.find(call, experiment)
    size = call.integer("max_results", DEFAULT_RESULTS, 1, MAX_RESULTS)
    after = call.integer("page_token", 0)
    keep = simple_filter(
        call.text("filter", limit=limits.TRACK_VALUE),
        {
            "name": lambda r: r["name"],
            "model_id": lambda r: r["id"],
            "source_run_id": lambda r: r["source_run"],
            "model_type": lambda r: r["model_type"],
            "status": lambda r: r["status"],
        },
        lambda r: json.loads(r["tags_json"]),
    )
    rows = [r for r in call.ctx.store.logged_models(call.project, ids) if keep(r)]
    for order in reversed(call.objects("order_by", 10)):
        key = str(order.get("field_name") or "creation_timestamp")
        column = {"creation_timestamp": "created_at", "last_updated_timestamp": "updated_at"}.get(key, key)
        if column not in ("created_at", "updated_at", "name", "model_type", "status"):
            raise InvalidArgument(f"cannot order logged models by {key!r}")
        rows.sort(key=lambda r: r[column], reverse=not order.get("ascending", True))
    reply: dict[str, Any] = {"models": [model_json(r) for r in rows[after : after + size]]}
    if after + size < len(rows):
        reply["next_page_token"] = str(after + size)
    return reply


def list_artifacts(call: Call) -> dict[str, Any]:
    row = find(call, call.text("model_id", required=True, limit=limits.TRACK_KEY))
    under = call.text("artifact_directory_path", limit=limits.PATH).strip("/")
    target = artifacts.resolve(
        call.ctx, call.who, call.project, "/".join(p for p in ("models", row["id"], under) if p), Need.READ
    )
    files = artifacts.listing(call.ctx, call.project, target)
    for f in files:
        f["path"] = f"{under}/{f['path']}" if under else f["path"]
    return {"root_uri": artifacts.model_uri(row["id"]), "files": files}


def log_outputs(call: Call) -> dict[str, Any]:
    from . import runs

    run = runs.find(call, call.text("run_id", required=True, limit=limits.TRACK_KEY), Need.WRITE)
    outputs = call.objects("models", MAX_OUTPUTS)
    found = [(find(call, str(o.get("model_id") or ""), Need.WRITE), int(o.get("step") or 0)) for o in outputs]
    now = clock.now()
    with call.ctx.store.transaction():
        for row, step in found:
            call.ctx.store.update_logged_model(row["id"], now, run_id=run.id, step=step)
        call.ctx.store.append_audit(
            call.who.user, "mlflow.run.outputs", run.id, {"models": [row["id"] for row, _ in found]}
        )
    return {}


# -- the registry's and logged models' search filters ----------------------------------------------------

_CONDITION = re.compile(
    r"""\s*(?P<key>(?:tags?\.)?(?:`[^`]+`|"[^"]+"|[\w.]+))\s*(?P<op>!=|<>|==|=|\bI?LIKE\b)\s*"""
    r"""(?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+)\s*(?:\bAND\b|\Z)""",
    re.I,
)


def simple_filter(
    text: str, fields: dict[str, Callable[[Any], str]], tags: Callable[[Any], dict[str, str]]
) -> Callable[[Any], bool]:
    """A predicate for `text`: conditions `FIELD op 'value'` or `tags.KEY op 'value'` joined by AND."""
    tests: list[Callable[[Any], bool]] = []
    at, text = 0, text.strip()
    while at < len(text):
        m = _CONDITION.match(text, at)
        if m is None:
            raise InvalidArgument(
                f"invalid filter {text!r} at {text[at : at + 30]!r}: use conditions like name = 'x' or "
                f"tags.k LIKE 'v%' joined by AND, on {', '.join(sorted(fields))} or tags"
            )
        at = m.end()
        tests.append(_test(m.group("key"), m.group("op").upper(), m.group("value"), fields, tags))
    return lambda row: all(t(row) for t in tests)


def _test(
    key: str, op: str, raw: str, fields: dict[str, Callable[[Any], str]], tags: Callable[[Any], dict[str, str]]
) -> Callable[[Any], bool]:
    value = re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw[0] in "'\"" else raw
    head, dot, rest = key.partition(".")
    if dot and head.lower() in ("tag", "tags"):
        tag = rest.strip('`"')

        def get(row: Any) -> str | None:
            return tags(row).get(tag)
    elif key.strip('`"') in fields:
        field = fields[key.strip('`"')]

        def get(row: Any) -> str | None:
            return str(field(row))
    else:
        raise InvalidArgument(f"cannot filter on {key!r}; use {', '.join(sorted(fields))} or tags.KEY")
    if op in ("LIKE", "ILIKE"):
        pattern = re.compile(
            "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in value) + r"\Z",
            re.I | re.S if op == "ILIKE" else re.S,
        )
        return lambda row: (v := get(row)) is not None and pattern.match(v) is not None
    if op in ("!=", "<>"):
        return lambda row: get(row) != value  # a missing tag differs too (how the client leaves prompts out)
    return lambda row: get(row) == value


_MODEL = "logged-models/{model_id}"
ENDPOINTS = [
    Endpoint("POST", "logged-models", create),
    Endpoint("POST", "logged-models/search", search),
    Endpoint("GET", _MODEL, get),
    Endpoint("PATCH", _MODEL, finalize),
    Endpoint("DELETE", _MODEL, delete),
    Endpoint("PATCH", f"{_MODEL}/tags", set_tags),
    Endpoint("DELETE", f"{_MODEL}/tags/{{tag_key:path}}", delete_tag),
    Endpoint("POST", f"{_MODEL}/params", log_params),
    Endpoint("GET", f"{_MODEL}/artifacts/directories", list_artifacts),
    Endpoint("POST", "runs/outputs", log_outputs),
]
