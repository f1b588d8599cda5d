"""The model registry: versions registered from runs' outputs, aliases (staging, production, free names),
and the approval flow that alone moves `production`."""

from __future__ import annotations

import json
import secrets
from typing import Any

from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.runs import get_run
from kiln.core import clock, limits, lineage
from kiln.core.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from kiln.core.manifest import Entry
from kiln.core.models import AliasMove, AliasRequest, Model, ModelVersion
from kiln.core.names import check_name
from kiln.core.paging import EVERY_ROW, Page, PageRequest, page_of
from kiln.core.permissions import Need, Principal, Role

GUARDED_ALIAS = "production"
MAX_APPROVALS = 10


def register(ctx: Coordinator, who: Principal, run_id: str, path: str, name: str, tags: dict[str, str]) -> ModelVersion:
    """Version N of model `name` from `path` in a finished run's output snapshot."""
    check_name("model", name)
    limits.PATH.check(path, field="model path")
    limits.MODEL_TAGS.check(tags)
    run = get_run(ctx, who, run_id)
    project = run.spec.project
    require_project(ctx.store, who, Need.WRITE, project)
    if not run.output_snapshot:
        raise FailedPrecondition(f"run {run_id} has no output snapshot ({run.state}); register from a finished run")
    path = path.strip("/")
    if not any(_under(e, path) for e in ctx.store.manifest(project, run.output_snapshot)):
        raise NotFound(f"run {run_id}'s output has no {path!r}")
    version = add_version(ctx, who, project, name, run.id, path, run.output_snapshot, tags)
    return get_version(ctx, who, project, name, version)


def add_version(
    ctx: Coordinator,
    who: Principal,
    project: str,
    name: str,
    run_id: str,
    path: str,
    snapshot: str,
    tags: dict[str, str],
    details: dict[str, Any] | None = None,
) -> int:
    """Records version N of model `name` (`path` in `snapshot`, made by run `run_id`), its lineage edge
    and its audit record, in one transaction; the caller has checked the names and the caller's rights.
    The one place a version is made, whichever door (gRPC, MLflow) it comes through."""
    metrics = {k: v for k, v, *_ in ctx.store.metric_summaries(run_id)}
    now = clock.now()
    with ctx.store.transaction():
        version = ctx.store.add_model_version(project, name, run_id, path, snapshot, who.user, now, tags, metrics)
        ctx.store.add_edges(
            [lineage.Edge(lineage.run_id(run_id), lineage.model_id(project, name, version), "produced")], now
        )
        ctx.store.append_audit(
            who.user, "model.register", f"{project}/{name}@{version}", {"run": run_id, "path": path, **(details or {})}
        )
    return version


def _under(e: Entry, path: str) -> bool:
    return e.path == path or e.path.startswith(path + "/")


def versions(ctx: Coordinator, who: Principal, project: str, name: str = "") -> list[ModelVersion]:
    return version_page(ctx, who, project, name, PageRequest(EVERY_ROW)).items


def version_page(ctx: Coordinator, who: Principal, project: str, name: str, page: PageRequest) -> Page[ModelVersion]:
    """One page of the versions of model `name` (of every model of `project` when ""), by name and number.
    Listings are paged by version, not by model: a model's versions may be more than one reply holds."""
    require_project(ctx.store, who, Need.READ, project)
    after = (str(page.after[0]), int(page.after[1])) if page.after else ("", 0)
    rows = ctx.store.model_versions(project, name, after, page.size + 1)
    if name and not rows and not page.after:
        raise NotFound(f"no model {name!r} in project {project!r}")
    aliases: dict[str, dict[str, int]] = {}
    found = page_of(rows, page.size, lambda r: (r["name"], r["version"]))
    return found.map(lambda r: _version(r, aliases.setdefault(r["name"], ctx.store.aliases(project, r["name"]))))


def _version(r: dict[str, Any], current: dict[str, int]) -> ModelVersion:
    return ModelVersion(
        project=r["project"],
        name=r["name"],
        version=r["version"],
        run_id=r["run_id"],
        path=r["path"],
        snapshot=r["snapshot"],
        created_by=r["created_by"],
        created_at=r["created_at"],
        tags=json.loads(r["tags_json"]),
        metrics=json.loads(r["metrics_json"]),
        aliases=tuple(sorted(a for a, v in current.items() if v == r["version"])),
    )


def as_models(ctx: Coordinator, project: str, found: list[ModelVersion]) -> list[Model]:
    """Versions in order (a page of them) as the models they belong to, each with its aliases and policy."""
    names = list(dict.fromkeys(v.name for v in found))
    return [_model(ctx, project, n, [v for v in found if v.name == n]) for n in names]


def get_model(ctx: Coordinator, who: Principal, project: str, name: str) -> Model:
    return _model(ctx, project, name, versions(ctx, who, project, name))


def _model(ctx: Coordinator, project: str, name: str, found: list[ModelVersion]) -> Model:
    return Model(
        project=project,
        name=name,
        versions=tuple(found),
        aliases=ctx.store.aliases(project, name),
        required_approvals=ctx.store.required_approvals(project),
    )


def get_version(ctx: Coordinator, who: Principal, project: str, name: str, version: int) -> ModelVersion:
    found = [v for v in versions(ctx, who, project, name) if v.version == version]
    if not found:
        raise NotFound(f"model {name!r} has no version {version}")
    return found[0]


def request_alias(
    ctx: Coordinator, who: Principal, project: str, name: str, version: int, alias: str, message: str
) -> AliasRequest:
    """Moves a free alias at once; `production` waits for the policy's approvals by validators."""
    require_project(ctx.store, who, Need.WRITE, project)
    check_name("alias", alias)
    limits.MESSAGE.text(message, field="request message")
    get_version(ctx, who, project, name, version)
    now = clock.now()
    guarded = alias == GUARDED_ALIAS
    request_id = "ar-" + secrets.token_hex(5)
    request: dict[str, Any] = {
        "id": request_id,
        "project": project,
        "name": name,
        "version": version,
        "alias": alias,
        "requester": who.user,
        "message": message,
        "state": "open" if guarded else "applied",
        "required_approvals": ctx.store.required_approvals(project) if guarded else 0,
        "created_at": now,
    }
    with ctx.store.transaction():
        for old in ctx.store.alias_requests(project, name, "open"):
            if old["alias"] == alias:
                ctx.store.decide_request(old["id"], "superseded", now)
        ctx.store.add_alias_request(request)
        if not guarded:
            ctx.store.move_alias(project, name, alias, version, now, who.user, request_id)
            ctx.store.decide_request(request_id, "applied", now)
        ctx.store.append_audit(
            who.user, "model.alias.request", f"{project}/{name}@{version}", {"alias": alias, "request": request_id}
        )
    return _request(ctx, request_id)


def review(
    ctx: Coordinator, who: Principal, project: str, name: str, version: int, approve: bool, message: str
) -> AliasRequest:
    """A validator's verdict on the open request for this version; never the requester's own."""
    require_project(ctx.store, who, Need.READ, project)
    limits.MESSAGE.text(message, field="review message")
    open_requests = [r for r in ctx.store.alias_requests(project, name, "open") if r["version"] == version]
    if not open_requests:
        raise NotFound(f"no open request for {name} version {version}")
    request = open_requests[-1]
    if who.user not in ctx.store.validators(project):
        raise PermissionDenied(
            f"user {who.user!r} is not a model validator in project {project!r}; an owner makes "
            f"validators (kiln project validator {project} USER)"
        )
    if who.user == request["requester"]:
        raise PermissionDenied("a requester cannot review their own request; ask another validator")
    if any(r["reviewer"] == who.user for r in ctx.store.reviews(request["id"])):
        raise FailedPrecondition(f"{who.user} already reviewed request {request['id']}")
    now = clock.now()
    with ctx.store.transaction():
        ctx.store.add_review(request["id"], who.user, approve, message, now)
        approvals = sum(1 for r in ctx.store.reviews(request["id"]) if r["approve"])
        if not approve:
            ctx.store.decide_request(request["id"], "rejected", now)
        elif approvals >= request["required_approvals"]:
            ctx.store.move_alias(project, name, request["alias"], version, now, who.user, request["id"])
            ctx.store.decide_request(request["id"], "approved", now)
        ctx.store.append_audit(
            who.user,
            "model.review",
            f"{project}/{name}@{version}",
            {"request": request["id"], "approve": approve, "message": message},
        )
    return _request(ctx, request["id"])


def requests(ctx: Coordinator, who: Principal, project: str, name: str, page: PageRequest) -> Page[AliasRequest]:
    """One page of the alias requests of a model, oldest first."""
    require_project(ctx.store, who, Need.READ, project)
    after = (float(page.after[0]), str(page.after[1])) if page.after else None
    rows = ctx.store.alias_requests(project, name, "", after, page.size + 1)
    return page_of(rows, page.size, lambda r: (r["created_at"], r["id"])).map(lambda r: _request(ctx, r["id"]))


def _request(ctx: Coordinator, request_id: str) -> AliasRequest:
    r = ctx.store.alias_request(request_id)
    assert r is not None
    reviews = tuple((x["reviewer"], bool(x["approve"]), x["message"], x["time"]) for x in ctx.store.reviews(r["id"]))
    return AliasRequest(
        id=r["id"],
        project=r["project"],
        name=r["name"],
        version=r["version"],
        alias=r["alias"],
        requester=r["requester"],
        state=r["state"],
        created_at=r["created_at"],
        decided_at=r["decided_at"],
        required_approvals=r["required_approvals"],
        message=r["message"],
        reviews=reviews,
    )


def history(ctx: Coordinator, who: Principal, project: str, name: str, at: float, page: PageRequest) -> Page[AliasMove]:
    """One page of the alias moves in the order they were made, or (with `at`) of the alias → version map
    in force at that time, as the moves that made it."""
    versions(ctx, who, project, name)
    after = int(page.after[0]) if page.after else 0
    if at:
        latest: dict[str, dict[str, Any]] = {}
        for m in ctx.store.alias_moves(project, name, at):
            latest[m["alias"]] = m
        moves = sorted((m for m in latest.values() if m["seq"] > after), key=lambda m: m["seq"])[: page.size + 1]
    else:
        moves = ctx.store.alias_moves(project, name, 0, after, page.size + 1)
    return page_of(moves, page.size, lambda m: (m["seq"],)).map(
        lambda m: AliasMove(
            alias=m["alias"], version=m["version"], time=m["time"], actor=m["actor"], request_id=m["request_id"]
        )
    )


def set_policy(ctx: Coordinator, who: Principal, project: str, approvals: int) -> int:
    require_project(ctx.store, who, Need.MANAGE, project)
    if not 1 <= approvals <= MAX_APPROVALS:
        raise InvalidArgument(f"required approvals must be between 1 and {MAX_APPROVALS}")
    with ctx.store.transaction():
        ctx.store.set_required_approvals(project, approvals)
        ctx.store.append_audit(who.user, "project.policy", project, {"required_approvals": approvals})
    return approvals


def set_validator(ctx: Coordinator, who: Principal, project: str, user: str, validator: bool) -> None:
    found = require_project(ctx.store, who, Need.MANAGE, project)
    if user not in found.members:
        raise NotFound(f"user {user!r} is not a member of project {project!r}")
    if validator and found.members[user] < Role.VIEWER:
        raise InvalidArgument("validators must be members")
    with ctx.store.transaction():
        ctx.store.set_validator(project, user, validator)
        ctx.store.append_audit(who.user, "project.validator", project, {"user": user, "validator": validator})
