"""gateway.proto: what a gateway in a process of its own asks of the coordinator (routes, a token's
authorisation, the ledger, feedback), answered by the domain code the in-process gateway uses
(coordinator/deployments/gateway_backend.py). Every call needs an admin: a gateway sees every endpoint."""

from __future__ import annotations

import threading
import time
from typing import TypeAlias

import grpc

from kiln.coordinator.access import require_admin
from kiln.coordinator.accounts import Authenticator
from kiln.coordinator.context import Coordinator
from kiln.coordinator.deployments import ledger, manage
from kiln.coordinator.deployments.controller import Routes
from kiln.coordinator.rpc.interceptor import principal
from kiln.core.deployments import RouteTable
from kiln.core.errors import InvalidArgument, PermissionDenied
from kiln.proto.v1 import deployments_pb2, gateway_pb2, gateway_pb2_grpc
from kiln.serde import gateway as wire
from kiln.serde.deployments import record_from_proto

Ctx: TypeAlias = grpc.aio.ServicerContext

ACTION = "run a gateway"


class GatewaysServicer(gateway_pb2_grpc.GatewaysServicer):
    def __init__(self, ctx: Coordinator, authenticator: Authenticator) -> None:
        self.ctx = ctx
        self.authenticator = authenticator
        self._routes = Routes()
        self._routes_lock = threading.Lock()  # one generation for every gateway, however many ask at once
        # Generations start past any this coordinator gave before a restart (the count restarts at 1), so a
        # gateway that outlived the coordinator never takes a new table for the one it has.
        self._epoch = int(time.time()) << 24

    def _table(self) -> RouteTable:
        with self._routes_lock:
            table = self._routes.table(self.ctx)
        return RouteTable(self._epoch + table.generation, table.endpoints)

    def GetRoutes(self, request: gateway_pb2.RoutesRequest, context: Ctx) -> gateway_pb2.RoutesReply:
        require_admin(principal(), ACTION)
        table = self._table()
        return wire.routes_to_proto(None if table.generation == request.generation else table)

    def Authorize(self, request: gateway_pb2.AuthorizeRequest, context: Ctx) -> gateway_pb2.AuthorizeReply:
        require_admin(principal(), ACTION)
        a = manage.authorize(self.ctx, self.authenticator, request.token, request.endpoint)
        return gateway_pb2.AuthorizeReply(allowed=a.allowed, caller=a.caller, status=a.status, message=a.message)

    def RecordPredictions(
        self, request: gateway_pb2.RecordPredictionsRequest, context: Ctx
    ) -> gateway_pb2.RecordPredictionsReply:
        require_admin(principal(), ACTION)
        if len(request.records) > wire.MAX_RECORDS_PER_CALL:
            raise InvalidArgument(
                f"{len(request.records)} records in one call; at most {wire.MAX_RECORDS_PER_CALL}: send several"
            )
        added = ledger.record(self.ctx, [record_from_proto(r) for r in request.records])
        return gateway_pb2.RecordPredictionsReply(added=added)

    def GatewayFeedback(
        self, request: gateway_pb2.GatewayFeedbackRequest, context: Ctx
    ) -> deployments_pb2.FeedbackReply:
        require_admin(principal(), ACTION)
        a = manage.authorize(self.ctx, self.authenticator, request.caller_token, request.endpoint)
        if not a.allowed:
            raise PermissionDenied(a.message or f"the token may not label predictions of {request.endpoint}")
        rows = [(label.prediction_id, label.label) for label in request.labels]
        joined, unknown = ledger.join_labels(self.ctx, request.endpoint, rows, a.caller)
        return deployments_pb2.FeedbackReply(joined=joined, unknown=unknown[:20])
