"""MLflow's artifact proxy (`mlflow-artifacts:/`) over Kiln's content-addressed blob store.

An artifact path names its owner: `runs/RUN_ID/...` (a run's artifacts, the run's `artifact_uri`),
`models/MODEL_ID/...` (an MLflow 3 logged model's) or `versions/NAME/N/...` (a registered version's files,
read-only: the Kiln snapshot the version was registered with, so a download is exactly what was
registered). Every upload is hashed while it streams in and kept as a blob under its digest, so identical
files are stored once and nothing uploaded is lost; `mlflow_artifacts` maps (owner, path) to the blob.
`snapshot_of` turns an owner's artifacts into a Kiln snapshot (a run's output when it ends, a registered
version's content).

Multipart uploads are not offered: /server-info does not announce them, and the mpu calls answer the
message with which the client falls back to one streamed PUT.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.snapshots import NewSnapshot, create_snapshot
from kiln.core import clock, limits
from kiln.core.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, ResourceExhausted
from kiln.core.manifest import Entry
from kiln.core.paths import check_relpath
from kiln.core.permissions import Need, Principal
from kiln.core.units import format_bytes
from kiln.core.verified import place

from .app import answer
from .protocol import Call, Endpoint, MlflowError

ROOT = "/api/2.0/mlflow-artifacts/artifacts"
FILE_MODE = stat.S_IFREG | 0o644  # an artifact's mode in a snapshot: a plain, readable file
WRITE_BYTES = 4 * 1024 * 1024  # an upload is buffered this much between writes (a thread hop per chunk is dear)
NO_MULTIPART = "Multipart upload is not supported for the current artifact repository"  # the client's fallback cue


def run_uri(run_id: str) -> str:
    return f"mlflow-artifacts:/runs/{run_id}"


def model_uri(model_id: str) -> str:
    return f"mlflow-artifacts:/models/{model_id}"


def version_uri(name: str, version: int) -> str:
    return f"mlflow-artifacts:/versions/{name}/{version}"


@dataclass(frozen=True)
class Target:
    """Where an artifact path points: an owner (run or logged model id) and the path inside its artifacts,
    or a registered version's snapshot (`snapshot`, `base` its path there) when `owner` is ""."""

    owner: str
    path: str
    snapshot: str = ""
    base: str = ""


def _clean(path: str) -> str:
    path = path.strip("/")
    return check_relpath(path) if path else ""


def resolve(ctx: Coordinator, who: Principal, project: str, path: str, need: Need) -> Target:
    """The owner of an artifact path in `project`, once the caller may `need` the project."""
    path = _clean(path)
    require_project(ctx.store, who, need, project)
    kind, _, rest = path.partition("/")
    if kind == "runs":
        run_id, _, inner = rest.partition("/")
        run = ctx.store.run(run_id, with_events=False) if run_id else None
        if run is None or run.spec.project != project:
            raise NotFound(f"run {run_id!r} not found in project {project!r}")
        return Target(run_id, inner)
    if kind == "models":
        model_id, _, inner = rest.partition("/")
        model = ctx.store.logged_model(model_id) if model_id else None
        if model is None or model["project"] != project:
            raise NotFound(f"logged model {model_id!r} not found in project {project!r}")
        return Target(model_id, inner)
    if kind == "versions":
        name, _, rest = rest.partition("/")
        number, _, inner = rest.partition("/")
        found = ctx.store.model_version(project, name, int(number)) if number.isdigit() else None
        if found is None:
            raise NotFound(f"model {name!r} has no version {number!r} in project {project!r}")
        if need is not Need.READ:
            raise PermissionDenied(f"model {name} version {number} is registered; its files cannot change")
        return Target("", inner, found["snapshot"], found["path"])
    raise NotFound(f"artifact path {path!r} is not under runs/RUN_ID, models/MODEL_ID or versions/NAME/N")


def _files(ctx: Coordinator, project: str, target: Target, under: str) -> list[tuple[str, int, str]]:
    """(path relative to `under`, size, digest) of the target's files below folder `under` ('' all)."""
    prefix = f"{under}/" if under else ""
    if target.owner:
        return [(r["path"][len(prefix) :], r["size"], r["digest"]) for r in ctx.store.artifacts(target.owner, under)]
    base = "/".join(p for p in (target.base, under) if p)
    start = f"{base}/" if base else ""
    return [
        (e.path[len(start) :], e.size, e.digest)
        for e in ctx.store.manifest(project, target.snapshot)
        if e.has_blob and e.path.startswith(start)
    ]


def _one(ctx: Coordinator, project: str, target: Target) -> tuple[str, int] | None:
    """(digest, size) of the file the target names, if it is a file."""
    if target.owner:
        row = ctx.store.artifact(target.owner, target.path)
        return (row["digest"], row["size"]) if row else None
    full = "/".join(p for p in (target.base, target.path) if p)
    for e in ctx.store.manifest(project, target.snapshot):
        if e.path == full and e.has_blob:
            return e.digest, e.size
    return None


def listing(ctx: Coordinator, project: str, target: Target) -> list[dict[str, Any]]:
    """One level of the tree below the target, as MLflow's server lists it: names relative to the target,
    folders first seen through their files, no size for a folder; nothing for a file."""
    children: dict[str, dict[str, Any]] = {}
    for rel, size, _ in _files(ctx, project, target, target.path):
        head, sep, _ = rel.partition("/")
        if sep:
            children.setdefault(head, {"path": head, "is_dir": True})
        else:
            children[head] = {"path": head, "is_dir": False, "file_size": size}
    return [children[k] for k in sorted(children)]


def snapshot_of(ctx: Coordinator, who: Principal, project: str, owner: str, prefix: str = "", root: str = "") -> str:
    """The id of a Kiln snapshot of the owner's artifacts below `prefix` (every one when ""), at their
    artifact paths, or (with `root`) at paths re-rooted from `prefix` to `root`."""
    prefix = _clean(prefix)
    root = _clean(root)
    entries = []
    for r in ctx.store.artifacts(owner, prefix):
        rel = r["path"][len(prefix) + 1 :] if prefix else r["path"]
        path = f"{root}/{rel}" if root else r["path"]
        entries.append(Entry(path, FILE_MODE, r["size"], r["digest"]))
    where = f"{owner}/{prefix}" if prefix else owner
    return create_snapshot(ctx, who, project, NewSnapshot(entries=entries, message=f"MLflow artifacts of {where}")).id


def has_artifacts(ctx: Coordinator, owner: str, prefix: str = "") -> bool:
    return bool(ctx.store.artifacts(owner, _clean(prefix)))


# -- the streaming handlers ------------------------------------------------------------------------------


def _ctx(request: Request) -> Coordinator:
    ctx: Coordinator = request.app.state.ctx
    return ctx


async def put_artifact(request: Request, who: Principal, project: str) -> Response:
    ctx = _ctx(request)
    target = await asyncio.to_thread(resolve, ctx, who, project, request.path_params["path"], Need.WRITE)
    if not target.path:
        raise InvalidArgument("an upload needs a file path below the run's or model's artifacts")
    limit = ctx.config.max_upload_bytes
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ResourceExhausted(
            f"{target.path} is larger than this coordinator's upload limit of {format_bytes(limit)}"
        )
    fd, tmp = tempfile.mkstemp(prefix="mlflow.", dir=ctx.blobs.tmp)
    try:
        digest, size, pending = hashlib.sha256(), 0, bytearray()
        with os.fdopen(fd, "wb") as f:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ResourceExhausted(
                        f"{target.path} is larger than this coordinator's upload limit of {format_bytes(limit)}"
                    )
                pending += chunk
                if len(pending) >= WRITE_BYTES:  # hashed and written off the loop, a few MiB at a time
                    await asyncio.to_thread(_write, f, digest, bytes(pending))
                    pending.clear()
            await asyncio.to_thread(_write, f, digest, bytes(pending))
            await asyncio.to_thread(_durable, f)
        await asyncio.to_thread(_keep, ctx, project, target, tmp, digest.hexdigest(), size)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return answer({})


def _write(f: Any, digest: Any, data: bytes) -> None:
    digest.update(data)
    f.write(data)


def _durable(f: Any) -> None:
    f.flush()
    os.fchmod(f.fileno(), 0o644)
    os.fsync(f.fileno())


def _keep(ctx: Coordinator, project: str, target: Target, tmp: str, digest: str, size: int) -> None:
    """Places the upload under its digest (unless that blob is already held) and records the artifact."""
    clash = ctx.store.artifact_clash(target.owner, target.path)
    if clash:
        raise FailedPrecondition(f"artifact {target.path!r} cannot sit beside {clash!r}: one is a folder of the other")
    if not ctx.blobs.has(digest):
        place(tmp, ctx.blobs.path(digest))
    with ctx.store.transaction():
        ctx.store.add_project_blobs(project, [(digest, size)])
        ctx.store.add_artifact(target.owner, target.path, digest, size, clock.now())


async def get_artifact(request: Request, who: Principal, project: str) -> Response:
    ctx = _ctx(request)

    def find() -> tuple[str, int]:
        target = resolve(ctx, who, project, request.path_params["path"], Need.READ)
        found = _one(ctx, project, target) if target.path else None
        if found is None:
            raise NotFound(f"no artifact file {target.path!r}")
        return found

    digest, size = await asyncio.to_thread(find)
    return FileResponse(ctx.blobs.path(digest), media_type="application/octet-stream")


async def delete_artifact(request: Request, who: Principal, project: str) -> Response:
    ctx = _ctx(request)

    def delete() -> None:
        target = resolve(ctx, who, project, request.path_params["path"], Need.WRITE)
        with ctx.store.transaction():
            if target.path:
                removed = ctx.store.delete_artifacts(target.owner, target.path)
            else:
                removed = sum(
                    ctx.store.delete_artifacts(target.owner, r["path"]) for r in ctx.store.artifacts(target.owner)
                )
            ctx.store.append_audit(
                who.user, "mlflow.artifacts.delete", f"{target.owner}/{target.path}", {"files": removed}
            )

    await asyncio.to_thread(delete)
    return answer({})


# -- the JSON handlers -------------------------------------------------------------------------------------


def list_artifacts(call: Call) -> dict[str, Any]:
    """mlflow-artifacts' list: one level below `path` (runs/RID/..., models/MID/..., versions/NAME/N/...)."""
    path = call.text("path", limit=limits.PATH)
    if not _clean(path):
        return {"files": []}
    target = resolve(call.ctx, call.who, call.project, path, Need.READ)
    if target.path and _one(call.ctx, call.project, target) is not None:
        return {"files": []}  # a file lists as nothing, as MLflow's local store answers
    return {"files": listing(call.ctx, call.project, target)}


def list_run_artifacts(call: Call) -> dict[str, Any]:
    """The tracking API's artifacts/list: one level below `path` of a run, paths from the run's root."""
    run_id = call.text("run_id", limit=limits.TRACK_KEY) or call.text("run_uuid", limit=limits.TRACK_KEY)
    if not run_id:
        raise InvalidArgument("missing value for required parameter 'run_id'")
    under = _clean(call.text("path", limit=limits.PATH))
    target = resolve(call.ctx, call.who, call.project, "/".join(p for p in ("runs", run_id, under) if p), Need.READ)
    files = [] if under and _one(call.ctx, call.project, target) else listing(call.ctx, call.project, target)
    for f in files:
        f["path"] = f"{under}/{f['path']}" if under else f["path"]
    return {"root_uri": run_uri(run_id), "files": files}


def no_multipart(call: Call) -> dict[str, Any]:
    raise MlflowError("NOT_IMPLEMENTED", 501, NO_MULTIPART)


ENDPOINTS = [
    Endpoint("GET", ROOT, list_artifacts),
    Endpoint("GET", "artifacts/list", list_run_artifacts),
    Endpoint("POST", "/api/2.0/mlflow-artifacts/mpu/create/{path:path}", no_multipart),
    Endpoint("POST", "/api/2.0/mlflow-artifacts/mpu/complete/{path:path}", no_multipart),
    Endpoint("POST", "/api/2.0/mlflow-artifacts/mpu/abort/{path:path}", no_multipart),
]
RAW = [
    ("PUT", f"{ROOT}/{{path:path}}", put_artifact),
    ("GET", f"{ROOT}/{{path:path}}", get_artifact),
    ("DELETE", f"{ROOT}/{{path:path}}", delete_artifact),
]
