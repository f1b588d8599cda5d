"""Batch scoring is a run: a model version applied to a dataset version, in the model's environment, whose
predictions become a new version of a dataset, tied by lineage to both."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kiln.coordinator import datasets, registry, runs
from kiln.coordinator.context import Coordinator
from kiln.coordinator.datasets import find_version
from kiln.coordinator.snapshots import NewSnapshot, create_snapshot
from kiln.core import clock, limits, lineage
from kiln.core.deployments import serving_python
from kiln.core.errors import InvalidArgument, KilnError, NotFound
from kiln.core.names import check_name
from kiln.core.permissions import Principal
from kiln.core.runs import Resources, Run, RunSpec, RunState

log = logging.getLogger("kiln.coordinator.scoring")

OUTPUT_FOLDER = "kiln-scores"  # where the scoring run writes, in its working folder


@dataclass(frozen=True)
class Scoring:
    project: str
    model: str
    version: int
    input: str  # NAME or NAME:VERSION
    output: str = ""
    cpus: float = 0.0
    memory_bytes: int = 0
    gpus: int = 0
    environment: str = ""


def submit(ctx: Coordinator, who: Principal, job: Scoring) -> Run:
    check_name("model", job.model)
    limits.REFERENCE.check(job.input, field="input dataset")
    limits.REFERENCE.check(job.environment, field="environment")
    output = job.output or f"{job.model}-scores"
    check_name("dataset", output)
    if not job.input:
        raise InvalidArgument("give the dataset to score: --input NAME[:VERSION]")
    model = registry.get_version(ctx, who, job.project, job.model, job.version)
    found = find_version(ctx, job.project, job.input)
    if found is None:
        raise NotFound(f"project {job.project!r} has no dataset {job.input!r} (kiln datasets lists them)")
    name, version, _ = found
    trained = ctx.store.run(model.run_id, with_events=False)
    assert trained is not None
    python = serving_python(trained.spec.command)
    spec = RunSpec(
        project=job.project,
        command=(
            python, "-m", "kiln.serve.batch", "--model", model.path,
            "--dataset", name, "--output", OUTPUT_FOLDER,
        ),
        snapshot=model.snapshot,
        image=trained.spec.image,
        runtime=trained.spec.runtime,
        resources=Resources(cpus=job.cpus or 1.0, memory_bytes=job.memory_bytes, gpus=job.gpus),
        datasets=(f"{name}:{version}",),
        environment=job.environment or trained.spec.environment,
    )  # fmt: skip
    with ctx.store.transaction():
        run = runs.queue_internal(ctx, who, spec, "model.score")
        ctx.store.add_scoring(
            {
                "run_id": run.id,
                "project": job.project,
                "model": job.model,
                "version": job.version,
                "input": f"{name}:{version}",
                "output": output,
            }
        )
        ctx.store.add_edges(
            [
                lineage.Edge(
                    lineage.model_id(job.project, job.model, job.version), lineage.run_id(run.id), "scored_with"
                )
            ],
            clock.now(),
        )
    return run


def settle(ctx: Coordinator, run: Run, state: RunState, output_snapshot: str) -> None:
    """Once a scoring run succeeded: its predictions folder becomes the output dataset's next version."""
    job = ctx.store.scoring(run.id)
    if job is None or job["settled"]:
        return
    ctx.store.settle_scoring(run.id)
    if state is not RunState.SUCCEEDED or not output_snapshot:
        return
    prefix = OUTPUT_FOLDER + "/"
    entries = [
        e._replace(path=e.path[len(prefix) :])
        for e in ctx.store.manifest(run.spec.project, output_snapshot)
        if e.path.startswith(prefix)
    ]
    if not entries:
        log.warning("scoring run %s left no %s folder", run.id, OUTPUT_FOLDER)
        return
    owner = ctx.store.user(run.user)
    who = Principal(run.user, bool(owner and owner.is_admin))
    try:
        snap = create_snapshot(ctx, who, run.spec.project, NewSnapshot(entries, message=f"scores of {run.id}"))
        made = datasets.add_version(
            ctx, who, run.spec.project, job["output"], snap.id, f"{job['model']}:{job['version']} on {job['input']}"
        )
    except KilnError as e:
        log.warning("scoring run %s: its predictions could not become a dataset version: %s", run.id, e)
        return
    ctx.store.add_edges(
        [lineage.Edge(lineage.run_id(run.id), lineage.dataset_id(made.project, made.name, made.version), "scored")],
        clock.now(),
    )
