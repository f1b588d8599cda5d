"""The client's calls of monitoring.proto: monitors and their results, alerts, channels, notifications."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from kiln.client.base import Connection

if TYPE_CHECKING:
    from kiln.core.monitoring import Alert, Channel, Monitor, MonitorResult, NotificationRecord
    from kiln.proto.v1 import monitoring_pb2, monitoring_pb2_grpc
    from kiln.serde import monitoring as monitoring_wire
else:
    from kiln.client.base import monitoring_pb2, monitoring_pb2_grpc, monitoring_wire


class MonitoringCalls(Connection):
    def _monitoring(self) -> monitoring_pb2_grpc.MonitoringStub:
        return self._stub(monitoring_pb2_grpc.MonitoringStub)

    def _alerts(self) -> monitoring_pb2_grpc.AlertsStub:
        return self._stub(monitoring_pb2_grpc.AlertsStub)

    def create_monitor(
        self,
        project: str,
        name: str,
        deployment: str = "",
        *,
        scoring: str = "",
        every: str = "",
        window: str = "",
        statistic: str = "",
        reference: str = "",
        features: Sequence[str] = (),
        target: str = "",
        latency_slo_ms: float = 0.0,
        health_below: float | None = None,
        kpis: Sequence[str] = (),
        severity: str = "",
        min_rows: int = 0,
    ) -> Monitor:
        req = monitoring_pb2.CreateMonitorRequest(
            project=project, name=name, deployment=deployment, every=every, window=window, statistic=statistic,
            reference=reference, features=list(features), target=target, latency_slo_ms=latency_slo_ms,
            kpis=list(kpis), severity=severity, min_rows=min_rows, scoring=scoring,
        )  # fmt: skip
        if health_below is not None:
            req.health_below = health_below
        return monitoring_wire.monitor_from_proto(self._call(self._monitoring().CreateMonitor, req))

    def list_monitors(self, project: str) -> list[Monitor]:
        return self._listing(
            self._monitoring().ListMonitors,
            monitoring_pb2.ListMonitorsRequest(project=project),
            "monitors",
            monitoring_wire.monitor_from_proto,
        )

    def get_monitor(self, project: str, name: str) -> Monitor:
        req = monitoring_pb2.MonitorRef(project=project, name=name)
        return monitoring_wire.monitor_from_proto(self._call(self._monitoring().GetMonitor, req))

    def delete_monitor(self, project: str, name: str) -> None:
        self._call(self._monitoring().DeleteMonitor, monitoring_pb2.MonitorRef(project=project, name=name))

    def run_monitor(self, project: str, name: str) -> MonitorResult:
        req = monitoring_pb2.MonitorRef(project=project, name=name)
        return monitoring_wire.result_from_proto(self._call(self._monitoring().RunMonitor, req))

    def list_alerts(self, project: str = "", state: str = "", limit: int = 0) -> list[Alert]:
        req = monitoring_pb2.ListAlertsRequest(project=project, state=state, limit=limit)
        return [monitoring_wire.alert_from_proto(a) for a in self._call(self._alerts().ListAlerts, req).alerts]

    def get_alert(self, alert_id: str) -> Alert:
        req = monitoring_pb2.AlertRef(id=alert_id)
        return monitoring_wire.alert_from_proto(self._call(self._alerts().GetAlert, req))

    def acknowledge_alert(self, alert_id: str) -> Alert:
        req = monitoring_pb2.AlertRef(id=alert_id)
        return monitoring_wire.alert_from_proto(self._call(self._alerts().AcknowledgeAlert, req))

    def add_channel(self, project: str, name: str, kind: str, options: Mapping[str, str]) -> Channel:
        req = monitoring_pb2.AddChannelRequest(project=project, name=name, kind=kind, options=dict(options))
        return monitoring_wire.channel_from_proto(self._call(self._alerts().AddChannel, req))

    def list_channels(self, project: str) -> list[Channel]:
        req = monitoring_pb2.ChannelsRequest(project=project)
        return [monitoring_wire.channel_from_proto(c) for c in self._call(self._alerts().ListChannels, req).channels]

    def remove_channel(self, project: str, name: str) -> None:
        self._call(self._alerts().RemoveChannel, monitoring_pb2.ChannelRef(project=project, name=name))

    def test_channel(self, project: str, name: str) -> str:
        req = monitoring_pb2.ChannelRef(project=project, name=name)
        return str(self._call(self._alerts().TestChannel, req).receipt)

    def list_notifications(
        self, project: str, state: str = "", alert: str = "", limit: int = 0
    ) -> list[NotificationRecord]:
        req = monitoring_pb2.ListNotificationsRequest(project=project, state=state, alert=alert, limit=limit)
        found = self._call(self._alerts().ListNotifications, req).notifications
        return [monitoring_wire.notification_from_proto(n) for n in found]
