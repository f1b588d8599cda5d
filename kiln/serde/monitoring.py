"""monitoring.proto: monitors and their results, alerts, channels, notifications. Each domain value has the
message's field names, so one pair of functions converts both ways."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from kiln.core.monitoring import Alert, Channel, Monitor, MonitorResult, NotificationRecord
from kiln.proto.v1 import monitoring_pb2

T = TypeVar("T")
_OPTIONAL = ("health", "drift_share")


def result_to_proto(r: MonitorResult | Mapping[str, Any]) -> monitoring_pb2.MonitorResult:
    values = dict(r) if isinstance(r, Mapping) else dataclasses.asdict(r)
    fields = {f.name: values[f.name] for f in dataclasses.fields(MonitorResult) if values.get(f.name) is not None}
    return monitoring_pb2.MonitorResult(**fields)


def result_from_proto(m: monitoring_pb2.MonitorResult) -> MonitorResult:
    values = _plain(MonitorResult, m)
    for name in _OPTIONAL:
        values[name] = getattr(m, name) if m.HasField(name) else None
    return MonitorResult(**values)


def monitor_to_proto(row: Mapping[str, Any], results: Sequence[Mapping[str, Any]] = ()) -> monitoring_pb2.Monitor:
    names = [f.name for f in dataclasses.fields(Monitor) if f.name != "results"]
    return monitoring_pb2.Monitor(**{n: row[n] for n in names}, results=[result_to_proto(r) for r in results])


def monitor_from_proto(m: monitoring_pb2.Monitor) -> Monitor:
    values = _plain(Monitor, m, skip=("results",))
    return Monitor(**values, results=tuple(result_from_proto(r) for r in m.results))


def alert_to_proto(row: Mapping[str, Any]) -> monitoring_pb2.Alert:
    return monitoring_pb2.Alert(**{f.name: row[f.name] for f in dataclasses.fields(Alert)})


def alert_from_proto(m: monitoring_pb2.Alert) -> Alert:
    return Alert(**_plain(Alert, m))


def channel_to_proto(row: Mapping[str, Any]) -> monitoring_pb2.Channel:
    return monitoring_pb2.Channel(**{f.name: row[f.name] for f in dataclasses.fields(Channel)})


def channel_from_proto(m: monitoring_pb2.Channel) -> Channel:
    return Channel(**_plain(Channel, m))


def notification_to_proto(row: Mapping[str, Any]) -> monitoring_pb2.Notification:
    return monitoring_pb2.Notification(**{f.name: row[f.name] for f in dataclasses.fields(NotificationRecord)})


def notification_from_proto(m: monitoring_pb2.Notification) -> NotificationRecord:
    return NotificationRecord(**_plain(NotificationRecord, m))


def _plain(cls: type[Any], m: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {f.name: getattr(m, f.name) for f in dataclasses.fields(cls) if f.name not in skip}
