"""runs.proto: what a run asks for, runs with their state history, and their output."""

from __future__ import annotations

from kiln.core.runs import LogChunk, Priority, Resources, Run, RunEvent, RunSpec, RunState
from kiln.proto.v1 import runs_pb2


def resources_to_proto(r: Resources) -> runs_pb2.Resources:
    return runs_pb2.Resources(cpus=r.cpus, memory_bytes=r.memory_bytes, gpus=r.gpus, gpu_model=r.gpu_model)


def resources_from_proto(m: runs_pb2.Resources) -> Resources:
    return Resources(cpus=m.cpus or 1.0, memory_bytes=m.memory_bytes, gpus=m.gpus, gpu_model=m.gpu_model)


def run_spec_to_proto(s: RunSpec) -> runs_pb2.RunSpec:
    return runs_pb2.RunSpec(
        project=s.project,
        command=list(s.command),
        snapshot=s.snapshot,
        image=s.image,
        runtime=s.runtime,
        resources=resources_to_proto(s.resources),
        priority=str(s.priority),
        node_labels=s.node_labels,
        retries=s.retries,
        env=s.env,
        network=s.network,
        datasets=list(s.datasets),
        parent_run=s.parent_run,
        rerun_of=s.rerun_of,
        environment=s.environment,
        builds=s.builds,
    )


def run_spec_from_proto(m: runs_pb2.RunSpec) -> RunSpec:
    return RunSpec(
        project=m.project,
        command=tuple(m.command),
        snapshot=m.snapshot,
        image=m.image,
        runtime=m.runtime,
        resources=resources_from_proto(m.resources),
        priority=Priority.parse(m.priority or "normal"),
        node_labels=dict(m.node_labels),
        retries=m.retries,
        env=dict(m.env),
        network=m.network or "none",
        datasets=tuple(m.datasets),
        parent_run=m.parent_run,
        rerun_of=m.rerun_of,
        environment=m.environment,
        builds=m.builds,
    )


def run_event_to_proto(e: RunEvent) -> runs_pb2.RunEvent:
    return runs_pb2.RunEvent(time=e.time, state=str(e.state), cause=e.cause, node=e.node, attempt=e.attempt)


def run_event_from_proto(m: runs_pb2.RunEvent) -> RunEvent:
    return RunEvent(time=m.time, state=RunState(m.state), cause=m.cause, node=m.node, attempt=m.attempt)


def run_to_proto(r: Run) -> runs_pb2.Run:
    return runs_pb2.Run(
        id=r.id,
        spec=run_spec_to_proto(r.spec),
        user=r.user,
        state=str(r.state),
        created_at=r.created_at,
        node=r.node,
        attempt=r.attempt,
        gpu_uuids=list(r.gpu_uuids),
        has_exit_code=r.exit_code is not None,
        exit_code=r.exit_code or 0,
        reason=r.reason,
        started_at=r.started_at,
        finished_at=r.finished_at,
        output_snapshot=r.output_snapshot,
        cancel_requested=r.cancel_requested,
        runtime=r.runtime,
        events=[run_event_to_proto(e) for e in r.events],
        log_dropped_bytes=r.log_dropped_bytes,
        log_cap_bytes=r.log_cap_bytes,
    )


def run_from_proto(m: runs_pb2.Run) -> Run:
    return Run(
        id=m.id,
        spec=run_spec_from_proto(m.spec),
        user=m.user,
        state=RunState(m.state),
        created_at=m.created_at,
        node=m.node,
        attempt=m.attempt,
        gpu_uuids=tuple(m.gpu_uuids),
        exit_code=m.exit_code if m.has_exit_code else None,
        reason=m.reason,
        started_at=m.started_at,
        finished_at=m.finished_at,
        output_snapshot=m.output_snapshot,
        cancel_requested=m.cancel_requested,
        runtime=m.runtime,
        events=tuple(run_event_from_proto(e) for e in m.events),
        log_dropped_bytes=m.log_dropped_bytes,
        log_cap_bytes=m.log_cap_bytes,
    )


def log_chunk_to_proto(c: LogChunk) -> runs_pb2.LogChunk:
    return runs_pb2.LogChunk(attempt=c.attempt, seq=c.seq, stream=c.stream, data=c.data, time=c.time, offset=c.offset)


def log_chunk_from_proto(m: runs_pb2.LogChunk) -> LogChunk:
    return LogChunk(attempt=m.attempt, seq=m.seq, stream=m.stream, data=m.data, time=m.time, offset=m.offset)
