"""tracking.proto: a run's record, its metric histories, and searching runs."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from kiln.coordinator import tracking
from kiln.coordinator.context import Coordinator
from kiln.coordinator.rpc.interceptor import principal
from kiln.coordinator.rpc.workers import heavy
from kiln.proto.v1 import runs_pb2, tracking_pb2, tracking_pb2_grpc
from kiln.serde import runs as runs_wire
from kiln.serde import tracking as wire

Ctx: TypeAlias = grpc.aio.ServicerContext


class TrackingServicer(tracking_pb2_grpc.TrackingServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    def GetRunRecord(self, request: runs_pb2.RunRef, context: Ctx) -> tracking_pb2.RunRecord:
        return wire.run_record_to_proto(tracking.run_record(self.ctx, principal(), request.id))

    @heavy
    def GetMetrics(self, request: tracking_pb2.GetMetricsRequest, context: Ctx) -> tracking_pb2.MetricHistory:
        found = tracking.metric_history(self.ctx, principal(), request.run_id, list(request.keys), request.max_points)
        return tracking_pb2.MetricHistory(series=[wire.metric_series_to_proto(s) for s in found])

    @heavy
    def SearchRuns(self, request: tracking_pb2.SearchRunsRequest, context: Ctx) -> tracking_pb2.RunTable:
        columns = tracking.parse_columns(list(request.columns))  # refused before any search work
        found = tracking.search(self.ctx, principal(), request.project, request.filter, request.sort, request.limit)
        values = tracking.column_values(self.ctx, found, columns)
        return tracking_pb2.RunTable(
            runs=[runs_wire.run_to_proto(r) for r in found],
            values=[wire.run_values_to_proto(run_id, v) for run_id, v in values.items()],
        )
