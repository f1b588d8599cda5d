"""`kiln metrics`, `compare`, `dataset`/`datasets`, `model …`, `comment`/`comments`, `lineage`."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from kiln.cli.common import add_json, add_project, command, group, project_of
from kiln.cli.output import emit_json, table, when
from kiln.cli.progress import reporter_for
from kiln.cli.runview import number, record_dict
from kiln.cli.session import cache_dir, connect
from kiln.core import lineage
from kiln.core.compare import compare_fields
from kiln.core.errors import InvalidArgument
from kiln.core.models import ModelVersion

THREAD_HELP = (
    "whose comments on a snapshot several of your projects hold (default: $KILN_PROJECT, else kiln project use's)"
)


def _project(p: argparse.ArgumentParser) -> None:
    add_project(p)


def register(sub: Any) -> None:
    p = command(sub, "metrics", "a run's metric histories (downsampled on the coordinator)", metrics)
    p.add_argument("run")
    p.add_argument("--key", action="append", default=[], help="only this metric (repeatable)")
    p.add_argument("--max-points", type=int, default=1000, help="at most this many points per metric")
    add_json(p)
    p = command(
        sub,
        "compare",
        "runs side by side: params, final metrics, inputs, environment",
        compare,
        description="Runs side by side: what each ran (spec), params, final metrics, inputs and environment. "
        "A * marks each row whose values differ.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run ids, or unique prefixes such as r-1a2b")
    p.add_argument(
        "--diff",
        "--only-differences",
        dest="only_differences",
        action="store_true",
        help="show only the rows whose values differ",
    )
    add_json(p)
    p = command(sub, "datasets", "a project's datasets and their versions", datasets)
    _project(p)
    add_json(p)
    g = group(sub, "dataset", "named, versioned snapshots used as run inputs")
    p = command(g, "create", "push a folder as a dataset's first (or next) version", dataset_create)
    p.add_argument("name")
    p.add_argument("path", type=Path)
    p.add_argument("--description", "-d", default="")
    _project(p)
    add_json(p)
    _register_models(sub)
    p = command(sub, "comment", "comment on a run, snapshot, dataset or model version", comment)
    p.add_argument("entity")
    p.add_argument("--message", "-m", required=True)
    add_project(p, THREAD_HELP)
    p = command(sub, "comments", "the comments on an entity", comments)
    p.add_argument("entity")
    add_project(p, THREAD_HELP)
    add_json(p)
    p = command(
        sub,
        "lineage",
        "what an entity came from and what came of it",
        lineage_cmd,
        description="lineage ID [--up|--down] [--depth N] [--json|--dot], or: lineage export --openlineage FILE",
    )
    p.add_argument("entity", help="r-…, a snapshot id, dataset:P/N@V, model:P/N@V (or 'export')")
    direction = p.add_mutually_exclusive_group()
    direction.add_argument("--up", action="store_true", help="ancestors only")
    direction.add_argument("--down", action="store_true", help="descendants only")
    p.add_argument("--depth", type=int, default=5)
    p.add_argument("--dot", action="store_true", help="print Graphviz text")
    p.add_argument("--openlineage", type=Path, metavar="FILE", help="with export: write OpenLineage RunEvents (JSONL)")
    _project(p)
    add_json(p)


def _register_models(sub: Any) -> None:
    g = group(sub, "model", "the model registry: versions, aliases, approvals")
    p = command(g, "register", "make a version of a model from a path in a run's output", model_register)
    p.add_argument("run", help="a run id, or a unique prefix such as r-1a2b")
    p.add_argument("path")
    p.add_argument("--name", required=True)
    p.add_argument("--tag", action="append", default=[], metavar="K=V")
    add_project(p, "the project the run must be in (default: $KILN_PROJECT, else the one set with kiln project use)")
    add_json(p)
    p = command(g, "list", "registered models", model_list)
    _project(p)
    add_json(p)
    p = command(g, "show", "a model's versions and aliases", model_show)
    p.add_argument("name")
    _project(p)
    add_json(p)
    p = command(g, "request", "ask for an alias to point at a version (production needs approvals)", model_request)
    p.add_argument("name")
    p.add_argument("version", type=int)
    p.add_argument("--alias", required=True)
    p.add_argument("--message", "-m", default="")
    _project(p)
    add_json(p)
    p = command(g, "review", "approve or reject the open request for a version (validators)", model_review)
    p.add_argument("name")
    p.add_argument("version", type=int)
    verdict = p.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--approve", action="store_true")
    verdict.add_argument("--reject", action="store_true")
    p.add_argument("--message", "-m", default="")
    _project(p)
    add_json(p)
    p = command(g, "history", "alias moves, or where aliases pointed at a time (--at)", model_history)
    p.add_argument("name")
    p.add_argument("--at", default="", help="ISO time, e.g. 2026-11-24T10:00:00Z")
    _project(p)
    add_json(p)
    p = command(g, "policy", "how many validators must approve a move of production", model_policy)
    p.add_argument("--approvals", type=int, required=True)
    _project(p)


def _need_project(args: argparse.Namespace) -> str:
    return project_of(args)


def metrics(args: argparse.Namespace) -> int:
    with connect() as client:
        found = client.metrics(args.run, args.key, args.max_points)
    if args.json:
        emit_json(
            [
                {
                    "key": m.key,
                    "total_points": m.total_points,
                    "points": [{"step": s, "value": number(v), "timestamp": t} for s, v, t in m.points],
                }
                for m in found
            ]
        )
    else:
        table(
            ["KEY", "POINTS", "SHOWN", "LAST STEP", "LAST VALUE"],
            [
                (
                    m.key,
                    m.total_points,
                    len(m.points),
                    m.points[-1][0] if m.points else "",
                    m.points[-1][1] if m.points else "",
                )
                for m in found
            ],
            "no metrics logged",
        )
    return 0


def compare(args: argparse.Namespace) -> int:
    with connect() as client:
        records = [client.run_record(r) for r in args.runs]
    # A row no run has a value for says nothing; the others are marked where the runs differ.
    texts = [(f.label, [v or "" for v in f.values]) for f in compare_fields(records)]
    rows = [(name, values, len(set(values)) > 1) for name, values in texts if any(values)]
    if args.only_differences:
        rows = [row for row in rows if row[2]]
    if args.json:
        emit_json(
            {
                "runs": [record_dict(r) for r in records],
                "rows": [{"field": name, "values": values, "differs": differs} for name, values, differs in rows],
                "differing": [name for name, _, differs in rows if differs],
            }
        )
        return 0
    table(
        ["", "", *(r.run.id for r in records)],
        [("*" if differs else "", name, *values) for name, values, differs in rows],
        "no differences" if args.only_differences else "nothing to compare",
    )
    return 0


def datasets(args: argparse.Namespace) -> int:
    with connect() as client:
        found = client.list_datasets(_need_project(args))
    if args.json:
        emit_json(
            [
                {
                    "name": v.name,
                    "version": v.version,
                    "snapshot": v.snapshot,
                    "files": v.files,
                    "bytes": v.bytes,
                    "created_by": v.created_by,
                    "created_at": when(v.created_at),
                    "id": lineage.dataset_id(v.project, v.name, v.version),
                }
                for v in found
            ]
        )
    else:
        table(
            ["NAME", "VERSION", "SNAPSHOT", "FILES", "CREATED", "BY"],
            [(v.name, v.version, v.snapshot[:12], v.files, when(v.created_at), v.created_by) for v in found],
            "no datasets; create one with kiln dataset create NAME PATH",
        )
    return 0


def dataset_create(args: argparse.Namespace) -> int:
    project = _need_project(args)
    if not args.path.is_dir():
        raise InvalidArgument(f"{args.path} is not a folder")
    from kiln.sync.push import push

    with connect() as client:
        snap = push(
            client, args.path.resolve(), project, f"dataset {args.name}", cache_dir(), reporter_for(args.json)
        ).snapshot
        v = client.add_dataset_version(project, args.name, snap.id, args.description)
    if args.json:
        emit_json(
            {
                "name": v.name,
                "version": v.version,
                "snapshot": v.snapshot,
                "id": lineage.dataset_id(project, v.name, v.version),
            }
        )
    else:
        print(
            f"dataset {v.name} version {v.version} (snapshot {v.snapshot[:12]}); use it with "
            f"kiln run --dataset {v.name}:{v.version}"
        )
    return 0


def _version_dict(v: ModelVersion) -> dict[str, object]:
    return {
        "name": v.name,
        "version": v.version,
        "run": v.run_id,
        "path": v.path,
        "snapshot": v.snapshot,
        "aliases": list(v.aliases),
        "metrics": {k: number(x) for k, x in v.metrics.items()},
        "tags": v.tags,
        "created_by": v.created_by,
        "created_at": when(v.created_at),
        "id": lineage.model_id(v.project, v.name, v.version),
    }


def model_register(args: argparse.Namespace) -> int:
    tags = dict(t.split("=", 1) for t in args.tag if "=" in t)
    project = project_of(args, required=False)
    with connect() as client:
        run = client.get_run(args.run)
        if project and run.spec.project != project:
            raise InvalidArgument(
                f"run {run.id} is in project {run.spec.project!r}, not {project!r}: "
                f"pass -p {run.spec.project} to register it there"
            )
        v = client.register_model(run.id, args.path, args.name, tags)
    if args.json:
        emit_json(_version_dict(v))
    else:
        print(f"model {v.name} version {v.version} from run {v.run_id} ({v.path})")
    return 0


def model_list(args: argparse.Namespace) -> int:
    with connect() as client:
        found = client.list_models(_need_project(args))
    if args.json:
        emit_json([{"name": m.name, "versions": len(m.versions), "aliases": m.aliases} for m in found])
    else:
        table(
            ["NAME", "VERSIONS", "ALIASES"],
            [(m.name, len(m.versions), " ".join(f"{a}=v{v}" for a, v in sorted(m.aliases.items()))) for m in found],
            "no models registered",
        )
    return 0


def model_show(args: argparse.Namespace) -> int:
    project = _need_project(args)
    with connect() as client:
        model = client.get_model(project, args.name)
        requests = client.alias_requests(project, args.name)
    if args.json:
        emit_json(
            {
                "name": args.name,
                "aliases": model.aliases,
                "required_approvals": model.required_approvals,
                "versions": [_version_dict(v) for v in model.versions],
                "requests": [_request_dict(r) for r in requests],
            }
        )
    else:
        table(
            ["VERSION", "ALIASES", "RUN", "PATH", "CREATED"],
            [(v.version, ",".join(v.aliases), v.run_id, v.path, when(v.created_at)) for v in model.versions],
        )
        print(f"production needs {model.required_approvals} approval(s)")
    return 0


def _request_dict(r: Any) -> dict[str, object]:
    return {
        "id": r.id,
        "version": r.version,
        "alias": r.alias,
        "requester": r.requester,
        "state": r.state,
        "required_approvals": r.required_approvals,
        "created_at": when(r.created_at),
        "reviews": [{"reviewer": a, "approve": b, "message": c, "time": when(d)} for a, b, c, d in r.reviews],
    }


def model_request(args: argparse.Namespace) -> int:
    with connect() as client:
        r = client.request_alias(_need_project(args), args.name, args.version, args.alias, args.message)
    if args.json:
        emit_json(_request_dict(r))
    elif r.state == "applied":
        print(f"{args.alias} now points at {args.name} version {args.version}")
    else:
        print(f"request {r.id}: {args.alias} -> version {args.version} waits for {r.required_approvals} approval(s)")
    return 0


def model_review(args: argparse.Namespace) -> int:
    with connect() as client:
        r = client.review(_need_project(args), args.name, args.version, args.approve, args.message)
    if args.json:
        emit_json(_request_dict(r))
    else:
        print(
            f"request {r.id} is {r.state}"
            + (f": {r.alias} now points at version {r.version}" if r.state == "approved" else "")
        )
    return 0


def model_history(args: argparse.Namespace) -> int:
    at = 0.0
    if args.at:
        try:
            at = datetime.fromisoformat(args.at.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise InvalidArgument(f"not a time: {args.at!r} (use ISO 8601, e.g. 2026-11-24T10:00:00Z)") from None
    with connect() as client:
        moves = client.alias_history(_need_project(args), args.name, at)
    if args.json:
        emit_json([{**dataclasses.asdict(m), "time": when(m.time)} for m in moves])
    else:
        table(
            ["ALIAS", "VERSION", "TIME", "BY", "REQUEST"],
            [(m.alias, m.version, when(m.time), m.actor, m.request_id) for m in moves],
            "no alias was set by then" if at else "no alias moves yet",
        )
    return 0


def model_policy(args: argparse.Namespace) -> int:
    project = _need_project(args)
    with connect() as client:
        n = client.set_policy(project, args.approvals)
    print(f"moving production in {project} now needs {n} approval(s)")
    return 0


def _thread(args: argparse.Namespace) -> str:
    """The project whose comments on the entity are meant: -p, or for a snapshot or an environment (content
    several projects may hold, each with its own comments) the default project; a run, dataset or model
    version has its own project."""
    if args.project:
        return str(args.project)
    return project_of(args, required=False) if lineage.split(args.entity.strip())[0] in lineage.SHARED_KINDS else ""


def comment(args: argparse.Namespace) -> int:
    with connect() as client:
        c = client.add_comment(args.entity, args.message, _thread(args))
    print(f"comment {c.id} on {c.entity} in {c.project}")
    return 0


def comments(args: argparse.Namespace) -> int:
    with connect() as client:
        found = client.list_comments(args.entity, _thread(args))
    if args.json:
        emit_json(
            [
                {
                    "id": c.id,
                    "entity": c.entity,
                    "project": c.project,
                    "author": c.author,
                    "text": c.text,
                    "time": when(c.time),
                }
                for c in found
            ]
        )
    else:
        for c in found:
            print(f"{when(c.time)} {c.author}: {c.text}")
        if not found:
            print("no comments")
    return 0


def lineage_cmd(args: argparse.Namespace) -> int:
    if args.entity == "export":
        if not args.openlineage:
            raise InvalidArgument("lineage export needs --openlineage FILE")
        count = 0
        with connect() as client, open(args.openlineage, "w") as out:
            for line in client.export_openlineage(project_of(args, required=False)):
                out.write(line + "\n")
                count += 1
        print(f"wrote {count} OpenLineage events to {args.openlineage}", file=sys.stderr)
        return 0
    direction = "up" if args.up else "down" if args.down else ""
    with connect() as client:
        g = client.lineage(args.entity, direction, args.depth)
    if args.dot:
        sys.stdout.write(lineage.to_dot(g.root, [(n.id, n.label) for n in g.nodes], list(g.edges)))
    elif args.json:
        emit_json(
            {
                "root": g.root,
                "nodes": [{"id": n.id, "kind": n.kind, "label": n.label, "project": n.project} for n in g.nodes],
                "edges": [{"src": e.src, "dst": e.dst, "relation": e.relation} for e in g.edges],
            }
        )
    else:
        table(["FROM", "RELATION", "TO"], [(e.src, e.relation, e.dst) for e in g.edges], f"{g.root}: no lineage")
    return 0
