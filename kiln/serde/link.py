"""link.proto: the agent link's messages, both directions, and enrolment.

Decoding checks what it decodes: a message that does not hold together raises `BadMessage` naming the
field, so the receiving side can log it, and after a few tries set it aside instead of choking on it.
"""

from __future__ import annotations

from kiln.core import limits, names
from kiln.core.errors import InvalidArgument
from kiln.core.link import (
    Ack,
    AgentMessage,
    Assignment,
    BadMessage,
    Cancel,
    CoordinatorMessage,
    DatasetMount,
    Drain,
    Heartbeat,
    HeldRun,
    Hello,
    LogBatch,
    OpenTunnel,
    RunUpdate,
    SaveFolder,
    Sequenced,
    TrackBatch,
    Welcome,
)
from kiln.core.models import NodeCertificate
from kiln.core.runs import LogChunk, RunState
from kiln.proto.v1 import link_pb2, tracking_pb2
from kiln.serde.environments import environment_ref_from_proto, environment_ref_to_proto
from kiln.serde.nodes import inventory_from_proto, inventory_to_proto
from kiln.serde.runs import log_chunk_to_proto, run_spec_from_proto, run_spec_to_proto

LOG_STREAMS = frozenset({"stdout", "stderr"})


def _state(text: str, where: str) -> RunState:
    try:
        return RunState(text)
    except ValueError:
        known = ", ".join(s.value for s in RunState)
        raise BadMessage(f"{where}: unknown run state {text!r} (this coordinator knows {known})") from None


def _run_ref(run_id: str, attempt: int, where: str) -> None:
    if not run_id:
        raise BadMessage(f"{where}: no run id")
    if attempt < 1:
        raise BadMessage(f"{where} for run {run_id}: attempt {attempt}, attempts count from 1")


# -- enrolment ------------------------------------------------------------------------------------------


def node_certificate_to_proto(c: NodeCertificate) -> link_pb2.EnrollReply:
    return link_pb2.EnrollReply(
        name=c.name, certificate_pem=c.certificate_pem, ca_pem=c.ca_pem, agent_port=c.agent_port
    )


def node_certificate_from_proto(m: link_pb2.EnrollReply) -> NodeCertificate:
    return NodeCertificate(name=m.name, certificate_pem=m.certificate_pem, ca_pem=m.ca_pem, agent_port=m.agent_port)


# -- agent -> coordinator -------------------------------------------------------------------------------


def hello_to_proto(h: Hello) -> link_pb2.Hello:
    return link_pb2.Hello(
        name=h.name,
        version=h.version,
        runtimes=h.runtimes,
        inventory=inventory_to_proto(h.inventory),
        labels=h.labels,
        runs=[link_pb2.HeldRun(run_id=r.run_id, attempt=r.attempt, state=str(r.state)) for r in h.runs],
        instance=h.instance,
    )


def hello_from_proto(m: link_pb2.Hello) -> Hello:
    """What an agent says of itself is stored on its node and shown to admins: bounded like any input."""
    try:
        names.check_labels(dict(m.labels))
        for runtime in m.runtimes:
            names.check_name("runtime", runtime)
        limits.REFERENCE.check(m.version, field="agent version")
        limits.REFERENCE.check(m.instance, field="agent instance")
    except BadMessage:
        raise
    except InvalidArgument as e:
        raise BadMessage(f"hello: {e}") from None
    return Hello(
        name=m.name,
        version=m.version,
        runtimes=dict(m.runtimes),
        inventory=inventory_from_proto(m.inventory),
        labels=dict(m.labels),
        runs=tuple(
            HeldRun(run_id=r.run_id, attempt=r.attempt, state=_state(r.state, f"held run {r.run_id}")) for r in m.runs
        ),
        instance=m.instance,
    )


def heartbeat_to_proto(h: Heartbeat) -> link_pb2.Heartbeat:
    return link_pb2.Heartbeat(inventory=inventory_to_proto(h.inventory))


def heartbeat_from_proto(m: link_pb2.Heartbeat) -> Heartbeat:
    return Heartbeat(inventory=inventory_from_proto(m.inventory))


def run_update_to_proto(u: RunUpdate) -> link_pb2.RunUpdate:
    return link_pb2.RunUpdate(
        run_id=u.run_id,
        attempt=u.attempt,
        state=str(u.state),
        time=u.time,
        has_exit_code=u.exit_code is not None,
        exit_code=u.exit_code or 0,
        reason=u.reason,
        output_snapshot=u.output_snapshot,
        environment=u.environment,
    )


def run_update_from_proto(m: link_pb2.RunUpdate) -> RunUpdate:
    _run_ref(m.run_id, m.attempt, "run update")
    return RunUpdate(
        run_id=m.run_id,
        attempt=m.attempt,
        state=_state(m.state, f"update for run {m.run_id}"),
        time=m.time,
        exit_code=m.exit_code if m.has_exit_code else None,
        reason=limits.cut(m.reason, limits.REASON),
        output_snapshot=m.output_snapshot,
        environment=_environment(m.run_id, dict(m.environment)),
    )


def _environment(run_id: str, environment: dict[str, str]) -> dict[str, str]:
    """The environment an agent reported, or a note that it was too large to keep: the report carries the
    run's end too, so it is applied, not refused."""
    try:
        limits.ENVIRONMENT.check(environment)
    except InvalidArgument as e:
        return {"environment_error": limits.cut(f"not kept: {e}", limits.REASON)}
    return environment


def log_batch_to_proto(b: LogBatch) -> link_pb2.LogBatch:
    return link_pb2.LogBatch(run_id=b.run_id, chunks=[log_chunk_to_proto(c) for c in b.chunks])


def log_batch_from_proto(m: link_pb2.LogBatch) -> LogBatch:
    chunks = []
    for c in m.chunks:
        _run_ref(m.run_id, c.attempt, "log chunk")
        if c.stream not in LOG_STREAMS:
            raise BadMessage(f"log chunk {c.seq} of run {m.run_id}: unknown stream {c.stream!r}")
        chunks.append(LogChunk(attempt=c.attempt, seq=c.seq, stream=c.stream, data=c.data, time=c.time))
    return LogBatch(run_id=m.run_id, chunks=tuple(chunks))


def track_batch_to_proto(b: TrackBatch) -> tracking_pb2.TrackBatch:
    """Metrics travel as columns, keys named once per batch."""
    keys: dict[str, int] = {}
    cols = tracking_pb2.MetricColumns()
    for key, step, value, ts in b.metrics:
        cols.key_index.append(keys.setdefault(key, len(keys)))
        cols.step.append(step)
        cols.value.append(value)
        cols.timestamp.append(ts)
    cols.keys.extend(keys)
    return tracking_pb2.TrackBatch(
        run_id=b.run_id,
        attempt=b.attempt,
        pid=b.pid,
        seq=b.seq,
        params=b.params,
        tags=b.tags,
        metrics=cols,
        artifacts=list(b.artifacts),
        datasets=list(b.datasets),
        models=[tracking_pb2.LoggedModel(path=p, name=n, flavor=f) for p, n, f in b.models],
        environment=b.environment,
    )


def track_batch_from_proto(m: tracking_pb2.TrackBatch) -> TrackBatch:
    _run_ref(m.run_id, m.attempt, "tracking batch")
    cols = m.metrics
    keys = list(cols.keys)
    lengths = {len(cols.key_index), len(cols.step), len(cols.value), len(cols.timestamp)}
    if len(lengths) != 1:
        raise BadMessage(f"tracking batch {m.seq} of run {m.run_id}: metric columns of different lengths")
    if any(i >= len(keys) for i in cols.key_index):
        raise BadMessage(f"tracking batch {m.seq} of run {m.run_id}: a metric names key {max(cols.key_index)}")
    return TrackBatch(
        run_id=m.run_id,
        attempt=m.attempt,
        pid=m.pid,
        seq=m.seq,
        params=dict(m.params),
        tags=dict(m.tags),
        metrics=tuple(
            (keys[i], s, v, t) for i, s, v, t in zip(cols.key_index, cols.step, cols.value, cols.timestamp, strict=True)
        ),
        artifacts=tuple(m.artifacts),
        datasets=tuple(m.datasets),
        models=tuple((x.path, x.name, x.flavor) for x in m.models),
        environment=dict(m.environment),
    )


def agent_message_to_proto(message: AgentMessage, seq: int = 0) -> link_pb2.AgentMessage:
    match message:
        case Hello():
            return link_pb2.AgentMessage(seq=seq, hello=hello_to_proto(message))
        case Heartbeat():
            return link_pb2.AgentMessage(seq=seq, heartbeat=heartbeat_to_proto(message))
        case RunUpdate():
            return link_pb2.AgentMessage(seq=seq, run_update=run_update_to_proto(message))
        case LogBatch():
            return link_pb2.AgentMessage(seq=seq, logs=log_batch_to_proto(message))
        case TrackBatch():
            return link_pb2.AgentMessage(seq=seq, track=track_batch_to_proto(message))
    raise TypeError(f"not an agent message: {message!r}")


def agent_message_from_proto(m: link_pb2.AgentMessage) -> AgentMessage:
    """The message's body (its `seq` is the caller's to read); BadMessage if it does not hold together."""
    kind = m.WhichOneof("body")
    try:
        if kind == "hello":
            return hello_from_proto(m.hello)
        if kind == "heartbeat":
            return heartbeat_from_proto(m.heartbeat)
        if kind == "run_update":
            return run_update_from_proto(m.run_update)
        if kind == "logs":
            return log_batch_from_proto(m.logs)
        if kind == "track":
            return track_batch_from_proto(m.track)
    except BadMessage:
        raise
    except (InvalidArgument, ValueError, TypeError) as e:
        raise BadMessage(f"{kind} message: {e}") from e
    raise BadMessage("an agent message with no body this coordinator knows (sent by a newer agent?)")


def sequenced_from_proto(m: link_pb2.AgentMessage) -> Sequenced | Heartbeat | Hello:
    """A report with its spool number, or an unnumbered hello/heartbeat."""
    body = agent_message_from_proto(m)
    if isinstance(body, Hello | Heartbeat):
        return body
    if not m.seq:
        raise BadMessage(f"a {m.WhichOneof('body')} report without a sequence number")
    return Sequenced(seq=m.seq, message=body)


def message_kind(m: link_pb2.AgentMessage) -> str:
    return m.WhichOneof("body") or "unknown"


# -- coordinator -> agent -------------------------------------------------------------------------------


def assignment_to_proto(a: Assignment) -> link_pb2.Assignment:
    return link_pb2.Assignment(
        run_id=a.run_id,
        attempt=a.attempt,
        spec=run_spec_to_proto(a.spec),
        runtime=a.runtime,
        gpu_uuids=list(a.gpu_uuids),
        user=a.user,
        datasets=[link_pb2.DatasetMount(name=d.name, version=d.version, snapshot=d.snapshot) for d in a.datasets],
        environment=None if a.environment is None else environment_ref_to_proto(a.environment),
    )


def assignment_from_proto(m: link_pb2.Assignment) -> Assignment:
    _run_ref(m.run_id, m.attempt, "assignment")
    return Assignment(
        run_id=m.run_id,
        attempt=m.attempt,
        spec=run_spec_from_proto(m.spec),
        runtime=m.runtime,
        user=m.user,
        gpu_uuids=tuple(m.gpu_uuids),
        datasets=tuple(DatasetMount(name=d.name, version=d.version, snapshot=d.snapshot) for d in m.datasets),
        environment=environment_ref_from_proto(m.environment) if m.HasField("environment") else None,
    )


def welcome_to_proto(w: Welcome) -> link_pb2.Welcome:
    return link_pb2.Welcome(node=w.node, heartbeat_interval_s=w.heartbeat_interval_s, drained=w.drained)


def welcome_from_proto(m: link_pb2.Welcome) -> Welcome:
    return Welcome(node=m.node, heartbeat_interval_s=m.heartbeat_interval_s, drained=m.drained)


def cancel_to_proto(c: Cancel) -> link_pb2.Cancel:
    return link_pb2.Cancel(run_id=c.run_id, attempt=c.attempt, grace_s=c.grace_s, reason=c.reason)


def cancel_from_proto(m: link_pb2.Cancel) -> Cancel:
    _run_ref(m.run_id, m.attempt, "cancel")
    return Cancel(run_id=m.run_id, attempt=m.attempt, grace_s=m.grace_s, reason=m.reason)


def drain_to_proto(d: Drain) -> link_pb2.Drain:
    return link_pb2.Drain(drain=d.drain)


def drain_from_proto(m: link_pb2.Drain) -> Drain:
    return Drain(drain=m.drain)


def ack_to_proto(a: Ack) -> link_pb2.Ack:
    return link_pb2.Ack(seq=a.seq)


def ack_from_proto(m: link_pb2.Ack) -> Ack:
    return Ack(seq=m.seq)


def coordinator_message_to_proto(message: CoordinatorMessage) -> link_pb2.CoordinatorMessage:
    match message:
        case Welcome():
            return link_pb2.CoordinatorMessage(welcome=welcome_to_proto(message))
        case Assignment():
            return link_pb2.CoordinatorMessage(assign=assignment_to_proto(message))
        case Cancel():
            return link_pb2.CoordinatorMessage(cancel=cancel_to_proto(message))
        case Drain():
            return link_pb2.CoordinatorMessage(drain=drain_to_proto(message))
        case Ack():
            return link_pb2.CoordinatorMessage(ack=ack_to_proto(message))
    raise TypeError(f"not a coordinator message: {message!r}")


def coordinator_message_from_proto(m: link_pb2.CoordinatorMessage) -> CoordinatorMessage:
    kind = m.WhichOneof("body")
    try:
        if kind == "welcome":
            return welcome_from_proto(m.welcome)
        if kind == "assign":
            return assignment_from_proto(m.assign)
        if kind == "cancel":
            return cancel_from_proto(m.cancel)
        if kind == "drain":
            return drain_from_proto(m.drain)
        if kind == "ack":
            return ack_from_proto(m.ack)
        if kind == "save_folder":
            s = m.save_folder
            return SaveFolder(s.run_id, s.attempt, s.request_id, s.message)
        if kind == "open_tunnel":
            o = m.open_tunnel
            return OpenTunnel(o.tunnel_id, o.run_id, o.port)
    except BadMessage:
        raise
    except (InvalidArgument, ValueError, TypeError) as e:
        raise BadMessage(f"{kind} message: {e}") from e
    raise BadMessage("a coordinator message with no body this agent knows (sent by a newer coordinator?)")
