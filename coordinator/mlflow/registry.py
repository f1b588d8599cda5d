"""MLflow's model registry as Kiln's: a registered model is a Kiln model of the project (MLflow's description
and tags kept beside it), a model version is a real Kiln version — a snapshot of the source's artifacts,
with its lineage edge from the run and its audit record (coordinator.registry.add_version) — and aliases
are Kiln's aliases, so `production` moves only through an approval request.

What Kiln does not do the MLflow way is refused with a reason, never faked: versions and models with
versions are not deleted or renamed (lineage and deployments name them), an alias is moved rather than
deleted, and setting `production` answers PERMISSION_DENIED naming the approval request it opened.
Stages map onto aliases: a version's stage is Production or Staging when that alias points at it, and a
stage transition is the alias move.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from kiln.coordinator import registry
from kiln.coordinator.access import require_project
from kiln.core import clock, limits
from kiln.core.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from kiln.core.models import ModelVersion
from kiln.core.names import check_name
from kiln.core.permissions import Need

from . import artifacts, logged_models, runs
from .protocol import DEFAULT_RESULTS, MAX_RESULTS, Call, Endpoint, MlflowError, ms

MODEL_FOLDER = "model"  # where a logged model's files sit in its version's snapshot (a version's path is never "")
STAGES = {"production": "Production", "staging": "Staging"}  # aliases shown as MLflow's stages
MAX_SEARCH = MAX_RESULTS


def _name(call: Call, field: str = "name") -> str:
    return check_name("model", call.text(field, required=True, limit=limits.TRACK_KEY))


def _number(call: Call) -> int:
    return call.integer("version", lo=1, hi=2**31)


def _versions(call: Call, name: str) -> list[ModelVersion]:
    require_project(call.ctx.store, call.who, Need.READ, call.project)
    if not call.ctx.store.model_versions(call.project, name, limit=1):
        return []
    return registry.versions(call.ctx, call.who, call.project, name)


def _meta(call: Call, name: str, need: Need = Need.READ) -> tuple[dict[str, Any] | None, list[ModelVersion]]:
    """The model's MLflow row and Kiln versions; NotFound when it has neither."""
    require_project(call.ctx.store, call.who, need, call.project)
    row = call.ctx.store.registered_model(call.project, name)
    found = _versions(call, name)
    if row is None and not found:
        raise NotFound(f"registered model {name!r} not found in project {call.project!r}")
    return row, found


def _version(call: Call, name: str, number: int) -> ModelVersion:
    for v in _meta(call, name)[1]:
        if v.version == number:
            return v
    raise NotFound(f"model version {name!r} {number} not found in project {call.project!r}")


def _stage(v: ModelVersion) -> str:
    return next((STAGES[a] for a in ("production", "staging") if a in v.aliases), "None")


def version_json(call: Call, v: ModelVersion, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    if meta is None:
        meta = call.ctx.store.version_meta(call.project, v.name, v.version)
    tags = json.loads(meta["tags_json"]) if meta else dict(v.tags)
    out: dict[str, Any] = {
        "name": v.name,
        "version": str(v.version),
        "creation_timestamp": ms(v.created_at),
        "last_updated_timestamp": ms(max(v.created_at, meta["updated_at"] if meta else 0)),
        "user_id": v.created_by,
        "current_stage": _stage(v),
        "description": meta["description"] if meta else "",
        "source": meta["source"] if meta else f"runs:/{v.run_id}/{v.path}",
        "run_id": v.run_id,
        "status": "READY",
        "tags": [{"key": k, "value": val} for k, val in sorted(tags.items())],
        "aliases": list(v.aliases),
    }
    if meta and meta["model_id"]:
        out["model_id"] = meta["model_id"]
    return out


def model_json(call: Call, name: str, row: dict[str, Any] | None, found: list[ModelVersion]) -> dict[str, Any]:
    metas = call.ctx.store.versions_meta(call.project, name)
    created = row["created_at"] if row else min(v.created_at for v in found)
    updated = max([row["updated_at"] if row else 0, *(v.created_at for v in found)])
    latest: dict[str, ModelVersion] = {}
    for v in found:
        latest[_stage(v)] = v
    out: dict[str, Any] = {
        "name": name,
        "creation_timestamp": ms(created),
        "last_updated_timestamp": ms(updated),
        "description": row["description"] if row else "",
        "latest_versions": [version_json(call, v, metas.get(v.version)) for v in latest.values()],
        "tags": [{"key": k, "value": v} for k, v in sorted(json.loads(row["tags_json"]).items())] if row else [],
        "aliases": [
            {"alias": a, "version": str(n)} for a, n in sorted(call.ctx.store.aliases(call.project, name).items())
        ],
    }
    return out


def _put(call: Call, name: str, row: dict[str, Any] | None, action: str, **changes: Any) -> None:
    description = changes.get("description", row["description"] if row else "")
    tags = changes.get("tags", json.loads(row["tags_json"]) if row else {})
    limits.MODEL_TAGS.check(tags)
    with call.ctx.store.transaction():
        call.ctx.store.put_registered_model(call.project, name, description, tags, clock.now())
        call.ctx.store.append_audit(call.who.user, action, f"{call.project}/{name}", {"changed": sorted(changes)})


# -- registered models -----------------------------------------------------------------------------------


def create_model(call: Call) -> dict[str, Any]:
    name = _name(call)
    require_project(call.ctx.store, call.who, Need.WRITE, call.project)
    if call.ctx.store.registered_model(call.project, name) or _versions(call, name):
        raise AlreadyExists(f"registered model {name!r} already exists in project {call.project!r}")
    tags = call.tags()
    limits.MODEL_TAGS.check(tags)
    description = call.text("description", limit=limits.MESSAGE)
    with call.ctx.store.transaction():
        call.ctx.store.put_registered_model(call.project, name, description, tags, clock.now())
        call.ctx.store.append_audit(call.who.user, "model.create", f"{call.project}/{name}", {"via": "mlflow"})
    return get_model(call)


def get_model(call: Call) -> dict[str, Any]:
    name = _name(call)
    row, found = _meta(call, name)
    return {"registered_model": model_json(call, name, row, found)}


def update_model(call: Call) -> dict[str, Any]:
    name = _name(call)
    row, _ = _meta(call, name, Need.WRITE)
    _put(call, name, row, "model.update", description=call.text("description", limit=limits.MESSAGE))
    return get_model(call)


def rename_model(call: Call) -> dict[str, Any]:
    name, new_name = _name(call), _name(call, "new_name")
    row, found = _meta(call, name, Need.WRITE)
    if found:
        raise FailedPrecondition(
            f"model {name!r} has registered versions; Kiln model names are permanent (lineage and deployments "
            f"name them): register under {new_name!r} instead"
        )
    if call.ctx.store.registered_model(call.project, new_name) or _versions(call, new_name):
        raise AlreadyExists(f"registered model {new_name!r} already exists in project {call.project!r}")
    with call.ctx.store.transaction():
        call.ctx.store.rename_registered_model(call.project, name, new_name, clock.now())
        call.ctx.store.append_audit(call.who.user, "model.rename", f"{call.project}/{name}", {"new_name": new_name})
    return {"registered_model": model_json(call, new_name, call.ctx.store.registered_model(call.project, new_name), [])}


def delete_model(call: Call) -> dict[str, Any]:
    name = _name(call)
    _, found = _meta(call, name, Need.WRITE)
    if found:
        raise FailedPrecondition(
            f"model {name!r} has {len(found)} registered version(s); Kiln keeps registered versions (their "
            "lineage and audit trail), so the model cannot be deleted"
        )
    with call.ctx.store.transaction():
        call.ctx.store.delete_registered_model(call.project, name)
        call.ctx.store.append_audit(call.who.user, "model.delete", f"{call.project}/{name}", {"via": "mlflow"})
    return {}


def _all_names(call: Call) -> list[str]:
    require_project(call.ctx.store, call.who, Need.READ, call.project)
    names = {r["name"] for r in call.ctx.store.registered_models(call.project)}
    names |= {r["name"] for r in call.ctx.store.model_versions(call.project)}
    return sorted(names)


def _page(call: Call, items: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    size = call.integer("max_results", min(DEFAULT_RESULTS, MAX_SEARCH), 1, MAX_SEARCH)
    after = call.integer("page_token", 0)
    more = {"next_page_token": str(after + size)} if after + size < len(items) else {}
    return items[after : after + size], more


def _order(call: Call, items: list[dict[str, Any]], default: str) -> list[dict[str, Any]]:
    for clause in reversed(call.strings("order_by", 10) or [default]):
        key, _, direction = clause.strip().partition(" ")
        key = key.strip("`").removeprefix("attributes.").removeprefix("attribute.")
        column = {"timestamp": "last_updated_timestamp", "version": "version_number"}.get(key, key)
        if column not in ("name", "creation_timestamp", "last_updated_timestamp", "version_number"):
            raise InvalidArgument(f"cannot order by {key!r}; use name, creation_timestamp or last_updated_timestamp")

        def value(item: dict[str, Any], column: str = column) -> Any:
            return int(item["version"]) if column == "version_number" else item.get(column, "")

        items.sort(key=value, reverse=direction.strip().upper() == "DESC")
    return items


def search_models(call: Call) -> dict[str, Any]:
    keep = logged_models.simple_filter(call.text("filter"), {"name": lambda r: r["name"]}, lambda r: r["tags"])
    found = []
    for name in _all_names(call):
        model = model_json(call, name, *_meta(call, name))
        if keep({"name": name, "tags": {t["key"]: t["value"] for t in model["tags"]}}):
            found.append(model)
    page, more = _page(call, _order(call, found, "name ASC"))
    return {"registered_models": page, **more}


def set_model_tag(call: Call) -> dict[str, Any]:
    name = _name(call)
    row, _ = _meta(call, name, Need.WRITE)
    tags = json.loads(row["tags_json"]) if row else {}
    tags[call.text("key", required=True, limit=limits.TRACK_KEY)] = call.text("value")
    _put(call, name, row, "model.tag", tags=tags)
    return {}


def delete_model_tag(call: Call) -> dict[str, Any]:
    name = _name(call)
    row, _ = _meta(call, name, Need.WRITE)
    tags = json.loads(row["tags_json"]) if row else {}
    if tags.pop(call.text("key", required=True, limit=limits.TRACK_KEY), None) is None:
        raise NotFound(f"registered model {name!r} has no tag {call.text('key')!r}")
    _put(call, name, row, "model.tag", tags=tags)
    return {}


def latest_versions(call: Call) -> dict[str, Any]:
    name = _name(call)
    row, found = _meta(call, name)
    latest = model_json(call, name, row, found)["latest_versions"]
    stages = {s.lower() for s in call.strings("stages", 10)}
    return {"model_versions": [v for v in latest if not stages or v["current_stage"].lower() in stages]}


# -- model versions -----------------------------------------------------------------------------------------


def _source(call: Call, source: str, run_id: str, model_id: str) -> tuple[str, str, str, str]:
    """(run id, snapshot id, path in it, logged model id) of what a version is registered from."""
    ctx, who, project = call.ctx, call.who, call.project
    parsed = urlparse(source)
    inner = parsed.path.strip("/")
    if parsed.scheme == "models" and inner.startswith("m-") and "/" not in inner:
        model_id = model_id or inner
    elif parsed.scheme == "mlflow-artifacts" and inner.startswith("models/"):
        model_id = model_id or inner.split("/")[1]
    if model_id:
        model = logged_models.find(call, model_id, Need.READ)
        owner_run = model["source_run"] or model["run_id"] or run_id
        if not owner_run:
            raise FailedPrecondition(
                f"logged model {model_id} belongs to no run; Kiln versions come from runs: log the model "
                "inside mlflow.start_run()"
            )
        runs.find(call, owner_run, Need.WRITE)
        if not artifacts.has_artifacts(ctx, model_id):
            raise FailedPrecondition(f"logged model {model_id} has no artifacts to register yet")
        return owner_run, artifacts.snapshot_of(ctx, who, project, model_id, root=MODEL_FOLDER), MODEL_FOLDER, model_id
    if parsed.scheme == "runs":
        run_part, _, path = inner.partition("/")
    elif parsed.scheme == "mlflow-artifacts" and inner.startswith("runs/"):
        _, run_part, path = (inner.split("/", 2) + [""])[:3]
    else:
        raise InvalidArgument(
            f"cannot register from {source!r}: Kiln registers versions from runs:/RUN_ID/PATH, models:/MODEL_ID "
            "or this project's mlflow-artifacts:/ locations"
        )
    run = runs.find(call, run_part or run_id, Need.WRITE)
    path = path.strip("/")
    if artifacts.has_artifacts(ctx, run.id, path) if path else artifacts.has_artifacts(ctx, run.id):
        if path:
            return run.id, artifacts.snapshot_of(ctx, who, project, run.id), path, ""
        return run.id, artifacts.snapshot_of(ctx, who, project, run.id, root=MODEL_FOLDER), MODEL_FOLDER, ""
    if path and run.output_snapshot and _holds(ctx.store.manifest(project, run.output_snapshot), path):
        return run.id, run.output_snapshot, path, ""  # a `kiln run`'s output, as `kiln model register` takes it
    raise NotFound(f"run {run.id} has no artifacts at {path or 'its root'!r}")


def _holds(entries: list[Any], path: str) -> bool:
    return any(e.path == path or e.path.startswith(path + "/") for e in entries)


def create_version(call: Call) -> dict[str, Any]:
    name = _name(call)
    require_project(call.ctx.store, call.who, Need.WRITE, call.project)
    source = call.text("source", required=True, limit=limits.TRACK_VALUE)
    tags = call.tags()
    limits.MODEL_TAGS.check(tags)
    description = call.text("description", limit=limits.MESSAGE)
    run_id, snapshot, path, model_id = _source(
        call, source, call.text("run_id", limit=limits.TRACK_KEY), call.text("model_id", limit=limits.TRACK_KEY)
    )
    if call.ctx.store.registered_model(call.project, name) is None:
        call.ctx.store.put_registered_model(call.project, name, "", {}, clock.now())
    details = {"via": "mlflow", "source": source, **({"logged_model": model_id} if model_id else {})}
    number = registry.add_version(call.ctx, call.who, call.project, name, run_id, path, snapshot, tags, details)
    call.ctx.store.put_version_meta(call.project, name, number, description, source, tags, model_id, clock.now())
    return {"model_version": version_json(call, _version(call, name, number))}


def get_version(call: Call) -> dict[str, Any]:
    return {"model_version": version_json(call, _version(call, _name(call), _number(call)))}


def _change_version(call: Call, action: str, **changes: Any) -> ModelVersion:
    name, number = _name(call), _number(call)
    require_project(call.ctx.store, call.who, Need.WRITE, call.project)
    v = _version(call, name, number)
    meta = call.ctx.store.version_meta(call.project, name, number)
    description = changes.get("description", meta["description"] if meta else "")
    tags = changes.get("tags", json.loads(meta["tags_json"]) if meta else dict(v.tags))
    limits.MODEL_TAGS.check(tags)
    source = meta["source"] if meta else f"runs:/{v.run_id}/{v.path}"
    with call.ctx.store.transaction():
        call.ctx.store.put_version_meta(
            call.project, name, number, description, source, tags, meta["model_id"] if meta else "", clock.now()
        )
        call.ctx.store.append_audit(
            call.who.user, action, f"{call.project}/{name}@{number}", {"changed": sorted(changes)}
        )
    return v


def update_version(call: Call) -> dict[str, Any]:
    v = _change_version(call, "model.version.update", description=call.text("description", limit=limits.MESSAGE))
    return {"model_version": version_json(call, v)}


def set_version_tag(call: Call) -> dict[str, Any]:
    meta = call.ctx.store.version_meta(call.project, _name(call), _number(call))
    v = _version(call, _name(call), _number(call))
    tags = json.loads(meta["tags_json"]) if meta else dict(v.tags)
    tags[call.text("key", required=True, limit=limits.TRACK_KEY)] = call.text("value")
    _change_version(call, "model.version.tag", tags=tags)
    return {}


def delete_version_tag(call: Call) -> dict[str, Any]:
    meta = call.ctx.store.version_meta(call.project, _name(call), _number(call))
    v = _version(call, _name(call), _number(call))
    tags = json.loads(meta["tags_json"]) if meta else dict(v.tags)
    if tags.pop(call.text("key", required=True, limit=limits.TRACK_KEY), None) is None:
        raise NotFound(f"model version {v.name} {v.version} has no tag {call.text('key')!r}")
    _change_version(call, "model.version.tag", tags=tags)
    return {}


def delete_version(call: Call) -> dict[str, Any]:
    v = _version(call, _name(call), _number(call))
    raise FailedPrecondition(
        f"Kiln keeps every registered version (lineage, audit, deployments): {v.name} version {v.version} "
        "cannot be deleted; move its aliases elsewhere instead"
    )


def search_versions(call: Call) -> dict[str, Any]:
    keep = logged_models.simple_filter(
        call.text("filter"),
        {
            "name": lambda r: r["name"],
            "run_id": lambda r: r["run_id"],
            "source_path": lambda r: r["source"],
            "version_number": lambda r: r["version"],
            "model_id": lambda r: r.get("model_id", ""),
        },
        lambda r: {t["key"]: t["value"] for t in r["tags"]},
    )
    found = []
    for name in _all_names(call):
        metas = call.ctx.store.versions_meta(call.project, name)
        found += [j for v in _versions(call, name) if keep(j := version_json(call, v, metas.get(v.version)))]
    page, more = _page(call, _order(call, found, "version_number DESC"))
    return {"model_versions": page, **more}


def download_uri(call: Call) -> dict[str, Any]:
    v = _version(call, _name(call), _number(call))
    return {"artifact_uri": artifacts.version_uri(v.name, v.version)}


# -- aliases and stages ---------------------------------------------------------------------------------------


def _move(call: Call, name: str, number: int, alias: str) -> None:
    request = registry.request_alias(
        call.ctx, call.who, call.project, name, number, alias, f"requested through MLflow by {call.who.user}"
    )
    if request.state == "open":
        review = f"kiln model review {name} " + str(number) + f" --approve -p {call.project}"
        raise MlflowError(
            "PERMISSION_DENIED",
            403,
            f"moving alias {alias!r} of model {name!r} to version {number} needs approval: approval request "
            f"{request.id} opened ({request.required_approvals} approval(s) needed); a validator approves it "
            f"with `{review}`",
        )


def set_alias(call: Call) -> dict[str, Any]:
    name = _name(call)
    alias = check_name("alias", call.text("alias", required=True, limit=limits.TRACK_KEY))
    _move(call, name, _number(call), alias)
    return {}


def delete_alias(call: Call) -> dict[str, Any]:
    name = _name(call)
    alias = call.text("alias", required=True, limit=limits.TRACK_KEY)
    _meta(call, name, Need.WRITE)
    if alias not in call.ctx.store.aliases(call.project, name):
        raise NotFound(f"registered model {name!r} has no alias {alias!r}")
    raise FailedPrecondition(
        f"Kiln keeps alias {alias!r} with its history; move it to another version (set it again) instead of deleting it"
    )


def by_alias(call: Call) -> dict[str, Any]:
    name = _name(call)
    alias = call.text("alias", required=True, limit=limits.TRACK_KEY)
    _meta(call, name)
    number = call.ctx.store.aliases(call.project, name).get(alias)
    if number is None:
        raise NotFound(f"registered model {name!r} has no alias {alias!r}")
    return {"model_version": version_json(call, _version(call, name, number))}


def transition_stage(call: Call) -> dict[str, Any]:
    name, number = _name(call), _number(call)
    stage = call.text("stage", required=True, limit=limits.TRACK_KEY)
    alias = {"production": "production", "staging": "staging"}.get(stage.lower())
    if alias is None:
        raise FailedPrecondition(
            f"Kiln has no stage {stage!r}: stages are aliases here (Staging, Production); move those instead"
        )
    _move(call, name, number, alias)
    return {"model_version": version_json(call, _version(call, name, number))}


_RM, _MV = "registered-models", "model-versions"
ENDPOINTS = [
    Endpoint("POST", f"{_RM}/create", create_model),
    Endpoint("GET", f"{_RM}/get", get_model),
    Endpoint("POST", f"{_RM}/rename", rename_model),
    Endpoint("PATCH", f"{_RM}/update", update_model),
    Endpoint("DELETE", f"{_RM}/delete", delete_model),
    Endpoint("GET", f"{_RM}/search", search_models),
    Endpoint("POST", f"{_RM}/set-tag", set_model_tag),
    Endpoint("DELETE", f"{_RM}/delete-tag", delete_model_tag),
    Endpoint("POST", f"{_RM}/get-latest-versions", latest_versions),
    Endpoint("GET", f"{_RM}/get-latest-versions", latest_versions),
    Endpoint("POST", f"{_RM}/alias", set_alias),
    Endpoint("DELETE", f"{_RM}/alias", delete_alias),
    Endpoint("GET", f"{_RM}/alias", by_alias),
    Endpoint("POST", f"{_MV}/create", create_version),
    Endpoint("GET", f"{_MV}/get", get_version),
    Endpoint("PATCH", f"{_MV}/update", update_version),
    Endpoint("DELETE", f"{_MV}/delete", delete_version),
    Endpoint("GET", f"{_MV}/search", search_versions),
    Endpoint("POST", f"{_MV}/set-tag", set_version_tag),
    Endpoint("DELETE", f"{_MV}/delete-tag", delete_version_tag),
    Endpoint("GET", f"{_MV}/get-download-uri", download_uri),
    Endpoint("POST", f"{_MV}/transition-stage", transition_stage),
]
