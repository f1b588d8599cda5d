"""gateway.proto: the route table, a token's authorisation and the bound on one batch of records."""

from __future__ import annotations

from kiln.core.deployments import EndpointRoute, ReplicaRoute, RouteTable, VersionRoute
from kiln.proto.v1 import gateway_pb2

# The most records one RecordPredictions carries (a gateway's spool ships 1,000 at a time); more is refused,
# so one call stays well under a gRPC message and one store transaction.
MAX_RECORDS_PER_CALL = 5_000


def replica_route_to_proto(r: ReplicaRoute) -> gateway_pb2.ReplicaRoute:
    return gateway_pb2.ReplicaRoute(run_id=r.run_id, node=r.node, address=r.address)


def replica_route_from_proto(m: gateway_pb2.ReplicaRoute) -> ReplicaRoute:
    return ReplicaRoute(run_id=m.run_id, node=m.node, address=m.address)


def version_route_to_proto(v: VersionRoute) -> gateway_pb2.VersionRoute:
    return gateway_pb2.VersionRoute(
        version=v.version,
        weight=v.weight,
        shadow=v.shadow,
        replicas=[replica_route_to_proto(r) for r in v.replicas],
    )


def version_route_from_proto(m: gateway_pb2.VersionRoute) -> VersionRoute:
    return VersionRoute(
        version=m.version,
        weight=m.weight,
        shadow=m.shadow,
        replicas=tuple(replica_route_from_proto(r) for r in m.replicas),
    )


def endpoint_route_to_proto(e: EndpointRoute) -> gateway_pb2.EndpointRoute:
    return gateway_pb2.EndpointRoute(
        project=e.project,
        name=e.name,
        model=e.model,
        versions=[version_route_to_proto(v) for v in e.versions],
        sticky_header=e.sticky_header,
        sample_rate=e.sample_rate,
    )


def endpoint_route_from_proto(m: gateway_pb2.EndpointRoute) -> EndpointRoute:
    return EndpointRoute(
        project=m.project,
        name=m.name,
        model=m.model,
        versions=tuple(version_route_from_proto(v) for v in m.versions),
        sticky_header=m.sticky_header,
        sample_rate=m.sample_rate,
    )


def routes_to_proto(table: RouteTable | None) -> gateway_pb2.RoutesReply:
    """The reply for a table, or (None: unchanged) the empty one."""
    if table is None:
        return gateway_pb2.RoutesReply(changed=False)
    endpoints = [endpoint_route_to_proto(e) for e in table.endpoints.values()]
    return gateway_pb2.RoutesReply(changed=True, generation=table.generation, endpoints=endpoints)


def routes_from_proto(m: gateway_pb2.RoutesReply) -> RouteTable | None:
    if not m.changed:
        return None
    return RouteTable(m.generation, {e.name: endpoint_route_from_proto(e) for e in m.endpoints})
