"""Runs as OpenLineage RunEvents (spec 2-0-2): START, then COMPLETE, FAIL or ABORT, with the run's
inputs and outputs as datasets and facets for its source snapshot and environment."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PRODUCER = "https://kiln.invalid/kiln/0.1"
FACET_SCHEMA = "https://kiln.invalid/spec/facets/1-0-0/{name}.json"
ENDINGS = {
    "succeeded": "COMPLETE",
    "failed": "FAIL",
    "lost": "FAIL",
    "preempted": "FAIL",
    "cancelled": "ABORT",
}


@dataclass(frozen=True)
class RunFacts:
    run_id: str
    project: str
    command: tuple[str, ...]
    state: str
    user: str
    created_at: float
    started_at: float
    finished_at: float
    snapshot: str
    inputs: tuple[str, ...] = ()  # entity ids (kiln.core.lineage)
    outputs: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)


def run_uuid(run_id: str) -> str:
    """OpenLineage wants a UUID per run: a stable one derived from the Kiln run id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kiln:run:{run_id}"))


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _facet(name: str, **values: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": FACET_SCHEMA.format(name=name), **values}


def _dataset(project: str, entity: str) -> dict[str, Any]:
    kind, _, rest = entity.partition(":")
    return {"namespace": f"kiln://{project}", "name": f"{kind}/{rest}", "facets": {}}


def run_events(facts: RunFacts) -> list[dict[str, Any]]:
    job = {
        "namespace": f"kiln://{facts.project}",
        "name": " ".join(facts.command)[:500] or facts.run_id,
        "facets": {},
    }
    run_facets = {
        "kiln_run": _facet("KilnRunFacet", id=facts.run_id, user=facts.user, state=facts.state),
        "kiln_source": _facet("KilnSourceRunFacet", snapshot=facts.snapshot),
        "kiln_environment": _facet("KilnEnvironmentRunFacet", **facts.environment),
    }
    run = {"runId": run_uuid(facts.run_id), "facets": run_facets}
    inputs = [_dataset(facts.project, e) for e in facts.inputs]
    outputs = [_dataset(facts.project, e) for e in facts.outputs]
    base = {"producer": PRODUCER, "schemaURL": SCHEMA_URL, "job": job, "run": run}
    events = [
        {
            **base,
            "eventType": "START",
            "eventTime": _time(facts.started_at or facts.created_at),
            "inputs": inputs,
            "outputs": [],
        }
    ]
    ending = ENDINGS.get(facts.state)
    if ending and facts.finished_at:
        events.append(
            {
                **base,
                "eventType": ending,
                "eventTime": _time(facts.finished_at),
                "inputs": inputs,
                "outputs": outputs,
            }
        )
    return events
