"""tracking.proto: a run's record (params, metrics, artifacts, models, inputs, environment) and its
metric histories."""

from __future__ import annotations

from kiln.core.models import MetricSeries, RunKeys, RunRecord, RunValues
from kiln.proto.v1 import tracking_pb2
from kiln.serde.runs import run_from_proto, run_to_proto


def run_record_to_proto(r: RunRecord) -> tracking_pb2.RunRecord:
    return tracking_pb2.RunRecord(
        run=run_to_proto(r.run),
        params=r.params,
        tags=r.tags,
        metrics=[
            tracking_pb2.FinalMetric(key=k, value=v, step=s, min=lo, max=hi, count=n)
            for k, v, s, lo, hi, n in r.metrics
        ],
        artifacts=r.artifacts,
        models=[tracking_pb2.LoggedModel(path=p, name=n, flavor=f) for p, n, f in r.models],
        inputs=r.inputs,
        environment=r.environment,
    )


def run_record_from_proto(m: tracking_pb2.RunRecord) -> RunRecord:
    return RunRecord(
        run=run_from_proto(m.run),
        params=dict(m.params),
        tags=dict(m.tags),
        metrics=[(x.key, x.value, x.step, x.min, x.max, x.count) for x in m.metrics],
        artifacts=list(m.artifacts),
        models=[(x.path, x.name, x.flavor) for x in m.models],
        inputs=list(m.inputs),
        environment=dict(m.environment),
    )


def metric_series_to_proto(s: MetricSeries) -> tracking_pb2.MetricSeries:
    m = tracking_pb2.MetricSeries(
        key=s.key,
        total_points=s.total_points,
        step=[p[0] for p in s.points],
        value=[p[1] for p in s.points],
        timestamp=[p[2] for p in s.points],
    )
    if s.lowest is not None:
        m.min_step, m.min_value = s.lowest
    if s.highest is not None:
        m.max_step, m.max_value = s.highest
    return m


def metric_series_from_proto(m: tracking_pb2.MetricSeries, after_step: int | None = None) -> MetricSeries:
    """`after_step`: what the read asked for this key (the wire does not repeat it back)."""
    return MetricSeries(
        key=m.key,
        total_points=m.total_points,
        points=tuple(zip(m.step, m.value, m.timestamp, strict=True)),
        after_step=after_step,
        lowest=(m.min_step, m.min_value) if m.HasField("min_step") else None,
        highest=(m.max_step, m.max_value) if m.HasField("max_step") else None,
    )


def run_values_to_proto(run_id: str, v: RunValues) -> tracking_pb2.RunValues:
    return tracking_pb2.RunValues(run_id=run_id, params=v.params, metrics=v.metrics, tags=v.tags)


def run_values_from_proto(m: tracking_pb2.RunValues) -> tuple[str, RunValues]:
    return m.run_id, RunValues(params=dict(m.params), metrics=dict(m.metrics), tags=dict(m.tags))


def run_keys_to_proto(k: RunKeys) -> tracking_pb2.RunKeys:
    return tracking_pb2.RunKeys(params=k.params, metrics=k.metrics, tags=k.tags, truncated=k.truncated)


def run_keys_from_proto(m: tracking_pb2.RunKeys) -> RunKeys:
    return RunKeys(tuple(m.params), tuple(m.metrics), tuple(m.tags), m.truncated)
