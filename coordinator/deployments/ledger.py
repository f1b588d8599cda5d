"""The prediction ledger: what gateways recorded of every request, what each prediction traces to, the
ground truth joined by prediction id, and each version's card (requests, errors, latency, quality)."""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from kiln.coordinator.context import Coordinator
from kiln.coordinator.deployments.manage import deployment_row
from kiln.core import clock, limits
from kiln.core.deployments import (
    MAX_CAPTURE_BYTES,
    MAX_LABEL_BYTES,
    MAX_LABELS,
    Prediction,
    PredictionRecord,
    VersionCard,
)
from kiln.core.errors import InvalidArgument, NotFound
from kiln.core.paging import Page, PageRequest, page_of
from kiln.core.permissions import Need, Principal

MAX_ID_CHARS = 64
RATE_WINDOW_S = 60.0


def record(ctx: Coordinator, records: Sequence[PredictionRecord]) -> int:
    """Stores a gateway's batch (each record once, by id); how many were new."""
    kept = []
    for r in records:
        if not r.id or len(r.id) > MAX_ID_CHARS or not r.endpoint:
            continue  # a gateway's bug must not stop the batch: what cannot be named cannot be kept
        kept.append(r if len(r.request) <= MAX_CAPTURE_BYTES and len(r.response) <= MAX_CAPTURE_BYTES else _cut(r))
    return ctx.store.add_predictions(kept) if kept else 0


def _cut(r: PredictionRecord) -> PredictionRecord:
    return replace(r, request=r.request[:MAX_CAPTURE_BYTES], response=r.response[:MAX_CAPTURE_BYTES], truncated=True)


def list_page(
    ctx: Coordinator,
    who: Principal,
    name: str,
    since: float,
    until: float,
    version: int,
    page: PageRequest,
    bodies: bool = True,
) -> Page[Prediction]:
    row = deployment_row(ctx, who, name)
    if not (math.isfinite(since) and math.isfinite(until)) or since < 0 or until < 0:
        raise InvalidArgument("since and until are times in seconds since the epoch")
    after = (float(page.after[0]), str(page.after[1])) if page.after else None
    rows = ctx.store.predictions(name, since, until or math.inf, version, after, page.size + 1, bodies)
    found = page_of(rows, page.size, lambda r: (r["time"], r["id"]))
    return found.map(
        lambda r: Prediction(_record(r), row["project"], row["model"], label=r["label"], labelled_at=r["labelled_at"])
    )


def get(ctx: Coordinator, who: Principal, prediction_id: str) -> Prediction:
    """One prediction with what it traces to: the model version's run, its code snapshot, the dataset
    versions it was given, and its environment."""
    limits.REFERENCE.check(prediction_id, field="prediction id")
    r = ctx.store.prediction(prediction_id)
    if r is None:
        raise NotFound(f"no prediction {prediction_id!r} (kiln predictions ENDPOINT lists them)")
    row = deployment_row(ctx, who, r["deployment"])
    version = ctx.store.model_version(row["project"], row["model"], r["version"])
    run_id = version["run_id"] if version else ""
    run = ctx.store.run(run_id, with_events=False) if run_id else None
    environment = ""
    if run is not None:
        facts = ctx.store.environment(run.id)
        environment = run.spec.environment or run.spec.image or facts.get("python", "")
    return Prediction(
        _record(r),
        row["project"],
        row["model"],
        model_run=run_id,
        snapshot=run.spec.snapshot if run else "",
        datasets=run.spec.datasets if run else (),
        environment=environment,
        label=r["label"],
        labelled_at=r["labelled_at"],
    )


def _record(r: dict[str, Any]) -> PredictionRecord:
    return PredictionRecord(
        id=r["id"],
        endpoint=r["deployment"],
        version=r["version"],
        time=r["time"],
        latency_ms=r["latency_ms"],
        status=r["status"],
        replica=r["replica"],
        node=r["node"],
        shadow=bool(r["shadow"]),
        caller=r["caller"],
        content_type=r["content_type"],
        request=bytes(r["request"]),
        response=bytes(r["response"]),
        truncated=bool(r["truncated"]),
        error=r["error"],
    )


def check_labels(labels: Sequence[tuple[str, str]]) -> None:
    if not labels:
        raise InvalidArgument("no labels given (each is a prediction id and its true value)")
    if len(labels) > MAX_LABELS:
        raise InvalidArgument(f"{len(labels):,} labels in one call; at most {MAX_LABELS:,} (send them in parts)")
    for prediction_id, label in labels:
        if not prediction_id or len(prediction_id) > MAX_ID_CHARS:
            raise InvalidArgument(
                f"prediction id {limits.preview(prediction_id)} is not one (p-… from X-Kiln-Prediction-Id)"
            )
        if limits.utf8_size(label) > MAX_LABEL_BYTES:
            raise InvalidArgument(f"the label of {prediction_id} is over {MAX_LABEL_BYTES} bytes")


def add_feedback(
    ctx: Coordinator, who: Principal, name: str, labels: Sequence[tuple[str, str]]
) -> tuple[int, list[str]]:
    """Ground truth for predictions of endpoint `name`: (how many joined, the ids it has no prediction for)."""
    check_labels(labels)
    deployment_row(ctx, who, name, Need.WRITE)
    return join_labels(ctx, name, labels, who.user)


def join_labels(ctx: Coordinator, name: str, labels: Sequence[tuple[str, str]], actor: str) -> tuple[int, list[str]]:
    """The join itself, for a caller already authorised (an endpoint token, through the gateway)."""
    check_labels(labels)
    unknown = ctx.store.add_labels(name, labels, clock.now())
    joined = len(labels) - len(unknown)
    if joined:
        ctx.store.append_audit(actor, "deployment.feedback", name, {"joined": joined, "unknown": len(unknown)})
    return joined, unknown


def stats(ctx: Coordinator, who: Principal, name: str, since: float) -> list[VersionCard]:
    """Each version's card since `since` (0: the last hour)."""
    deployment_row(ctx, who, name)
    now = clock.now()
    rows = ctx.store.prediction_stats_rows(name, since or now - 3600)
    by_version: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_version[r["version"]].append(r)
    return [_card(v, rs, now) for v, rs in sorted(by_version.items())]


def _card(version: int, rows: list[dict[str, Any]], now: float) -> VersionCard:
    latencies = sorted(r["latency_ms"] for r in rows)
    errors = sum(1 for r in rows if r["status"] >= 500)
    recent = sum(1 for r in rows if r["time"] >= now - RATE_WINDOW_S)
    right = total = 0
    absolute: list[float] = []
    for r in rows:
        if not r["label"]:
            continue
        pair = _compare(r["response"], r["label"])
        if pair is None:
            continue
        total += 1
        predicted, truth = pair
        right += predicted == truth
        if isinstance(predicted, int | float) and isinstance(truth, int | float) and not isinstance(predicted, bool):
            absolute.append(abs(float(predicted) - float(truth)))
    return VersionCard(
        version=version,
        requests=len(rows),
        errors=errors,
        p50_ms=_quantile(latencies, 0.50),
        p99_ms=_quantile(latencies, 0.99),
        rate_per_s=recent / RATE_WINDOW_S,
        labelled=total,
        accuracy=right / total if total else None,
        mae=statistics.fmean(absolute) if absolute else None,
    )


def _quantile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _compare(response: bytes, label: str) -> tuple[Any, Any] | None:
    """(what was predicted, the truth) for a one-row answer, as comparable values; None when not one."""
    try:
        predictions = json.loads(response)["predictions"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(predictions, list) or len(predictions) != 1:
        return None
    try:
        truth = json.loads(label)
    except ValueError:
        truth = label
    predicted = predictions[0]
    if isinstance(truth, list) and len(truth) == 1:
        truth = truth[0]
    if isinstance(predicted, str) != isinstance(truth, str):
        predicted, truth = str(predicted), str(truth)
    return predicted, truth
