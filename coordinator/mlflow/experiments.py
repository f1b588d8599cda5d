"""MLflow experiments inside the tracking URI's project. Experiment "0" (MLflow's Default) is the project
itself: it holds every run not placed elsewhere (all of `kiln run`'s), is named after the project (and
answers to "Default" too, so code that asks for it by name finds it), and can be neither renamed nor
deleted. Other experiments are named groups of the project's runs, numbered from 1."""

from __future__ import annotations

import json
import re
from typing import Any

from kiln.coordinator.access import require_project
from kiln.core import clock, limits
from kiln.core.errors import AlreadyExists, InvalidArgument, NotFound
from kiln.core.permissions import Need

from .protocol import Call, Endpoint, ms

DEFAULT = "0"
DEFAULT_NAMES = ("Default",)
VIEW_TYPES = {"ACTIVE_ONLY": "active", "DELETED_ONLY": "deleted", "ALL": ""}
_NAME_FILTER = re.compile(
    r"""^\s*(?:attribute\.|attributes\.)?name\s*(=|!=|LIKE|ILIKE)\s*'((?:[^'\\]|\\.)*)'\s*$""", re.I
)


def experiment_json(project: str, row: dict[str, Any] | None, created_at: float = 0.0) -> dict[str, Any]:
    """An experiment as MLflow answers it (row None: the default experiment of `project`)."""
    if row is None:
        return {
            "experiment_id": DEFAULT,
            "name": project,
            "artifact_location": "mlflow-artifacts:/runs",
            "lifecycle_stage": "active",
            "creation_time": ms(created_at),
            "last_update_time": ms(created_at),
            "tags": [],
        }
    tags = json.loads(row["tags_json"])
    return {
        "experiment_id": row["id"],
        "name": row["name"],
        "artifact_location": "mlflow-artifacts:/runs",
        "lifecycle_stage": row["lifecycle"],
        "creation_time": ms(row["created_at"]),
        "last_update_time": ms(row["updated_at"]),
        "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())],
    }


def find(call: Call, experiment_id: str, need: Need = Need.READ) -> dict[str, Any] | None:
    """The experiment's row (None for "0"), after checking the caller may `need` the project."""
    require_project(call.ctx.store, call.who, need, call.project)
    if experiment_id == DEFAULT:
        return None
    row = call.ctx.store.experiment(call.project, experiment_id)
    if row is None:
        raise NotFound(f"no experiment with id {experiment_id!r} in project {call.project!r}")
    return row


def check_open(row: dict[str, Any] | None) -> None:
    """Refuses new runs in a deleted experiment, as MLflow does."""
    if row is not None and row["lifecycle"] != "active":
        raise InvalidArgument(f"experiment {row['id']} ({row['name']}) is deleted; restore it to log into it")


def _created(call: Call) -> float:
    project = require_project(call.ctx.store, call.who, Need.READ, call.project)
    return project.created_at


def create(call: Call) -> dict[str, Any]:
    name = call.text("name", required=True, limit=limits.TRACK_KEY).strip()
    tags = call.tags()
    require_project(call.ctx.store, call.who, Need.WRITE, call.project)
    store = call.ctx.store
    if name == call.project or name in DEFAULT_NAMES or store.experiment_named(call.project, name):
        raise AlreadyExists(f"experiment {name!r} already exists in project {call.project!r}")
    now = clock.now()
    with store.transaction():
        taken = [int(r["id"]) for r in store.experiments(call.project) if r["id"].isdigit()]
        experiment_id = str(max(taken, default=0) + 1)
        store.add_experiment(call.project, experiment_id, name, tags, now)
        store.append_audit(call.who.user, "experiment.create", f"{call.project}/{experiment_id}", {"name": name})
    return {"experiment_id": experiment_id}


def get(call: Call) -> dict[str, Any]:
    experiment_id = call.text("experiment_id", required=True, limit=limits.TRACK_KEY)
    row = find(call, experiment_id)
    return {"experiment": experiment_json(call.project, row, _created(call) if row is None else 0.0)}


def get_by_name(call: Call) -> dict[str, Any]:
    name = call.text("experiment_name", required=True, limit=limits.TRACK_KEY)
    require_project(call.ctx.store, call.who, Need.READ, call.project)
    if name == call.project or name in DEFAULT_NAMES:
        return {"experiment": experiment_json(call.project, None, _created(call))}
    row = call.ctx.store.experiment_named(call.project, name)
    if row is None:
        raise NotFound(f"no experiment named {name!r} in project {call.project!r}")
    return {"experiment": experiment_json(call.project, row)}


def search(call: Call) -> dict[str, Any]:
    view = VIEW_TYPES.get((call.text("view_type") or "ACTIVE_ONLY").upper())
    if view is None:
        raise InvalidArgument(f"unknown view_type {call.text('view_type')!r}; use ACTIVE_ONLY, DELETED_ONLY or ALL")
    size = call.integer("max_results", default=1000, lo=1, hi=50_000)
    after = call.integer("page_token", default=0, lo=0)
    matches = _name_matcher(call.text("filter", limit=limits.FILTER))
    found = [experiment_json(call.project, None, _created(call))]
    found += [experiment_json(call.project, r) for r in call.ctx.store.experiments(call.project)]
    kept = [e for e in found if (not view or e["lifecycle_stage"] == view) and matches(e["name"])]
    page = kept[after : after + size]
    reply: dict[str, Any] = {"experiments": page}
    if after + size < len(kept):
        reply["next_page_token"] = str(after + size)
    return reply


def _name_matcher(text: str) -> Any:
    if not text.strip():
        return lambda name: True
    m = _NAME_FILTER.match(text)
    if m is None:
        raise InvalidArgument(
            f"invalid experiment filter {text!r}: Kiln filters experiments by name only (name = 'x', name LIKE 'x%')"
        )
    op, value = m.group(1).upper(), re.sub(r"\\(.)", r"\1", m.group(2))
    if op in ("LIKE", "ILIKE"):
        pattern = re.compile(
            "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in value) + r"\Z",
            re.I if op == "ILIKE" else 0,
        )
        return lambda name: pattern.match(name) is not None
    return (lambda name: name == value) if op == "=" else (lambda name: name != value)


def update(call: Call) -> dict[str, Any]:
    experiment_id = call.text("experiment_id", required=True, limit=limits.TRACK_KEY)
    new_name = call.text("new_name", limit=limits.TRACK_KEY).strip()
    row = _changeable(call, experiment_id)
    store = call.ctx.store
    if new_name and new_name != row["name"]:
        if new_name == call.project or new_name in DEFAULT_NAMES or store.experiment_named(call.project, new_name):
            raise AlreadyExists(f"experiment {new_name!r} already exists in project {call.project!r}")
        with store.transaction():
            store.update_experiment(call.project, experiment_id, clock.now(), name=new_name)
            store.append_audit(
                call.who.user, "experiment.rename", f"{call.project}/{experiment_id}", {"name": new_name}
            )
    return {}


def _lifecycle(call: Call, lifecycle: str, action: str) -> dict[str, Any]:
    experiment_id = call.text("experiment_id", required=True, limit=limits.TRACK_KEY)
    _changeable(call, experiment_id)
    store = call.ctx.store
    with store.transaction():
        store.update_experiment(call.project, experiment_id, clock.now(), lifecycle=lifecycle)
        store.append_audit(call.who.user, action, f"{call.project}/{experiment_id}", {})
    return {}


def delete(call: Call) -> dict[str, Any]:
    return _lifecycle(call, "deleted", "experiment.delete")


def restore(call: Call) -> dict[str, Any]:
    return _lifecycle(call, "active", "experiment.restore")


def _changeable(call: Call, experiment_id: str) -> dict[str, Any]:
    if experiment_id == DEFAULT:
        raise InvalidArgument(
            f"experiment 0 is project {call.project!r} itself; it cannot be renamed or deleted "
            f"(kiln project archive {call.project})"
        )
    row = find(call, experiment_id, Need.WRITE)
    assert row is not None
    return row


def set_tag(call: Call) -> dict[str, Any]:
    experiment_id = call.text("experiment_id", required=True, limit=limits.TRACK_KEY)
    key = call.text("key", required=True, limit=limits.TRACK_KEY)
    value = call.text("value")
    return _retag(call, experiment_id, key, value)


def delete_tag(call: Call) -> dict[str, Any]:
    experiment_id = call.text("experiment_id", required=True, limit=limits.TRACK_KEY)
    key = call.text("key", required=True, limit=limits.TRACK_KEY)
    return _retag(call, experiment_id, key, None)


def _retag(call: Call, experiment_id: str, key: str, value: str | None) -> dict[str, Any]:
    row = _changeable(call, experiment_id)
    tags = json.loads(row["tags_json"])
    if value is None:
        tags.pop(key, None)
    else:
        tags[key] = value
    limits.RUN_TAGS.check(list(tags), field="experiment tags")
    store = call.ctx.store
    with store.transaction():
        store.update_experiment(call.project, experiment_id, clock.now(), tags=tags)
        store.append_audit(call.who.user, "experiment.tag", f"{call.project}/{experiment_id}", {"key": key})
    return {}


ENDPOINTS = [
    Endpoint("POST", "experiments/create", create),
    Endpoint("GET", "experiments/get", get),
    Endpoint("GET", "experiments/get-by-name", get_by_name),
    Endpoint("POST", "experiments/search", search),
    Endpoint("GET", "experiments/search", search),
    Endpoint("POST", "experiments/update", update),
    Endpoint("POST", "experiments/delete", delete),
    Endpoint("POST", "experiments/restore", restore),
    Endpoint("POST", "experiments/set-experiment-tag", set_tag),
    Endpoint("POST", "experiments/delete-experiment-tag", delete_tag),
]
