"""The client's calls of gateway.proto: what a gateway in a process of its own asks of the coordinator
(coordinator/gateway/remote.py). Each needs an admin's token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kiln.client.base import Connection

if TYPE_CHECKING:
    from kiln.core.deployments import PredictionRecord, RouteTable
    from kiln.proto.v1 import deployments_pb2, gateway_pb2, gateway_pb2_grpc
    from kiln.serde import deployments as deployments_wire
    from kiln.serde import gateway as gateway_wire
else:
    from kiln.client.base import deployments_pb2, deployments_wire, gateway_pb2, gateway_pb2_grpc, gateway_wire


class GatewayCalls(Connection):
    def _gateways(self) -> gateway_pb2_grpc.GatewaysStub:
        return self._stub(gateway_pb2_grpc.GatewaysStub)

    def get_routes(self, generation: int) -> RouteTable | None:
        """The route table, or None when it is still `generation`."""
        reply = self._call(self._gateways().GetRoutes, gateway_pb2.RoutesRequest(generation=generation))
        return gateway_wire.routes_from_proto(reply)

    def authorize(self, token: str, endpoint: str) -> tuple[bool, str, int, str]:
        """(allowed, caller, HTTP status when refused, message when refused) for `token` calling `endpoint`."""
        reply = self._call(self._gateways().Authorize, gateway_pb2.AuthorizeRequest(token=token, endpoint=endpoint))
        return reply.allowed, reply.caller, reply.status, reply.message

    def record_predictions(self, records: Sequence[PredictionRecord]) -> int:
        """Keeps the records in the ledger (idempotent by id), in calls of at most the wire's bound; how many
        were new."""
        added = 0
        step = gateway_wire.MAX_RECORDS_PER_CALL
        for start in range(0, len(records), step):
            batch = [deployments_wire.record_to_proto(r) for r in records[start : start + step]]
            reply = self._call(self._gateways().RecordPredictions, gateway_pb2.RecordPredictionsRequest(records=batch))
            added += reply.added
        return added

    def gateway_feedback(self, endpoint: str, token: str, rows: Sequence[tuple[str, str]]) -> int:
        """Joins labels sent by a client with its own `token`; how many matched a prediction of `endpoint`.
        Raises PermissionDenied when the token may not call it, InvalidArgument when the labels are refused."""
        labels = [deployments_pb2.Label(prediction_id=i, label=v) for i, v in rows]
        req = gateway_pb2.GatewayFeedbackRequest(endpoint=endpoint, caller_token=token, labels=labels)
        return int(self._call(self._gateways().GatewayFeedback, req).joined)
