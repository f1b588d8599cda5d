"""Runs written straight into a coordinator's store, with what they logged: a project's history of
hundreds of runs in a moment, for tests of listings and tables (no agent runs them; a run's state, times,
params, last metric values and tags are as given)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from kiln.coordinator.store import SqliteStore
from kiln.core.runs import Run, RunSpec, RunState


@dataclass
class Planted:
    """One run to write: its state and times (seconds since the epoch), and what it logged."""

    created: float
    state: RunState = RunState.SUCCEEDED
    started: float = 0.0
    finished: float = 0.0
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # the last value of each, at step 9
    tags: dict[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ("python", "train.py")
    node: str = "n1"


def plant(store: SqliteStore, project: str, runs: list[Planted], user: str = "admin") -> list[str]:
    """Writes `runs` into `project` in one transaction; their ids, in the order given."""
    ids = []
    with store.transaction():
        for p in runs:
            run_id = f"r-{secrets.token_hex(6)}"
            store.add_run(Run(run_id, RunSpec(project, p.command), user, RunState.QUEUED, p.created))
            times = {"started_at": p.started, "finished_at": p.finished} if p.started else {}
            node = {"node": p.node} if p.state is not RunState.QUEUED else {}
            store.update_run(run_id, state=p.state, **times, **node)
            store.add_params(run_id, p.params)
            store.add_tags(run_id, p.tags)
            steps = [
                (k, s, v if s == 9 else v * s / 10, p.created + s) for k, v in p.metrics.items() for s in range(10)
            ]
            store.add_metrics(run_id, steps)
            ids.append(run_id)
    return ids
