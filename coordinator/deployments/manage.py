"""Deployments as registry entities: create, read, scale, stop, traffic, and endpoint-scoped tokens.

Every change is one transaction with its audit record and an entry in the deployment's state history;
the controller (controller.py) turns what is asked into replicas and what the gateway routes."""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from typing import Any

from kiln.coordinator import registry
from kiln.coordinator.access import require_project
from kiln.coordinator.accounts import Authenticator, token_lifetime
from kiln.coordinator.context import Coordinator
from kiln.coordinator.deployments.controller import is_ready
from kiln.coordinator.gateway.backend import Authorization
from kiln.coordinator.identity import secret_hash
from kiln.coordinator.store.deployments import splits_from
from kiln.core import clock, limits
from kiln.core.deployments import (
    ACTIVE,
    ADDRESS_TAG,
    MAX_REPLICAS,
    STOPPED,
    Deployment,
    DeploymentEvent,
    Replica,
    Split,
    check_traffic,
    splits_text,
)
from kiln.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from kiln.core.names import check_name
from kiln.core.paging import Page, PageRequest, page_of
from kiln.core.permissions import Need, Principal

ENDPOINT_TOKEN_PREFIX = "kiln_ep_"
DEFAULT_CPUS = 1.0
MAX_GPUS = 64
ENDPOINT_TOKEN_DEFAULT_TTL_S = 90 * 86400.0
_HEADER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


@dataclass(frozen=True)
class NewDeployment:
    project: str
    name: str
    model: str
    version: int = 0
    alias: str = ""
    replicas: int = 1
    cpus: float = 0.0
    memory_bytes: int = 0
    gpus: int = 0
    environment: str = ""
    sticky_header: str = ""
    sample_rate: float = 0.0


def check_new(new: NewDeployment) -> None:
    """Refuses a malformed request before anything is looked up."""
    check_name("deployment", new.name)
    check_name("model", new.model)
    if bool(new.version) == bool(new.alias):
        raise InvalidArgument("give exactly one of --version N and --alias NAME (e.g. --alias production)")
    if new.alias:
        check_name("alias", new.alias)
    check_replicas(new.replicas)
    if not (0 <= new.cpus < math.inf) or new.memory_bytes < 0 or not 0 <= new.gpus <= MAX_GPUS:
        raise InvalidArgument(f"cpus must be a positive number, memory not negative, gpus 0 to {MAX_GPUS}")
    limits.REFERENCE.check(new.environment, field="environment")
    check_header(new.sticky_header)
    if not 0 <= new.sample_rate <= 1:  # NaN fails this too
        raise InvalidArgument("the sample rate is a share of requests: above 0, at most 1 (0 means 1)")


def check_replicas(n: int) -> None:
    if not 1 <= n <= MAX_REPLICAS:
        raise InvalidArgument(f"replicas must be between 1 and {MAX_REPLICAS}; to stop serving use kiln deploy stop")


def check_header(name: str) -> None:
    if name and not _HEADER.fullmatch(name):
        raise InvalidArgument(f"sticky header {limits.preview(name)} is not an HTTP header name (letters, digits, '-')")


def create(ctx: Coordinator, who: Principal, new: NewDeployment) -> Deployment:
    check_new(new)
    require_project(ctx.store, who, Need.WRITE, new.project)
    if new.version:
        registry.get_version(ctx, who, new.project, new.model, new.version)
        version = new.version
    else:
        registry.versions(ctx, who, new.project, new.model)  # NotFound for an unknown model
        version = ctx.store.aliases(new.project, new.model).get(new.alias, 0)
        if not version:
            raise FailedPrecondition(
                f"alias {new.alias!r} of model {new.model!r} points to no version yet; move it first "
                f"(kiln model alias) or deploy a version (--version N)"
            )
    if ctx.store.deployment(new.name) is not None:
        raise AlreadyExists(f"an endpoint named {new.name!r} exists (endpoint names are unique across projects)")
    now = clock.now()
    row = {
        "name": new.name,
        "project": new.project,
        "model": new.model,
        "alias": new.alias,
        "replicas": new.replicas,
        "state": ACTIVE,
        "traffic_json": f"[[{version}, 100, 0]]",
        "serving_json": "[]",
        "cpus": new.cpus or DEFAULT_CPUS,
        "memory_bytes": new.memory_bytes,
        "gpus": new.gpus,
        "environment": new.environment,
        "sticky_header": new.sticky_header,
        "sample_rate": new.sample_rate or 1.0,
        "created_by": who.user,
        "created_at": now,
    }
    follows = f"alias {new.alias} (version {version})" if new.alias else f"version {version}"
    with ctx.store.transaction():
        ctx.store.add_deployment(row)
        ctx.store.add_deployment_event(new.name, now, "created", f"serving {new.model} {follows}", who.user)
        ctx.store.append_audit(
            who.user,
            "deployment.create",
            new.name,
            {"project": new.project, "model": new.model, "version": version, "alias": new.alias},
        )
    return get(ctx, who, new.name)


def deployment_row(ctx: Coordinator, who: Principal, name: str, need: Need = Need.READ) -> dict[str, Any]:
    """Endpoint `name`'s row, once the caller may `need` in its project (NotFound or PermissionDenied)."""
    limits.REFERENCE.check(name, field="endpoint name")
    row = ctx.store.deployment(name)
    if row is None:
        raise NotFound(f"no endpoint named {name!r} (kiln deploy list shows them)")
    require_project(ctx.store, who, need, row["project"])
    return row


def get(ctx: Coordinator, who: Principal, name: str) -> Deployment:
    return as_deployment(ctx, deployment_row(ctx, who, name), details=True)


def list_page(ctx: Coordinator, who: Principal, project: str, page: PageRequest) -> Page[Deployment]:
    if project:
        require_project(ctx.store, who, Need.READ, project)
        projects: list[str] | None = [project]
    else:
        projects = None if who.is_admin else [p.name for p in ctx.store.projects(who.user, include_archived=True)]
    after = str(page.after[0]) if page.after else ""
    rows = ctx.store.deployments(projects, after=after, limit=page.size + 1)
    return page_of(rows, page.size, lambda r: (r["name"],)).map(lambda r: as_deployment(ctx, r))


def as_deployment(ctx: Coordinator, row: dict[str, Any], details: bool = False) -> Deployment:
    replicas = replicas_of(ctx, row["name"])
    events = (
        tuple(
            DeploymentEvent(e["time"], e["state"], e["cause"], e["actor"])
            for e in ctx.store.deployment_events(row["name"])
        )
        if details
        else ()
    )
    return Deployment(
        project=row["project"],
        name=row["name"],
        model=row["model"],
        alias=row["alias"],
        replicas=row["replicas"],
        state=row["state"],
        traffic=splits_from(row["traffic_json"]),
        serving=splits_from(row["serving_json"]),
        cpus=row["cpus"],
        memory_bytes=row["memory_bytes"],
        gpus=row["gpus"],
        environment=row["environment"],
        sticky_header=row["sticky_header"],
        sample_rate=row["sample_rate"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        replica_list=replicas,
        events=events,
        url=f"{ctx.gateway_url}/endpoints/{row['name']}/invocations" if ctx.gateway_url else "",
    )


def replicas_of(ctx: Coordinator, name: str) -> tuple[Replica, ...]:
    rows = ctx.store.replica_rows(name)
    addresses = ctx.store.addresses([r["run_id"] for r in rows], ADDRESS_TAG)
    return tuple(
        Replica(
            run_id=r["run_id"],
            version=r["version"],
            state=r["state"],
            node=r["node"],
            address=addresses.get(r["run_id"], ""),
            ready=is_ready(r, addresses),
            started_at=r["started_at"] or 0.0,
        )
        for r in rows
    )


def scale(ctx: Coordinator, who: Principal, name: str, replicas: int) -> Deployment:
    check_replicas(replicas)
    row = deployment_row(ctx, who, name, Need.WRITE)
    _active(row)
    now = clock.now()
    with ctx.store.transaction():
        ctx.store.update_deployment(name, replicas=replicas)
        ctx.store.add_deployment_event(
            name, now, "scaled", f"{row['replicas']} → {replicas} replicas a version", who.user
        )
        ctx.store.append_audit(who.user, "deployment.scale", name, {"from": row["replicas"], "to": replicas})
    return get(ctx, who, name)


def stop(ctx: Coordinator, who: Principal, name: str) -> Deployment:
    row = deployment_row(ctx, who, name, Need.WRITE)
    _active(row)
    now = clock.now()
    with ctx.store.transaction():
        ctx.store.update_deployment(name, state=STOPPED, serving=(), serving_since=now)
        ctx.store.add_deployment_event(name, now, STOPPED, f"stopped by {who.user}", who.user)
        ctx.store.append_audit(who.user, "deployment.stop", name, {})
    return get(ctx, who, name)


def _active(row: dict[str, Any]) -> None:
    if row["state"] != ACTIVE:
        raise FailedPrecondition(f"endpoint {row['name']} is {row['state']}; create a new one to serve again")


def set_traffic(
    ctx: Coordinator, who: Principal, name: str, splits: tuple[Split, ...], sticky_header: str, follow_alias: bool
) -> Deployment:
    """New weights (and shadow, and sticky header). A deployment that follows `production` keeps the alias's
    version as its main one unless the caller pins it; giving traffic to any other version of a production
    endpoint takes a project owner, and moving production itself takes the approval flow (kiln deploy
    promote)."""
    problem = check_traffic(splits)
    if problem:
        raise InvalidArgument(problem)
    check_header(sticky_header)
    row = deployment_row(ctx, who, name, Need.WRITE)
    _active(row)
    for s in splits:
        registry.get_version(ctx, who, row["project"], row["model"], s.version)
    alias = row["alias"] if follow_alias else ""
    if row["alias"] == registry.GUARDED_ALIAS:
        current = ctx.store.aliases(row["project"], row["model"]).get(row["alias"], 0)
        others = [s.version for s in splits if s.weight and s.version != current]
        if others and not _owner(ctx, who, row["project"]):
            raise PermissionDenied(
                f"endpoint {name} serves the production alias (version {current}); giving traffic to version "
                f"{others[0]} takes a project owner, or move production through its approval (kiln deploy promote)"
            )
        if alias and current not in [s.version for s in splits if s.weight]:
            raise InvalidArgument(
                f"endpoint {name} follows production (version {current}): keep weight on it, or pin the versions "
                f"(--pin) to stop following the alias"
            )
    now = clock.now()
    text = splits_text(splits)
    with ctx.store.transaction():
        ctx.store.update_deployment(name, traffic=splits, sticky_header=sticky_header, alias=alias)
        ctx.store.add_deployment_event(name, now, "traffic", f"asked: {text}", who.user)
        ctx.store.append_audit(
            who.user,
            "deployment.traffic",
            name,
            {"splits": [[s.version, s.weight, s.shadow] for s in splits], "sticky": sticky_header, "alias": alias},
        )
    return get(ctx, who, name)


def _owner(ctx: Coordinator, who: Principal, project: str) -> bool:
    try:
        require_project(ctx.store, who, Need.MANAGE, project)
    except PermissionDenied:
        return False
    return True


# -- endpoint tokens --------------------------------------------------------------------------------------


def create_token(
    ctx: Coordinator, who: Principal, name: str, token_name: str, ttl_s: float
) -> tuple[str, dict[str, Any]]:
    """A token that invokes one endpoint and nothing else (it is not an API token): (secret, its row)."""
    check_name("token", token_name)
    row = deployment_row(ctx, who, name, Need.WRITE)
    now = clock.now()
    ttl = token_lifetime(ttl_s, ctx.config.max_token_lifetime_s, ENDPOINT_TOKEN_DEFAULT_TTL_S)
    secret = ENDPOINT_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = {
        "id": "et-" + secrets.token_hex(6),
        "deployment": row["name"],
        "name": token_name,
        "secret_hash": secret_hash(secret),
        "created_by": who.user,
        "created_at": now,
        "expires_at": now + ttl,
    }
    with ctx.store.transaction():
        ctx.store.add_endpoint_token(token)
        ctx.store.append_audit(who.user, "deployment.token.create", name, {"token": token["id"], "name": token_name})
    return secret, token


def revoke_token(ctx: Coordinator, who: Principal, token_id: str) -> dict[str, Any]:
    limits.REFERENCE.check(token_id, field="token id")
    token = ctx.store.endpoint_token(token_id)
    if token is None:
        raise NotFound(f"no endpoint token {token_id!r}")
    deployment_row(ctx, who, token["deployment"], Need.WRITE)
    with ctx.store.transaction():
        ctx.store.revoke_endpoint_token(token_id, clock.now())
        ctx.store.append_audit(who.user, "deployment.token.revoke", token["deployment"], {"token": token_id})
    found = ctx.store.endpoint_token(token_id)
    assert found is not None
    return found


def authorize(ctx: Coordinator, authenticator: Authenticator, secret: str, name: str) -> Authorization:
    """Whether the bearer `secret` may invoke endpoint `name`: a token made for this endpoint, or an API
    token of a user who may read its project. Endpoint tokens open nothing else (the API refuses them)."""
    row = ctx.store.deployment(name) if len(name) <= limits.REFERENCE.most else None
    if row is None:
        return Authorization(False, status=404, message=f"no endpoint named {name!r}")
    if not secret:
        return Authorization(False, status=401, message="no bearer token: send Authorization: Bearer <token>")
    if secret.startswith(ENDPOINT_TOKEN_PREFIX):
        token = ctx.store.endpoint_token(secret_hash=secret_hash(secret))
        now = clock.now()
        if token is None or token["revoked_at"] or token["expires_at"] <= now:
            what = "not known" if token is None else ("revoked" if token["revoked_at"] else "expired")
            return Authorization(
                False, status=401, message=f"the endpoint token is {what}; ask for a new one (kiln deploy token)"
            )
        if token["deployment"] != name:
            return Authorization(
                False, status=403, message=f"this token is for endpoint {token['deployment']!r}, not {name!r}"
            )
        return Authorization(True, f"token:{token['name']}")
    try:
        who = authenticator.principal(secret)
        require_project(ctx.store, who, Need.READ, row["project"])
    except Unauthenticated as e:
        return Authorization(False, status=401, message=str(e))
    except (PermissionDenied, NotFound) as e:
        return Authorization(False, status=403, message=str(e))
    return Authorization(True, who.user)
