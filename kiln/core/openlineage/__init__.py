"""Runs as OpenLineage RunEvents (spec 2-0-2): START when a run starts, then COMPLETE, FAIL or ABORT
when it ends, then OTHER for what came of it later (a model version registered from its output).

- The job is the run's stable identity: namespace `kiln`, name PROJECT/ENTRY-POINT (`demo/train.py`, see
  `jobs.entry_point`); the command and params are the run's, in its `kiln_run` facet.
- Datasets are named in namespace `kiln` by project and kind: `demo/datasets/images` and
  `demo/models/churn` with the version in the standard `version` facet, `demo/snapshots/<id>` for a
  snapshot (immutable content: its id is its name, it has no versions).
- Each event lists the inputs and outputs the coordinator had recorded by its time, and the run's state
  at that time; inputs and outputs are disjoint. A run started from another (its parent, or the run it
  reruns) names it in the standard `parent` facet; FAIL and ABORT carry the standard `errorMessage`
  facet and Kiln's `kiln_error` (exit code and reason).
- Kiln's own facets have JSON schemas in `facets/` (shipped with the package); each `_schemaURL` is the
  `$id` of one of those files and a pointer into it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from kiln.core.lineage import split, versioned
from kiln.core.openlineage.jobs import EntryPoint, entry_point

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
NAMESPACE = "kiln"
KILN_FACETS = "urn:kiln:spec:facets:1-0-0:"  # + file name: the $id of each schema in facets/
_OL = "https://openlineage.io/spec/facets/"
STANDARD_FACETS = {
    "ParentRunFacet": f"{_OL}1-2-0/ParentRunFacet.json",
    "ErrorMessageRunFacet": f"{_OL}1-0-1/ErrorMessageRunFacet.json",
    "DatasetVersionDatasetFacet": f"{_OL}1-0-1/DatasetVersionDatasetFacet.json",
    "JobTypeJobFacet": f"{_OL}2-0-4/JobTypeJobFacet.json",
}
ENDINGS = {
    "succeeded": "COMPLETE",
    "failed": "FAIL",
    "lost": "FAIL",
    "preempted": "FAIL",
    "cancelled": "ABORT",
}
PLURALS = {"snapshot": "snapshots", "dataset": "datasets", "model": "models"}


def producer(version: str) -> str:
    """The URI naming this Kiln as the producer of the events and facets."""
    return f"urn:kiln:{version}"


@dataclass(frozen=True)
class Recorded:
    """An entity id (kiln.core.lineage) and when the coordinator recorded its edge to or from the run."""

    entity: str
    at: float


@dataclass(frozen=True)
class Origin:
    """The run a run was started from (its parent, or the run it reruns): enough to name its job."""

    run_id: str
    project: str
    command: tuple[str, ...]


@dataclass(frozen=True)
class RunFacts:
    run_id: str
    project: str
    command: tuple[str, ...]
    state: str  # now
    user: str
    created_at: float
    started_at: float
    finished_at: float
    snapshot: str
    exit_code: int | None = None
    reason: str = ""
    params: dict[str, str] = field(default_factory=dict)
    inputs: tuple[Recorded, ...] = ()  # snapshots and dataset versions
    outputs: tuple[Recorded, ...] = ()  # the output snapshot, model versions
    parent: Origin | None = None
    rerun_of: Origin | None = None
    environment: dict[str, str] = field(default_factory=dict)


def run_uuid(run_id: str) -> str:
    """OpenLineage wants a UUID per run: a stable one derived from the Kiln run id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kiln:run:{run_id}"))


def job_name(project: str, command: tuple[str, ...]) -> str:
    return f"{project}/{entry_point(command).name}"


def run_events(facts: RunFacts, producer_uri: str) -> list[dict[str, Any]]:
    """The events of one run so far: none before it starts (unless it ended without starting), START,
    then its ending, then one OTHER per later time something was recorded as its output."""
    started, ending = facts.started_at, ENDINGS.get(facts.state)
    if not started and not ending:
        return []  # queued or being prepared: nothing has started yet
    entry = entry_point(facts.command)
    moments = [("START", started or facts.created_at, "running" if started else "queued")]
    if ending and facts.finished_at:
        moments.append((ending, facts.finished_at, facts.state))
        last = max(facts.finished_at, moments[0][1])
        later = sorted({o.at for o in facts.outputs if o.at > last})
        moments += [("OTHER", at, facts.state) for at in later]
    return [_event(facts, entry, kind, at, state, producer_uri) for kind, at, state in moments]


def _event(facts: RunFacts, entry: EntryPoint, kind: str, at: float, state: str, by: str) -> dict[str, Any]:
    inputs = {o.entity for o in facts.inputs if o.at <= at}
    outputs = {o.entity for o in facts.outputs if o.at <= at} - inputs
    job_facets = {"jobType": _facet(by, "JobTypeJobFacet", processingType="BATCH", integration="KILN", jobType="RUN")}
    return {
        "eventType": kind,
        "eventTime": _time(at),
        "producer": by,
        "schemaURL": SCHEMA_URL,
        "job": {"namespace": NAMESPACE, "name": f"{facts.project}/{entry.name}", "facets": job_facets},
        "run": {"runId": run_uuid(facts.run_id), "facets": _run_facets(facts, entry, kind, state, by)},
        "inputs": [_dataset(facts.project, e, by) for e in sorted(inputs)],
        "outputs": [_dataset(facts.project, e, by) for e in sorted(outputs)],
    }


def _run_facets(facts: RunFacts, entry: EntryPoint, kind: str, state: str, by: str) -> dict[str, Any]:
    run: dict[str, Any] = {"runId": facts.run_id, "user": facts.user, "state": state, "command": list(facts.command)}
    if facts.snapshot:
        run["snapshot"] = facts.snapshot
    if kind != "START":  # params are logged by the running code: none are known when it starts
        run["params"] = dict(facts.params)
    for key, origin in (("parentRun", facts.parent), ("rerunOf", facts.rerun_of)):
        if origin:
            run[key] = origin.run_id
    facets: dict[str, Any] = {"kiln_run": _facet(by, "KilnRunFacet", **run)}
    if facts.environment:
        facets["kiln_environment"] = _facet(by, "KilnEnvironmentRunFacet", **facts.environment)
    origin = facts.parent or facts.rerun_of
    if origin:
        facets["parent"] = _facet(
            by,
            "ParentRunFacet",
            run={"runId": run_uuid(origin.run_id)},
            job={"namespace": NAMESPACE, "name": job_name(origin.project, origin.command)},
        )
    if kind in ("FAIL", "ABORT"):
        said = [f"exit code {facts.exit_code}" if facts.exit_code is not None else "", facts.reason]
        message = "; ".join(s for s in said if s) or f"the run {facts.state}"
        facets["errorMessage"] = _facet(by, "ErrorMessageRunFacet", message=message, programmingLanguage=entry.language)
        facets["kiln_error"] = _facet(
            by, "KilnErrorRunFacet", state=facts.state, exitCode=facts.exit_code, reason=facts.reason
        )
    return facets


def _dataset(project: str, entity: str, by: str) -> dict[str, Any]:
    kind, rest = split(entity)
    if kind == "snapshot":
        return {"namespace": NAMESPACE, "name": f"{project}/snapshots/{rest}", "facets": {}}
    owner, name, version = versioned(rest)
    facets = {"version": _facet(by, "DatasetVersionDatasetFacet", datasetVersion=str(version))}
    return {"namespace": NAMESPACE, "name": f"{owner}/{PLURALS[kind]}/{name}", "facets": facets}


def _facet(by: str, schema: str, **values: Any) -> dict[str, Any]:
    base = STANDARD_FACETS.get(schema) or f"{KILN_FACETS}{schema}.json"
    return {"_producer": by, "_schemaURL": f"{base}#/$defs/{schema}", **values}


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def facet_schemas() -> dict[str, dict[str, Any]]:
    """Kiln's facet schemas as shipped in this package, by `$id`."""
    found = {}
    for item in resources.files(__package__).joinpath("facets").iterdir():
        if item.name.endswith(".json"):
            schema = json.loads(item.read_text(encoding="utf-8"))
            found[schema["$id"]] = schema
    return found
