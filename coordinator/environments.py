"""Environments: versions created by digest, built by a build run, pinned by the runs that name them.

A new definition of NAME is its next version and queues one build run (command `kiln-build NAME:V`, kind
shown by `spec.builds`) on a node with the runtime the kind needs: the agent builds instead of running a
command, the run's log is the build log, and its end settles the version (`settle_build`). A run naming an
environment is pinned to NAME:VERSION at submission, so a rerun uses that same version.
"""

from __future__ import annotations

from dataclasses import replace

from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.snapshots import resolve_snapshot
from kiln.core import clock, limits
from kiln.core.environments import (
    RECORD_IMAGE_BYTES,
    RECORD_IMAGE_ID,
    RECORD_IMAGE_SNAPSHOT,
    RECORD_PACKAGES,
    RECORD_PYTHON,
    RUNTIME_OF,
    BuildState,
    Definition,
    Environment,
    EnvironmentRef,
    EnvKind,
    check_definition,
    parse_ref,
)
from kiln.core.errors import FailedPrecondition, InvalidArgument, NotFound
from kiln.core.names import check_name
from kiln.core.paging import Page, PageRequest, page_of
from kiln.core.permissions import Need, Principal
from kiln.core.runs import Run, RunEvent, RunSpec, RunState, new_run_id

BUILD_COMMAND = "kiln-build"
NO_ENVIRONMENT = "none"  # what a run names to run in no environment, whatever the project's default
SOURCE = limits.Limit("environment source", 256)
# A Docker build may take a while; a Python build from a lock is quick, but the index may be slow.
BUILD_CPUS = 1.0


def create(
    ctx: Coordinator, who: Principal, project: str, name: str, definition: Definition, source: str
) -> Environment:
    """The version of `name` with this definition: an existing one (a failed one is built again), else
    the next version, with its build run queued."""
    require_project(ctx.store, who, Need.WRITE, project)
    check_name("environment", name)
    if name == NO_ENVIRONMENT:
        raise InvalidArgument(f"an environment cannot be called {NO_ENVIRONMENT!r}: kiln run --env none runs in none")
    check_definition(definition)
    _printable(SOURCE.check(source, field="source"))
    if definition.context:
        definition = replace(definition, context=resolve_snapshot(ctx, who, project, definition.context).id)
    _check_runnable(ctx, definition.kind)
    existing = ctx.store.env_version_with_digest(project, name, definition.digest)
    if existing is not None and existing.state is not BuildState.FAILED:
        return get(ctx, who, project, existing.ref)
    now = clock.now()
    with ctx.store.transaction():
        if existing is None:
            env = Environment(project, name, 0, definition, BuildState.BUILDING, who.user, now, source=source)
            env = replace(env, version=ctx.store.add_env_version(env))
        else:  # the same definition failed before: build it again, as the same version
            env = replace(existing, state=BuildState.BUILDING, reason="")
            ctx.store.finish_env_version(env)
        run = _build_run(ctx, who, env, now)
        ctx.store.set_env_build(project, name, env.version, run.id)
        ctx.store.append_audit(
            who.user, "environment.create", f"{project}/{env.ref}", {"digest": definition.digest, "build_run": run.id}
        )
    return get(ctx, who, project, env.ref)


def _check_runnable(ctx: Coordinator, kind: EnvKind) -> None:
    runtime = RUNTIME_OF[kind]
    if not any(runtime in n.runtimes for n in ctx.store.nodes()):
        raise FailedPrecondition(
            f"no node has the {runtime} runtime, which builds and runs {kind} environments; "
            f"start an agent with --runtime {runtime}"
        )


def _build_run(ctx: Coordinator, who: Principal, env: Environment, now: float) -> Run:
    spec = RunSpec(
        project=env.project,
        command=(BUILD_COMMAND, env.ref),
        snapshot=env.definition.context,
        runtime=RUNTIME_OF[env.kind],
        builds=env.ref,
    )
    spec = replace(spec, resources=replace(spec.resources, cpus=BUILD_CPUS))
    run = Run(new_run_id(), spec, who.user, RunState.QUEUED, now)
    ctx.store.add_run(run)
    ctx.store.add_run_event(run.id, RunEvent(now, RunState.QUEUED, f"build of environment {env.ref}, by {who.user}"))
    return run


def _printable(text: str) -> None:
    if not text.isprintable():
        raise InvalidArgument("an environment's source cannot contain control characters")


def get(ctx: Coordinator, who: Principal, project: str, ref: str) -> Environment:
    require_project(ctx.store, who, Need.READ, project)
    return _with_nodes(find(ctx, project, ref), _holders(ctx))


def find(ctx: Coordinator, project: str, ref: str) -> Environment:
    limits.REFERENCE.check(ref, field="environment")
    name, version = parse_ref(ref)
    env = ctx.store.env_version(project, name, version)
    if env is not None:
        return env
    have = sorted({e.name for e in ctx.store.env_versions(project)})
    if version is not None and name in have:
        raise NotFound(f"environment {name} has no version {version} in project {project}; kiln env list shows them")
    there = f"it has {', '.join(have)}" if have else "it has none yet (kiln env create makes one)"
    raise NotFound(f"project {project} has no environment {name!r}; {there}")


def list_versions(ctx: Coordinator, who: Principal, project: str, name: str, page: PageRequest) -> Page[Environment]:
    require_project(ctx.store, who, Need.READ, project)
    if name:
        check_name("environment", name)
    after = (str(page.after[0]), int(page.after[1])) if page.after else ("", 0)
    rows = page_of(
        ctx.store.env_versions(project, name, after, page.size + 1), page.size, lambda e: (e.name, e.version)
    )
    held = _holders(ctx)
    return Page([_with_nodes(e, held) for e in rows.items], rows.keys, rows.more)


def _holders(ctx: Coordinator) -> dict[str, list[str]]:
    """digest -> the nodes not lost that say they hold it built, sorted: read once per answer."""
    now = clock.now()
    held: dict[str, list[str]] = {}
    for n in sorted(ctx.store.nodes(), key=lambda n: n.name):
        if ctx.liveness.state(n.name, now) != "lost":
            for digest in ctx.liveness.inventory_of(n.name, n.inventory).environments:
                held.setdefault(digest, []).append(n.name)
    return held


def _with_nodes(env: Environment, held: dict[str, list[str]]) -> Environment:
    return replace(env, cached_on=tuple(held.get(env.digest, ())))


def default(ctx: Coordinator, who: Principal, project: str) -> str:
    require_project(ctx.store, who, Need.READ, project)
    return ctx.store.default_environment(project)


def set_default(ctx: Coordinator, who: Principal, project: str, ref: str) -> str:
    """Makes NAME (its latest ready version, whenever a run starts) or NAME:VERSION the project's default;
    "" clears it."""
    require_project(ctx.store, who, Need.WRITE, project)
    if ref:
        find(ctx, project, ref)
    with ctx.store.transaction():
        ctx.store.set_default_environment(project, ref)
        ctx.store.append_audit(who.user, "environment.default", project, {"environment": ref})
    return ref


def pin(ctx: Coordinator, spec: RunSpec) -> tuple[RunSpec, Environment | None]:
    """The spec with its environment (or the project's default) pinned to NAME:VERSION, and that version;
    refused when the version cannot run (still building, failed) or the spec contradicts it."""
    if spec.environment == NO_ENVIRONMENT:  # asked for none, whatever the project's default
        return replace(spec, environment=""), None
    ref = spec.environment or ("" if spec.image else ctx.store.default_environment(spec.project))
    if not ref:
        return spec, None
    if spec.image:
        raise InvalidArgument("a run takes an environment or an image, not both (the environment names its image)")
    env = find(ctx, spec.project, ref)
    if env.state is BuildState.BUILDING:
        raise FailedPrecondition(
            f"environment {env.ref} is still building (run {env.build_run}); kiln env show {env.ref} says when "
            "it is ready"
        )
    if env.state is BuildState.FAILED:
        raise FailedPrecondition(
            f"environment {env.ref} failed to build: {env.reason}; its log: kiln logs {env.build_run}"
        )
    runtime = RUNTIME_OF[env.kind]
    if spec.runtime and spec.runtime != runtime:
        raise InvalidArgument(f"environment {env.ref} is a {env.kind} environment, which runs in the {runtime} runtime")
    return replace(spec, environment=env.ref, runtime=runtime), env


def node_ref(ctx: Coordinator, run: Run) -> EnvironmentRef | None:
    """What the node of `run` is told of the environment it uses or builds."""
    text = run.spec.builds or run.spec.environment
    if not text:
        return None
    env = find(ctx, run.spec.project, text)
    return EnvironmentRef(
        env.name, env.version, env.definition, env.image_id, env.image_snapshot, build=bool(run.spec.builds)
    )


_DIGESTS: dict[tuple[str, str], str] = {}  # (project, NAME:VERSION) -> digest: versions never change


def digest_of(ctx: Coordinator, run: Run) -> str:
    """The digest of the environment `run` uses or builds ("" for none), for the scheduler's affinity."""
    text = run.spec.environment or run.spec.builds
    if not text:
        return ""
    key = (run.spec.project, text)
    found = _DIGESTS.get(key)
    if found is None:
        try:
            found = find(ctx, run.spec.project, text).digest
        except NotFound:
            found = ""
        _DIGESTS[key] = found
    return found


def settle_build(ctx: Coordinator, run: Run, state: RunState, facts: dict[str, str], reason: str) -> None:
    """The build run of an environment version ended: the version is ready with what the build found in
    it, or failed with why (the run's log has the whole story)."""
    env = ctx.store.env_version_built_by(run.id)
    if env is None:
        return
    if state is RunState.SUCCEEDED:
        env = replace(
            env,
            state=BuildState.READY,
            reason="",
            python_version=facts.get(RECORD_PYTHON, ""),
            packages=tuple(p for p in facts.get(RECORD_PACKAGES, "").splitlines() if p),
            image_id=facts.get(RECORD_IMAGE_ID, ""),
            image_snapshot=facts.get(RECORD_IMAGE_SNAPSHOT, ""),
            size_bytes=int(facts.get(RECORD_IMAGE_BYTES, "0") or 0),
        )
        if env.kind is EnvKind.DOCKER and not (env.image_id and env.image_snapshot):
            env = replace(env, state=BuildState.FAILED, reason="the build reported no saved image")
    else:
        env = replace(env, state=BuildState.FAILED, reason=reason or f"its build run ended {state}")
    ctx.store.finish_env_version(env)
    ctx.store.append_audit(
        f"node:{run.node}", f"environment.{env.state}", f"{env.project}/{env.ref}", {"build_run": run.id}
    )
