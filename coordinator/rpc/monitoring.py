"""monitoring.proto: monitors and their results; alerts, channels and notifications."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from kiln.coordinator.alerts import manage as alerts
from kiln.coordinator.context import Coordinator
from kiln.coordinator.monitoring import evaluate, monitors
from kiln.coordinator.rpc.interceptor import principal
from kiln.coordinator.rpc.paging import encoded
from kiln.core import clock, paging
from kiln.core.permissions import Need
from kiln.proto.v1 import monitoring_pb2, monitoring_pb2_grpc
from kiln.serde import monitoring as wire

Ctx: TypeAlias = grpc.aio.ServicerContext
MAX_ALERTS = 1000


class MonitoringServicer(monitoring_pb2_grpc.MonitoringServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    def CreateMonitor(self, request: monitoring_pb2.CreateMonitorRequest, context: Ctx) -> monitoring_pb2.Monitor:
        new = monitors.NewMonitor(
            project=request.project,
            name=request.name,
            deployment=request.deployment,
            every=request.every or monitors.DEFAULT_EVERY,
            window=request.window or monitors.DEFAULT_WINDOW,
            statistic=request.statistic,
            reference=request.reference,
            features=tuple(request.features),
            target=request.target,
            latency_slo_ms=request.latency_slo_ms or 250.0,
            health_below=request.health_below if request.HasField("health_below") else 70.0,
            kpis=tuple(request.kpis),
            severity=request.severity or "warning",
            min_rows=request.min_rows or 30,
            scoring=request.scoring,
        )
        return wire.monitor_to_proto(monitors.create(self.ctx, principal(), new))

    def ListMonitors(self, request: monitoring_pb2.ListMonitorsRequest, context: Ctx) -> monitoring_pb2.MonitorList:
        page = paging.request("ListMonitors", request.page_size, request.page_token)
        found = monitors.list_page(self.ctx, principal(), request.project, page)
        rows, token = encoded("ListMonitors", found, wire.monitor_to_proto)
        return monitoring_pb2.MonitorList(monitors=rows, next_page_token=token)

    def GetMonitor(self, request: monitoring_pb2.MonitorRef, context: Ctx) -> monitoring_pb2.Monitor:
        row = monitors.monitor_row(self.ctx, principal(), request.project, request.name)
        results = self.ctx.store.monitor_results(row["id"], monitors.RECENT_RESULTS)
        return wire.monitor_to_proto(row, [evaluate.public(r) for r in results])

    def DeleteMonitor(self, request: monitoring_pb2.MonitorRef, context: Ctx) -> monitoring_pb2.MonitorRef:
        monitors.delete(self.ctx, principal(), request.project, request.name)
        return request

    def RunMonitor(self, request: monitoring_pb2.MonitorRef, context: Ctx) -> monitoring_pb2.MonitorResult:
        row = monitors.monitor_row(self.ctx, principal(), request.project, request.name, Need.WRITE)
        return wire.result_to_proto(evaluate.public(evaluate.evaluate(self.ctx, row, clock.now())))


class AlertsServicer(monitoring_pb2_grpc.AlertsServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    def ListAlerts(self, request: monitoring_pb2.ListAlertsRequest, context: Ctx) -> monitoring_pb2.AlertList:
        limit = min(request.limit or MAX_ALERTS, MAX_ALERTS)
        rows = alerts.list_alerts(self.ctx, principal(), request.project, request.state, limit)
        return monitoring_pb2.AlertList(alerts=[wire.alert_to_proto(r) for r in rows])

    def GetAlert(self, request: monitoring_pb2.AlertRef, context: Ctx) -> monitoring_pb2.Alert:
        return wire.alert_to_proto(alerts.alert_row(self.ctx, principal(), request.id))

    def AcknowledgeAlert(self, request: monitoring_pb2.AlertRef, context: Ctx) -> monitoring_pb2.Alert:
        return wire.alert_to_proto(alerts.acknowledge(self.ctx, principal(), request.id))

    def AddChannel(self, request: monitoring_pb2.AddChannelRequest, context: Ctx) -> monitoring_pb2.Channel:
        row = alerts.add_channel(self.ctx, principal(), request.project, request.name, request.kind, request.options)
        return wire.channel_to_proto(row)

    def ListChannels(self, request: monitoring_pb2.ChannelsRequest, context: Ctx) -> monitoring_pb2.ChannelList:
        rows = alerts.list_channels(self.ctx, principal(), request.project)
        return monitoring_pb2.ChannelList(channels=[wire.channel_to_proto(r) for r in rows])

    def RemoveChannel(self, request: monitoring_pb2.ChannelRef, context: Ctx) -> monitoring_pb2.ChannelRef:
        alerts.remove_channel(self.ctx, principal(), request.project, request.name)
        return request

    def TestChannel(self, request: monitoring_pb2.ChannelRef, context: Ctx) -> monitoring_pb2.TestChannelReply:
        receipt = alerts.test_channel(self.ctx, principal(), request.project, request.name)
        return monitoring_pb2.TestChannelReply(receipt=receipt)

    def ListNotifications(
        self, request: monitoring_pb2.ListNotificationsRequest, context: Ctx
    ) -> monitoring_pb2.NotificationList:
        rows = alerts.list_notifications(
            self.ctx, principal(), request.project, request.state, request.alert, min(request.limit or 1000, 1000)
        )
        return monitoring_pb2.NotificationList(notifications=[wire.notification_to_proto(r) for r in rows])
