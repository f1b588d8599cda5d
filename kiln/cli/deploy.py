"""`kiln deploy …` (endpoints), `kiln predictions`, `kiln prediction`, `kiln feedback`, `kiln score`."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import shlex
import sys
from pathlib import Path
from typing import Any

from kiln.cli.common import add_json, add_project, command, group, project_of
from kiln.cli.output import emit_json, table, when
from kiln.cli.session import connect
from kiln.core.errors import InvalidArgument

SPLIT_HELP = "VERSION=WEIGHT, comma-separated, weights adding up to 100 (e.g. 3=90,4=10)"


def register(sub: Any) -> None:
    g = group(sub, "deploy", "serve model versions as endpoints: create, list, show, scale, traffic, stop")
    p = command(g, "create", "serve a model version (or the version an alias names) at /endpoints/NAME", create)
    p.add_argument("name", help="the endpoint's name, unique in the installation (its URL)")
    p.add_argument("--model", "-m", required=True)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--version", type=int, default=0)
    which.add_argument("--alias", default="", help="follow this alias (e.g. production): its moves roll the endpoint")
    p.add_argument("--replicas", type=int, default=1, help="replicas per version in the traffic (default 1)")
    p.add_argument("--cpus", type=float, default=0.0, help="reserved per replica (default 1)")
    p.add_argument("--memory", default="0", help="reserved and limited per replica, e.g. 2G")
    p.add_argument("--gpus", type=int, default=0)
    p.add_argument("--env", default="", help="environment NAME[:VERSION] (default: the training run's)")
    p.add_argument("--sticky-header", default="", help="requests with this header always reach the same version")
    p.add_argument("--sample-rate", type=float, default=0.0, help="share of requests the ledger keeps (default 1)")
    add_project(p)
    add_json(p)
    p = command(g, "list", "the endpoints you can see", deploy_list)
    add_project(p, "only this project's (default: $KILN_PROJECT, else kiln project use's; with neither, every one)")
    add_json(p)
    p = command(g, "show", "an endpoint: versions and weights, replicas and health, per-version card, history", show)
    p.add_argument("name")
    p.add_argument("--since", default="1h", help="the card's window, e.g. 15m, 1h, 1d (default 1h)")
    add_json(p)
    p = command(g, "scale", "replicas per version", scale)
    p.add_argument("name")
    p.add_argument("replicas", type=int)
    add_json(p)
    p = command(g, "stop", "stop serving: the replicas end, the URL answers 404", stop)
    p.add_argument("name")
    add_json(p)
    p = command(g, "traffic", "weights between versions, a shadow version, a sticky header", traffic)
    p.add_argument("name")
    p.add_argument("--split", required=True, help=SPLIT_HELP)
    p.add_argument("--shadow", type=int, default=0, help="a version mirrored: its answers recorded, never returned")
    p.add_argument("--sticky-header", default="", help="requests carrying this header keep their version")
    p.add_argument("--pin", action="store_true", help="stop following the alias: serve exactly these versions")
    add_json(p)
    p = command(
        g, "promote", "move production to a version through its approvals; endpoints following it roll", promote
    )
    p.add_argument("name", help="the endpoint")
    p.add_argument("version", type=int)
    p.add_argument("--message", "-m", default="")
    add_json(p)
    p = command(g, "token", "a token that only invokes this endpoint (for client applications)", token)
    p.add_argument("name")
    p.add_argument("--token-name", default="client", help="what the token is for (default: client)")
    p.add_argument("--expires", default="", help="lifetime, e.g. 30d (default 90 days, within the coordinator's cap)")
    add_json(p)
    p = command(g, "revoke-token", "revoke an endpoint token", revoke_token)
    p.add_argument("token_id", metavar="TOKEN_ID")
    add_json(p)

    p = command(sub, "predictions", "an endpoint's recorded predictions, newest first", predictions)
    p.add_argument("name")
    p.add_argument("--since", default="1h", help="how far back, e.g. 15m, 1h, 7d (default 1h); 0: everything")
    p.add_argument("--version", type=int, default=0, help="only this model version's")
    p.add_argument("--limit", type=int, default=100, help="at most this many (default 100; 0: every one)")
    p.add_argument("--bodies", action="store_true", help="with the captured request and answer")
    add_json(p)
    p = command(
        sub, "prediction", "one prediction and what it traces to: model version, run, data, environment", prediction
    )
    p.add_argument("id", help="the X-Kiln-Prediction-Id of the answer")
    add_json(p)
    p = command(
        sub, "feedback", "ground truth for an endpoint's predictions, from a CSV of prediction_id,label", feedback
    )
    p.add_argument("name")
    p.add_argument("labels", type=Path, help="CSV with a header naming prediction_id and label columns ('-': stdin)")
    add_json(p)
    p = command(sub, "score", "batch scoring as a tracked run: a model version over a dataset version", score)
    p.add_argument("model", metavar="MODEL:VERSION")
    p.add_argument("--input", required=True, metavar="DATASET[:VERSION]")
    p.add_argument(
        "--output", default="", help="the dataset the predictions become a version of (default MODEL-scores)"
    )
    p.add_argument("--cpus", type=float, default=0.0)
    p.add_argument("--memory", default="0")
    p.add_argument("--env", default="")
    add_project(p)
    add_json(p)


def _resources(args: argparse.Namespace) -> Any:
    from kiln.core.runs import Resources
    from kiln.core.units import parse_size

    return Resources(cpus=args.cpus, memory_bytes=parse_size(args.memory), gpus=getattr(args, "gpus", 0))


def _since(text: str) -> float:
    from kiln.core import clock
    from kiln.core.units import parse_duration

    if text in ("0", ""):
        return 0.0
    return clock.now() - parse_duration(text)


def deployment_dict(d: Any) -> dict[str, Any]:
    out = dataclasses.asdict(d)
    out["traffic"] = [dataclasses.asdict(s) for s in d.traffic]
    out["serving"] = [dataclasses.asdict(s) for s in d.serving]
    return out


def _splits_text(splits: Any) -> str:
    from kiln.core.deployments import splits_text

    return splits_text(splits)


def create(args: argparse.Namespace) -> int:
    with connect() as client:
        d = client.create_deployment(
            project_of(args),
            args.name,
            args.model,
            version=args.version,
            alias=args.alias,
            replicas=args.replicas,
            resources=_resources(args),
            environment=args.env,
            sticky_header=args.sticky_header,
            sample_rate=args.sample_rate,
        )
    if args.json:
        emit_json(deployment_dict(d))
        return 0
    print(f"endpoint {d.name}: {d.model} {_splits_text(d.traffic)}, {d.replicas} replica(s); starting")
    print(f"  url: {d.url or '(no gateway is running on this coordinator)'}")
    print(f"  follow it: kiln deploy show {d.name}")
    return 0


def deploy_list(args: argparse.Namespace) -> int:
    with connect() as client:
        found = client.list_deployments(project_of(args, required=False))
    if args.json:
        emit_json([deployment_dict(d) for d in found])
        return 0
    table(
        ["NAME", "PROJECT", "MODEL", "STATE", "SERVING", "ASKED", "READY", "URL"],
        [
            (
                d.name,
                d.project,
                d.model + (f" @{d.alias}" if d.alias else ""),
                d.state,
                _splits_text(d.serving),
                _splits_text(d.traffic),
                f"{sum(r.ready for r in d.replica_list)}/{len(d.replica_list)}",
                d.url,
            )
            for d in found
        ],
        empty="no endpoints (kiln deploy create NAME --model MODEL --version 1)",
    )
    return 0


def show(args: argparse.Namespace) -> int:
    with connect() as client:
        d = client.get_deployment(args.name)
        cards = client.deployment_stats(args.name, _since(args.since))
    if args.json:
        emit_json({**deployment_dict(d), "cards": [dataclasses.asdict(c) for c in cards]})
        return 0
    print(
        f"endpoint {d.name} ({d.project}): {d.model}" + (f", following {d.alias}" if d.alias else "") + f", {d.state}"
    )
    print(f"  url:     {d.url or '-'}")
    print(f"  serving: {_splits_text(d.serving)}")
    if d.traffic != d.serving:
        print(f"  asked:   {_splits_text(d.traffic)} (switches once its replicas are ready)")
    print(f"  replicas per version: {d.replicas}; per replica {d.cpus:g} cpus" + (f", {d.gpus} gpus" if d.gpus else ""))
    print()
    table(
        ["REPLICA", "VERSION", "STATE", "READY", "NODE", "ADDRESS", "STARTED"],
        [
            (r.run_id, r.version, r.state, "yes" if r.ready else "no", r.node, r.address, when(r.started_at))
            for r in d.replica_list
        ],
        empty="no replicas yet",
    )
    print()
    table(
        ["VERSION", "REQUESTS", "ERRORS", "P50 MS", "P99 MS", "REQ/S", "LABELLED", "ACCURACY", "MAE"],
        [
            (
                c.version or "none",  # requests no version answered (no ready replica)
                c.requests,
                c.errors,
                f"{c.p50_ms:.2f}",
                f"{c.p99_ms:.2f}",
                f"{c.rate_per_s:.1f}",
                c.labelled,
                "-" if c.accuracy is None else f"{c.accuracy:.3f}",
                "-" if c.mae is None else f"{c.mae:.4g}",
            )
            for c in cards
        ],
        empty=f"no requests in the last {args.since}",
    )
    print()
    table(["TIME", "STATE", "CAUSE", "BY"], [(when(e.time), e.state, e.cause, e.actor) for e in d.events[-15:]])
    return 0


def _done(args: argparse.Namespace, d: Any, text: str) -> int:
    if args.json:
        emit_json(deployment_dict(d))
    else:
        print(text)
    return 0


def scale(args: argparse.Namespace) -> int:
    with connect() as client:
        d = client.scale_deployment(args.name, args.replicas)
    return _done(args, d, f"endpoint {d.name}: {d.replicas} replica(s) per version")


def stop(args: argparse.Namespace) -> int:
    with connect() as client:
        d = client.stop_deployment(args.name)
    return _done(args, d, f"endpoint {d.name} stopped; its replicas are ending")


def parse_splits(text: str, shadow: int) -> tuple[Any, ...]:
    from kiln.core.deployments import Split

    splits = []
    for part in text.split(","):
        version, sep, weight = part.strip().partition("=")
        if not sep or not version.strip().isdigit() or not weight.strip().isdigit():
            raise InvalidArgument(f"bad split {part!r}: use {SPLIT_HELP}")
        splits.append(Split(int(version), int(weight)))
    if shadow:
        splits.append(Split(shadow, 0, shadow=True))
    return tuple(splits)


def traffic(args: argparse.Namespace) -> int:
    splits = parse_splits(args.split, args.shadow)
    with connect() as client:
        d = client.set_traffic(args.name, splits, args.sticky_header, follow_alias=not args.pin)
    return _done(args, d, f"endpoint {d.name}: asked {_splits_text(d.traffic)}; it switches once replicas are ready")


def promote(args: argparse.Namespace) -> int:
    from kiln.cli.records import _request_dict

    with connect() as client:
        d = client.get_deployment(args.name)
        r = client.request_alias(d.project, d.model, args.version, "production", args.message)
    if args.json:
        emit_json(_request_dict(r))
    elif r.state == "applied":
        print(f"production now points at {d.model} version {args.version}")
    else:
        print(
            f"request {r.id}: production -> {d.model} version {args.version} waits for {r.required_approvals} "
            "approval(s); a validator approves it with: "
            + shlex.join(["kiln", "model", "review", d.model, str(args.version), "--approve", "-p", d.project])
        )
        if d.alias != "production":
            print(f"note: endpoint {d.name} does not follow production; it will not roll by itself")
    return 0


def token(args: argparse.Namespace) -> int:
    from kiln.core.units import parse_duration

    ttl = parse_duration(args.expires) if args.expires else 0.0
    with connect() as client:
        t = client.create_endpoint_token(args.name, args.token_name, ttl)
    if args.json:
        emit_json(dataclasses.asdict(t))
        return 0
    print(t.secret)
    print(
        f"endpoint token {t.id} for {t.deployment}, until {when(t.expires_at)}: shown once, keep it safe",
        file=sys.stderr,
    )
    return 0


def revoke_token(args: argparse.Namespace) -> int:
    with connect() as client:
        t = client.revoke_endpoint_token(args.token_id)
    if args.json:
        emit_json(dataclasses.asdict(t))
    else:
        print(f"endpoint token {t.id} of {t.deployment} revoked")
    return 0


def _prediction_dict(p: Any, bodies: bool = True) -> dict[str, Any]:
    record = dataclasses.asdict(p.record)
    for key in ("request", "response"):
        record[key] = p.record.__getattribute__(key).decode("utf-8", "replace") if bodies else None
        if not bodies:
            record.pop(key)
    return {**dataclasses.asdict(p), "record": record}


def predictions(args: argparse.Namespace) -> int:
    with connect() as client:
        found = client.list_predictions(
            args.name, since=_since(args.since), version=args.version, bodies=args.bodies, limit=args.limit
        )
    if args.json:
        emit_json([_prediction_dict(p, args.bodies) for p in found])
        return 0
    table(
        ["ID", "TIME", "VERSION", "STATUS", "MS", "CALLER", "LABEL"] + (["REQUEST", "ANSWER"] if args.bodies else []),
        [
            (
                p.record.id,
                when(p.record.time),
                f"{p.record.version}" + (" shadow" if p.record.shadow else ""),
                p.record.status,
                f"{p.record.latency_ms:.2f}",
                p.record.caller,
                p.label or "-",
                *([_short(p.record.request), _short(p.record.response)] if args.bodies else []),
            )
            for p in found
        ],
        empty=f"no predictions in the last {args.since}",
    )
    return 0


def _short(data: bytes, most: int = 60) -> str:
    text = data.decode("utf-8", "replace").replace("\n", " ")
    return text if len(text) <= most else text[: most - 1] + "…"


def prediction(args: argparse.Namespace) -> int:
    with connect() as client:
        p = client.get_prediction(args.id)
    if args.json:
        emit_json(_prediction_dict(p))
        return 0
    r = p.record
    print(f"prediction {r.id} of endpoint {r.endpoint} ({p.project}), {when(r.time)}")
    print(f"  model:       {p.model} version {r.version}" + (" (shadow: not returned)" if r.shadow else ""))
    print(f"  trained by:  run {p.model_run or '-'} (kiln lineage model:{p.project}/{p.model}@{r.version})")
    print(f"  code:        snapshot {p.snapshot[:12] or '-'}")
    print(f"  data:        {', '.join(p.datasets) or '-'}")
    print(f"  environment: {p.environment or '-'}")
    print(f"  answered:    {r.status} in {r.latency_ms:.2f} ms by replica {r.replica or '-'} on {r.node or '-'}")
    print(f"  caller:      {r.caller}")
    if r.error:
        print(f"  error:       {r.error}")
    print(f"  request:     {_short(r.request, 200)}" + (" (cut)" if r.truncated else ""))
    print(f"  answer:      {_short(r.response, 200)}")
    print(f"  label:       {p.label or '-'}" + (f" ({when(p.labelled_at)})" if p.labelled_at else ""))
    return 0


def read_labels(path: Path) -> list[tuple[str, str]]:
    """(prediction id, label) rows of a CSV with a header naming prediction_id and label."""
    stream = sys.stdin if str(path) == "-" else path.open(newline="", encoding="utf-8")
    try:
        reader = csv.DictReader(stream)
        fields = reader.fieldnames or []
        if "prediction_id" not in fields or "label" not in fields:
            raise InvalidArgument(f"{path}: the header must name prediction_id and label columns (it has {fields})")
        rows = [(row["prediction_id"].strip(), row["label"]) for row in reader]
    finally:
        if stream is not sys.stdin:
            stream.close()
    if not rows:
        raise InvalidArgument(f"{path}: no labels under the header")
    return rows


def feedback(args: argparse.Namespace) -> int:
    from kiln.core.deployments import MAX_LABELS

    rows = read_labels(args.labels)
    joined, unknown = 0, []
    with connect() as client:
        for start in range(0, len(rows), MAX_LABELS):
            n, missing = client.add_feedback(args.name, rows[start : start + MAX_LABELS])
            joined += n
            unknown += missing
    if args.json:
        emit_json({"joined": joined, "given": len(rows), "unknown": unknown})
        return 0
    print(f"{joined} of {len(rows)} labels joined to predictions of {args.name}")
    if joined < len(rows):
        print(
            f"no prediction of {args.name} has the id(s): {', '.join(unknown[:5])}" + ("…" if len(unknown) > 5 else "")
        )
        return 1
    return 0


def score(args: argparse.Namespace) -> int:
    model, _, version = args.model.partition(":")
    if not version.isdigit():
        raise InvalidArgument(f"name the model version to score as MODEL:VERSION (got {args.model!r})")
    args.gpus = 0
    with connect() as client:
        run = client.score_batch(
            project_of(args), model, int(version), args.input, args.output, _resources(args), args.env
        )
    if args.json:
        from kiln.cli.runs import run_dict

        emit_json(run_dict(run))
        return 0
    print(f"{run.id}: scoring {model}:{version} over {args.input}; predictions become a version of "
          f"{args.output or model + '-scores'} when it succeeds")  # fmt: skip
    print(f"  follow it: kiln logs {run.id} -f")
    return 0
