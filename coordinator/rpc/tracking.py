"""tracking.proto: a run's record, its metric histories, and searching runs."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from kiln.coordinator import tracking
from kiln.coordinator.context import Coordinator
from kiln.coordinator.rpc.interceptor import principal
from kiln.coordinator.rpc.paging import encoded
from kiln.coordinator.rpc.workers import heavy
from kiln.core import paging
from kiln.core.models import RunValues
from kiln.core.runs import Run
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
        page = paging.request("GetMetrics", request.page_size, request.page_token)
        found = tracking.metric_history(
            self.ctx,
            principal(),
            request.run_id,
            list(request.keys),
            request.max_points,
            page,
            dict(request.after_step),
        )
        rows, token = encoded("GetMetrics", found, wire.metric_series_to_proto)
        return tracking_pb2.MetricHistory(series=rows, next_page_token=token)

    @heavy
    def SearchRuns(self, request: tracking_pb2.SearchRunsRequest, context: Ctx) -> tracking_pb2.RunTable:
        columns = tracking.parse_columns(list(request.columns))  # refused before any search work
        page = paging.request("SearchRuns", request.page_size or request.limit, request.page_token)
        found = tracking.search(self.ctx, principal(), request.project, request.filter, request.sort, page)
        values = tracking.column_values(self.ctx, found.items, columns)
        rows, token = encoded(
            "SearchRuns", found, lambda r: _row(r, values.get(r.id)), lambda row: sum(m.ByteSize() for m in row if m)
        )
        total = (
            tracking.count_matching(self.ctx, principal(), request.project, request.filter) if request.count else None
        )
        return tracking_pb2.RunTable(
            runs=[run for run, _ in rows],
            values=[v for _, v in rows if v is not None],
            next_page_token=token,
            total=total,
        )

    @heavy
    def ListRunKeys(self, request: tracking_pb2.RunKeysRequest, context: Ctx) -> tracking_pb2.RunKeys:
        return wire.run_keys_to_proto(tracking.run_keys(self.ctx, principal(), request.project))


def _row(run: Run, values: RunValues | None) -> tuple[runs_pb2.Run, tracking_pb2.RunValues | None]:
    """A run of a search and the values asked of it (None when it has none), measured together."""
    return runs_wire.run_to_proto(run), None if values is None else wire.run_values_to_proto(run.id, values)
