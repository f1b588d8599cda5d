from kiln.proto.v1 import runs_pb2 as _runs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MetricColumns(_message.Message):
    __slots__ = ("keys", "key_index", "value", "step", "timestamp")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    KEY_INDEX_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    key_index: _containers.RepeatedScalarFieldContainer[int]
    value: _containers.RepeatedScalarFieldContainer[float]
    step: _containers.RepeatedScalarFieldContainer[int]
    timestamp: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, keys: _Optional[_Iterable[str]] = ..., key_index: _Optional[_Iterable[int]] = ..., value: _Optional[_Iterable[float]] = ..., step: _Optional[_Iterable[int]] = ..., timestamp: _Optional[_Iterable[float]] = ...) -> None: ...

class LoggedModel(_message.Message):
    __slots__ = ("path", "name", "flavor")
    PATH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FLAVOR_FIELD_NUMBER: _ClassVar[int]
    path: str
    name: str
    flavor: str
    def __init__(self, path: _Optional[str] = ..., name: _Optional[str] = ..., flavor: _Optional[str] = ...) -> None: ...

class TrackBatch(_message.Message):
    __slots__ = ("run_id", "attempt", "pid", "seq", "params", "tags", "metrics", "artifacts", "datasets", "models", "environment")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class EnvironmentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempt: int
    pid: int
    seq: int
    params: _containers.ScalarMap[str, str]
    tags: _containers.ScalarMap[str, str]
    metrics: MetricColumns
    artifacts: _containers.RepeatedScalarFieldContainer[str]
    datasets: _containers.RepeatedScalarFieldContainer[str]
    models: _containers.RepeatedCompositeFieldContainer[LoggedModel]
    environment: _containers.ScalarMap[str, str]
    def __init__(self, run_id: _Optional[str] = ..., attempt: _Optional[int] = ..., pid: _Optional[int] = ..., seq: _Optional[int] = ..., params: _Optional[_Mapping[str, str]] = ..., tags: _Optional[_Mapping[str, str]] = ..., metrics: _Optional[_Union[MetricColumns, _Mapping]] = ..., artifacts: _Optional[_Iterable[str]] = ..., datasets: _Optional[_Iterable[str]] = ..., models: _Optional[_Iterable[_Union[LoggedModel, _Mapping]]] = ..., environment: _Optional[_Mapping[str, str]] = ...) -> None: ...

class FinalMetric(_message.Message):
    __slots__ = ("key", "value", "step", "min", "max", "count")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: float
    step: int
    min: float
    max: float
    count: int
    def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ..., step: _Optional[int] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., count: _Optional[int] = ...) -> None: ...

class RunRecord(_message.Message):
    __slots__ = ("run", "params", "tags", "metrics", "artifacts", "models", "inputs", "environment")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class EnvironmentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    run: _runs_pb2.Run
    params: _containers.ScalarMap[str, str]
    tags: _containers.ScalarMap[str, str]
    metrics: _containers.RepeatedCompositeFieldContainer[FinalMetric]
    artifacts: _containers.RepeatedScalarFieldContainer[str]
    models: _containers.RepeatedCompositeFieldContainer[LoggedModel]
    inputs: _containers.RepeatedScalarFieldContainer[str]
    environment: _containers.ScalarMap[str, str]
    def __init__(self, run: _Optional[_Union[_runs_pb2.Run, _Mapping]] = ..., params: _Optional[_Mapping[str, str]] = ..., tags: _Optional[_Mapping[str, str]] = ..., metrics: _Optional[_Iterable[_Union[FinalMetric, _Mapping]]] = ..., artifacts: _Optional[_Iterable[str]] = ..., models: _Optional[_Iterable[_Union[LoggedModel, _Mapping]]] = ..., inputs: _Optional[_Iterable[str]] = ..., environment: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetMetricsRequest(_message.Message):
    __slots__ = ("run_id", "keys", "max_points", "page_size", "page_token", "after_step")
    class AfterStepEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    MAX_POINTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    AFTER_STEP_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    keys: _containers.RepeatedScalarFieldContainer[str]
    max_points: int
    page_size: int
    page_token: str
    after_step: _containers.ScalarMap[str, int]
    def __init__(self, run_id: _Optional[str] = ..., keys: _Optional[_Iterable[str]] = ..., max_points: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., after_step: _Optional[_Mapping[str, int]] = ...) -> None: ...

class MetricSeries(_message.Message):
    __slots__ = ("key", "total_points", "step", "value", "timestamp", "min_step", "min_value", "max_step", "max_value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    TOTAL_POINTS_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    MIN_STEP_FIELD_NUMBER: _ClassVar[int]
    MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_STEP_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    total_points: int
    step: _containers.RepeatedScalarFieldContainer[int]
    value: _containers.RepeatedScalarFieldContainer[float]
    timestamp: _containers.RepeatedScalarFieldContainer[float]
    min_step: int
    min_value: float
    max_step: int
    max_value: float
    def __init__(self, key: _Optional[str] = ..., total_points: _Optional[int] = ..., step: _Optional[_Iterable[int]] = ..., value: _Optional[_Iterable[float]] = ..., timestamp: _Optional[_Iterable[float]] = ..., min_step: _Optional[int] = ..., min_value: _Optional[float] = ..., max_step: _Optional[int] = ..., max_value: _Optional[float] = ...) -> None: ...

class MetricHistory(_message.Message):
    __slots__ = ("series", "next_page_token")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[MetricSeries]
    next_page_token: str
    def __init__(self, series: _Optional[_Iterable[_Union[MetricSeries, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SearchRunsRequest(_message.Message):
    __slots__ = ("project", "filter", "sort", "limit", "columns", "page_size", "page_token", "count")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    project: str
    filter: str
    sort: str
    limit: int
    columns: _containers.RepeatedScalarFieldContainer[str]
    page_size: int
    page_token: str
    count: bool
    def __init__(self, project: _Optional[str] = ..., filter: _Optional[str] = ..., sort: _Optional[str] = ..., limit: _Optional[int] = ..., columns: _Optional[_Iterable[str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., count: _Optional[bool] = ...) -> None: ...

class RunValues(_message.Message):
    __slots__ = ("run_id", "params", "metrics", "tags")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    params: _containers.ScalarMap[str, str]
    metrics: _containers.ScalarMap[str, float]
    tags: _containers.ScalarMap[str, str]
    def __init__(self, run_id: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RunTable(_message.Message):
    __slots__ = ("runs", "values", "next_page_token", "total")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[_runs_pb2.Run]
    values: _containers.RepeatedCompositeFieldContainer[RunValues]
    next_page_token: str
    total: int
    def __init__(self, runs: _Optional[_Iterable[_Union[_runs_pb2.Run, _Mapping]]] = ..., values: _Optional[_Iterable[_Union[RunValues, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total: _Optional[int] = ...) -> None: ...

class RunKeysRequest(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: str
    def __init__(self, project: _Optional[str] = ...) -> None: ...

class RunKeys(_message.Message):
    __slots__ = ("params", "metrics", "tags", "truncated")
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    params: _containers.RepeatedScalarFieldContainer[str]
    metrics: _containers.RepeatedScalarFieldContainer[str]
    tags: _containers.RepeatedScalarFieldContainer[str]
    truncated: bool
    def __init__(self, params: _Optional[_Iterable[str]] = ..., metrics: _Optional[_Iterable[str]] = ..., tags: _Optional[_Iterable[str]] = ..., truncated: _Optional[bool] = ...) -> None: ...
