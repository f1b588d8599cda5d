"""nodes.proto: what a node has, the node list, join tokens, and the messages set aside from a node."""

from __future__ import annotations

from kiln.core.hashing import is_digest
from kiln.core.link import Quarantined
from kiln.core.models import GpuInfo, Inventory, JoinToken, Node
from kiln.proto.v1 import nodes_pb2

MAX_HELD = 10_000  # environments a node says it holds: more is not believed


def gpu_to_proto(g: GpuInfo) -> nodes_pb2.Gpu:
    return nodes_pb2.Gpu(
        uuid=g.uuid,
        model=g.model,
        memory_bytes=g.memory_bytes,
        utilization=g.utilization,
        memory_used_bytes=g.memory_used_bytes,
        temperature_c=g.temperature_c,
    )


def gpu_from_proto(m: nodes_pb2.Gpu) -> GpuInfo:
    return GpuInfo(
        uuid=m.uuid,
        model=m.model,
        memory_bytes=m.memory_bytes,
        utilization=m.utilization,
        memory_used_bytes=m.memory_used_bytes,
        temperature_c=m.temperature_c,
    )


def inventory_to_proto(i: Inventory) -> nodes_pb2.Inventory:
    return nodes_pb2.Inventory(
        cpus=i.cpus,
        memory_bytes=i.memory_bytes,
        disk_bytes=i.disk_bytes,
        gpus=[gpu_to_proto(g) for g in i.gpus],
        cpu_percent=i.cpu_percent,
        memory_used_bytes=i.memory_used_bytes,
        disk_free_bytes=i.disk_free_bytes,
        driver_version=i.driver_version,
        cuda_version=i.cuda_version,
        environments=list(i.environments),
    )


def inventory_from_proto(m: nodes_pb2.Inventory) -> Inventory:
    return Inventory(
        cpus=m.cpus,
        memory_bytes=m.memory_bytes,
        disk_bytes=m.disk_bytes,
        gpus=tuple(gpu_from_proto(g) for g in m.gpus),
        cpu_percent=m.cpu_percent,
        memory_used_bytes=m.memory_used_bytes,
        disk_free_bytes=m.disk_free_bytes,
        driver_version=m.driver_version,
        cuda_version=m.cuda_version,
        environments=tuple(d for d in m.environments if is_digest(d))[:MAX_HELD],
    )


def node_to_proto(n: Node) -> nodes_pb2.Node:
    return nodes_pb2.Node(
        name=n.name,
        state=n.state,
        labels=n.labels,
        runtimes=n.runtimes,
        inventory=inventory_to_proto(n.inventory),
        drained=n.drained,
        last_seen=n.last_seen,
        created_at=n.created_at,
        version=n.version,
        runs=list(n.runs),
        quarantined=n.quarantined,
        duplicates=n.duplicates,
        duplicate_at=n.duplicate_at,
        duplicate_from=n.duplicate_from,
    )


def node_from_proto(m: nodes_pb2.Node) -> Node:
    return Node(
        name=m.name,
        state=m.state,
        labels=dict(m.labels),
        runtimes=dict(m.runtimes),
        inventory=inventory_from_proto(m.inventory),
        drained=m.drained,
        last_seen=m.last_seen,
        created_at=m.created_at,
        version=m.version,
        runs=tuple(m.runs),
        quarantined=m.quarantined,
        duplicates=m.duplicates,
        duplicate_at=m.duplicate_at,
        duplicate_from=m.duplicate_from,
    )


def join_token_to_proto(t: JoinToken) -> nodes_pb2.JoinToken:
    return nodes_pb2.JoinToken(id=t.id, token=t.token, uses=t.uses, expires_at=t.expires_at)


def join_token_from_proto(m: nodes_pb2.JoinToken) -> JoinToken:
    return JoinToken(id=m.id, uses=m.uses, expires_at=m.expires_at, token=m.token)


def quarantined_to_proto(q: Quarantined) -> nodes_pb2.QuarantinedMessage:
    return nodes_pb2.QuarantinedMessage(
        node=q.node, seq=q.seq, kind=q.kind, message=q.message, error=q.error, failures=q.failures, time=q.time
    )


def quarantined_from_proto(m: nodes_pb2.QuarantinedMessage) -> Quarantined:
    return Quarantined(
        node=m.node, seq=m.seq, kind=m.kind, message=m.message, error=m.error, failures=m.failures, time=m.time
    )
