"""A run's whole record as `kiln run show` prints it and `--json` gives it: what was asked for (the spec),
what happened (states, node, exit code, outputs) and what the run logged (params, final metrics, artifacts,
models, inputs, environment). `kiln compare` lays the same facts side by side, from the same functions."""

from __future__ import annotations

import math
from typing import Any

from kiln.cli.output import table, when
from kiln.cli.runs import run_dict
from kiln.core.models import RunRecord
from kiln.core.runs import Run, dropped_text, pairs_text, resources_text


def number(value: float | None) -> float | str | None:
    """A metric value for JSON, which has no NaN."""
    return None if value is None else ("nan" if math.isnan(value) else value)


def record_dict(r: RunRecord) -> dict[str, Any]:
    """The run as `run_dict` gives it, and what it logged: final metrics by key (with their last step,
    min, max and number of points under `metric_summary`)."""
    return {
        **run_dict(r.run),
        "params": r.params,
        "tags": r.tags,
        "metrics": {k: number(v) for k, v, *_ in r.metrics},
        "metric_summary": {
            k: {"step": step, "min": number(lo), "max": number(hi), "points": n} for k, _, step, lo, hi, n in r.metrics
        },
        "artifacts": r.artifacts,
        "models": [{"path": p, "name": n, "flavor": f} for p, n, f in r.models],
        "inputs": r.inputs,
        "environment": r.environment,
    }


def spec_rows(run: Run) -> list[tuple[str, str]]:
    """The facts of a run that fit on one line each, in the order a person reads them."""
    s = run.spec
    exit_code = "" if run.exit_code is None else f" (exit code {run.exit_code})"
    duration = ""
    if run.started_at and run.finished_at:
        duration = f" ({run.finished_at - run.started_at:.1f}s)"
    return [
        ("id", run.id),
        ("project", s.project),
        ("user", run.user),
        ("state", f"{run.state}{exit_code}"),
        ("reason", run.reason or "-"),
        ("node", f"{run.node} (attempt {run.attempt})" if run.node else "-"),
        ("command", " ".join(s.command)),
        ("snapshot", s.snapshot or "-"),
        ("output snapshot", run.output_snapshot or "-"),
        ("output dropped", dropped_text(run)),
        ("image", s.image or "-"),
        ("runtime", run.runtime or s.runtime or "-"),
        ("resources", resources_text(run)),
        ("gpus given", " ".join(run.gpu_uuids) or "-"),
        ("priority", str(s.priority)),
        ("node labels", pairs_text(s.node_labels)),
        ("retries", str(s.retries)),
        ("env", pairs_text(s.env)),
        ("network", s.network),
        ("datasets", " ".join(s.datasets) or "-"),
        ("parent run", s.parent_run or "-"),
        ("rerun of", s.rerun_of or "-"),
        ("created", when(run.created_at)),
        ("started", when(run.started_at) or "-"),
        ("finished", (when(run.finished_at) + duration) if run.finished_at else "-"),
    ]


def print_record(r: RunRecord) -> None:
    for key, value in spec_rows(r.run):
        print(f"{key:>16}: {value}")
    print()
    table(
        ["TIME", "STATE", "ATTEMPT", "NODE", "CAUSE"],
        [(when(e.time), e.state, e.attempt, e.node, e.cause) for e in r.run.events],
        "no state changes recorded",
    )
    _section("params", ["PARAM", "VALUE"], sorted(r.params.items()), "no params logged")
    _section(
        "metrics (final)",
        ["METRIC", "LAST", "STEP", "MIN", "MAX", "POINTS"],
        [(k, _num(v), step, _num(lo), _num(hi), n) for k, v, step, lo, hi, n in r.metrics],
        "no metrics logged",
    )
    _section("tags", ["TAG", "VALUE"], sorted(r.tags.items()), "no tags")
    _section("artifacts", ["PATH"], [(a,) for a in r.artifacts], "no artifacts logged")
    _section("models", ["PATH", "NAME", "FLAVOR"], list(r.models), "no models logged")
    _section("inputs", ["ENTITY"], [(i,) for i in r.inputs], "no inputs recorded")
    packages = r.environment.get("packages", "")
    env_rows = [(k, v) for k, v in sorted(r.environment.items()) if k != "packages"]
    if packages:
        env_rows.append(("packages", f"{len(packages.splitlines())} (kiln run show {r.run.id} --json lists them)"))
    _section("environment", ["KEY", "VALUE"], env_rows, "no environment recorded")


def _num(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.6g}"


def _section(title: str, columns: list[str], rows: list[Any], empty: str) -> None:
    print(f"\n{title}:")
    table(columns, rows, f"  {empty}")
