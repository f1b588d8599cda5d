from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateMonitorRequest(_message.Message):
    __slots__ = ("project", "name", "deployment", "every", "window", "statistic", "reference", "features", "target", "latency_slo_ms", "health_below", "kpis", "severity", "min_rows", "scoring")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    EVERY_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    STATISTIC_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    LATENCY_SLO_MS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_BELOW_FIELD_NUMBER: _ClassVar[int]
    KPIS_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    MIN_ROWS_FIELD_NUMBER: _ClassVar[int]
    SCORING_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    deployment: str
    every: str
    window: str
    statistic: str
    reference: str
    features: _containers.RepeatedScalarFieldContainer[str]
    target: str
    latency_slo_ms: float
    health_below: float
    kpis: _containers.RepeatedScalarFieldContainer[str]
    severity: str
    min_rows: int
    scoring: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., deployment: _Optional[str] = ..., every: _Optional[str] = ..., window: _Optional[str] = ..., statistic: _Optional[str] = ..., reference: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ..., target: _Optional[str] = ..., latency_slo_ms: _Optional[float] = ..., health_below: _Optional[float] = ..., kpis: _Optional[_Iterable[str]] = ..., severity: _Optional[str] = ..., min_rows: _Optional[int] = ..., scoring: _Optional[str] = ...) -> None: ...

class MonitorRef(_message.Message):
    __slots__ = ("project", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListMonitorsRequest(_message.Message):
    __slots__ = ("project", "page_size", "page_token")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project: str
    page_size: int
    page_token: str
    def __init__(self, project: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class MonitorResult(_message.Message):
    __slots__ = ("seq", "window_start", "window_end", "health", "drift_share", "drifted", "requests", "result_json", "created_at", "lineage_id")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    DRIFT_SHARE_FIELD_NUMBER: _ClassVar[int]
    DRIFTED_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_ID_FIELD_NUMBER: _ClassVar[int]
    seq: int
    window_start: float
    window_end: float
    health: float
    drift_share: float
    drifted: bool
    requests: int
    result_json: str
    created_at: float
    lineage_id: str
    def __init__(self, seq: _Optional[int] = ..., window_start: _Optional[float] = ..., window_end: _Optional[float] = ..., health: _Optional[float] = ..., drift_share: _Optional[float] = ..., drifted: _Optional[bool] = ..., requests: _Optional[int] = ..., result_json: _Optional[str] = ..., created_at: _Optional[float] = ..., lineage_id: _Optional[str] = ...) -> None: ...

class Monitor(_message.Message):
    __slots__ = ("id", "project", "name", "deployment", "every_s", "window_s", "state", "created_by", "created_at", "next_at", "config_json", "results")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    EVERY_S_FIELD_NUMBER: _ClassVar[int]
    WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    NEXT_AT_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    project: str
    name: str
    deployment: str
    every_s: int
    window_s: int
    state: str
    created_by: str
    created_at: float
    next_at: float
    config_json: str
    results: _containers.RepeatedCompositeFieldContainer[MonitorResult]
    def __init__(self, id: _Optional[str] = ..., project: _Optional[str] = ..., name: _Optional[str] = ..., deployment: _Optional[str] = ..., every_s: _Optional[int] = ..., window_s: _Optional[int] = ..., state: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[float] = ..., next_at: _Optional[float] = ..., config_json: _Optional[str] = ..., results: _Optional[_Iterable[_Union[MonitorResult, _Mapping]]] = ...) -> None: ...

class MonitorList(_message.Message):
    __slots__ = ("monitors", "next_page_token")
    MONITORS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    monitors: _containers.RepeatedCompositeFieldContainer[Monitor]
    next_page_token: str
    def __init__(self, monitors: _Optional[_Iterable[_Union[Monitor, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("id", "project", "monitor", "rule", "severity", "state", "title", "summary", "details_json", "first_at", "last_at", "count", "acked_by", "acked_at", "resolved_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    MONITOR_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    DETAILS_JSON_FIELD_NUMBER: _ClassVar[int]
    FIRST_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_AT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    ACKED_BY_FIELD_NUMBER: _ClassVar[int]
    ACKED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    project: str
    monitor: str
    rule: str
    severity: str
    state: str
    title: str
    summary: str
    details_json: str
    first_at: float
    last_at: float
    count: int
    acked_by: str
    acked_at: float
    resolved_at: float
    def __init__(self, id: _Optional[str] = ..., project: _Optional[str] = ..., monitor: _Optional[str] = ..., rule: _Optional[str] = ..., severity: _Optional[str] = ..., state: _Optional[str] = ..., title: _Optional[str] = ..., summary: _Optional[str] = ..., details_json: _Optional[str] = ..., first_at: _Optional[float] = ..., last_at: _Optional[float] = ..., count: _Optional[int] = ..., acked_by: _Optional[str] = ..., acked_at: _Optional[float] = ..., resolved_at: _Optional[float] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("project", "state", "limit")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    project: str
    state: str
    limit: int
    def __init__(self, project: _Optional[str] = ..., state: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class AlertList(_message.Message):
    __slots__ = ("alerts",)
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ...) -> None: ...

class AlertRef(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class AddChannelRequest(_message.Message):
    __slots__ = ("project", "name", "kind", "options")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    kind: str
    options: _containers.ScalarMap[str, str]
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., options: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Channel(_message.Message):
    __slots__ = ("project", "name", "kind", "channel_json", "created_by", "created_at")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    kind: str
    channel_json: str
    created_by: str
    created_at: float
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., channel_json: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[float] = ...) -> None: ...

class ChannelsRequest(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: str
    def __init__(self, project: _Optional[str] = ...) -> None: ...

class ChannelList(_message.Message):
    __slots__ = ("channels",)
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    channels: _containers.RepeatedCompositeFieldContainer[Channel]
    def __init__(self, channels: _Optional[_Iterable[_Union[Channel, _Mapping]]] = ...) -> None: ...

class ChannelRef(_message.Message):
    __slots__ = ("project", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class TestChannelReply(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: str
    def __init__(self, receipt: _Optional[str] = ...) -> None: ...

class ListNotificationsRequest(_message.Message):
    __slots__ = ("project", "state", "alert", "limit")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    project: str
    state: str
    alert: str
    limit: int
    def __init__(self, project: _Optional[str] = ..., state: _Optional[str] = ..., alert: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class Notification(_message.Message):
    __slots__ = ("id", "alert", "channel", "state", "attempts", "next_at", "last_error", "created_at", "sent_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    id: int
    alert: str
    channel: str
    state: str
    attempts: int
    next_at: float
    last_error: str
    created_at: float
    sent_at: float
    def __init__(self, id: _Optional[int] = ..., alert: _Optional[str] = ..., channel: _Optional[str] = ..., state: _Optional[str] = ..., attempts: _Optional[int] = ..., next_at: _Optional[float] = ..., last_error: _Optional[str] = ..., created_at: _Optional[float] = ..., sent_at: _Optional[float] = ...) -> None: ...

class NotificationList(_message.Message):
    __slots__ = ("notifications",)
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    notifications: _containers.RepeatedCompositeFieldContainer[Notification]
    def __init__(self, notifications: _Optional[_Iterable[_Union[Notification, _Mapping]]] = ...) -> None: ...
