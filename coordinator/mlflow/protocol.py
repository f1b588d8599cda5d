"""What every MLflow handler shares: the call (who, which project, the request's fields, read with bounds),
MLflow's error codes for Kiln's errors, and MLflow's units (milliseconds, status names).

A handler is a plain function `(Call) -> dict` run on a worker thread; it reads fields only through
`Call`'s accessors, which refuse a missing, mistyped or oversized field with INVALID_PARAMETER_VALUE
before anything is looked up, so a caller's mistake is always a 400 that names the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiln.coordinator.context import Coordinator
from kiln.core import limits
from kiln.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    KilnError,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from kiln.core.permissions import Principal
from kiln.core.runs import RunState

MAX_BODY_BYTES = 64 * 1024 * 1024  # one JSON request (log-batch of 1,000 metrics is well under 1 MiB)
MAX_RESULTS = 50_000  # MLflow's own cap on search_runs' max_results
DEFAULT_RESULTS = 1000


class MlflowError(KilnError):
    """An error answered with a given MLflow error code (and HTTP status), for the cases where Kiln's
    error kinds do not say enough (an approval opened, an endpoint MLflow has and Kiln does not)."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code, self.status = code, status


# Kiln's error kinds as MLflow's (error_code, HTTP status); the client maps the codes to its exceptions.
_CODES: tuple[tuple[type[KilnError], str, int], ...] = (
    (NotFound, "RESOURCE_DOES_NOT_EXIST", 404),
    (AlreadyExists, "RESOURCE_ALREADY_EXISTS", 400),
    (InvalidArgument, "INVALID_PARAMETER_VALUE", 400),
    (PermissionDenied, "PERMISSION_DENIED", 403),
    (Unauthenticated, "UNAUTHENTICATED", 401),
    (FailedPrecondition, "INVALID_STATE", 400),
    (ResourceExhausted, "RESOURCE_EXHAUSTED", 429),
    (Unavailable, "TEMPORARILY_UNAVAILABLE", 503),
)


def error_of(e: KilnError) -> tuple[int, dict[str, str]]:
    """(HTTP status, MLflow's error body) for a Kiln error."""
    if isinstance(e, MlflowError):
        return e.status, {"error_code": e.code, "message": str(e)}
    for kind, code, status in _CODES:
        if isinstance(e, kind):
            return status, {"error_code": code, "message": str(e)}
    return 500, {"error_code": "INTERNAL_ERROR", "message": str(e)}


@dataclass
class Call:
    """One request: the coordinator, the caller, the project of the tracking URI, and the request's fields
    (the JSON body, or for GET the query string, a repeated key as a list)."""

    ctx: Coordinator
    who: Principal
    project: str
    fields: dict[str, Any] = field(default_factory=dict)

    def raw(self, name: str) -> Any:
        return self.fields.get(name)

    def text(self, name: str, required: bool = False, limit: limits.Limit = limits.TRACK_VALUE) -> str:
        value = self.fields.get(name)
        if value is None or value == "":
            if required:
                raise InvalidArgument(f"missing value for required parameter {name!r}")
            return ""
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InvalidArgument(f"parameter {name!r} must be a string, not {type(value).__name__}")
        return limits_text(str(value), name, limit)

    def integer(self, name: str, default: int | None = None, lo: int = 0, hi: int = 2**63 - 1) -> int:
        value = self.fields.get(name)
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if value is None or value == "":
            if default is None:
                raise InvalidArgument(f"missing value for required parameter {name!r}")
            return default
        try:
            number = int(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or not lo <= number <= hi:
            raise InvalidArgument(f"parameter {name!r} must be an integer from {lo} to {hi}, not {value!r}")
        return number

    def number(self, name: str) -> float:
        value = self.fields.get(name)
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        return as_float(value, name)

    def strings(self, name: str, most: int = 1000, limit: limits.Limit = limits.TRACK_VALUE) -> list[str]:
        value = self.fields.get(name)
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        if len(items) > most:
            raise InvalidArgument(f"parameter {name!r} holds {len(items)} values; at most {most}")
        out = []
        for item in items:
            if not isinstance(item, (str, int)) or isinstance(item, bool):
                raise InvalidArgument(f"parameter {name!r} must hold strings, not {type(item).__name__}")
            out.append(limits_text(str(item), name, limit))
        return out

    def objects(self, name: str, most: int) -> list[dict[str, Any]]:
        value = self.fields.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise InvalidArgument(f"parameter {name!r} must be a list of objects")
        if len(value) > most:
            raise InvalidArgument(f"parameter {name!r} holds {len(value)} entries; at most {most}")
        return value

    def tags(self, name: str = "tags", most: int = limits.RUN_TAGS.most) -> dict[str, str]:
        """A list of {key, value} objects (MLflow's tags), as a dict."""
        out: dict[str, str] = {}
        for t in self.objects(name, most):
            key = limits_text(str(t.get("key") or ""), "tag key", limits.TRACK_KEY)
            if not key:
                raise InvalidArgument(f"a tag in {name!r} has no key")
            out[key] = limits_text(str(t.get("value") if t.get("value") is not None else ""), key, limits.TRACK_VALUE)
        return out


def limits_text(value: str, name: str, limit: limits.Limit) -> str:
    if len(value) > limit.most:
        raise InvalidArgument(f"{name!r} is {len(value)} characters long; at most {limit.most}")
    if "\x00" in value:
        raise InvalidArgument(f"{name!r} holds a NUL character")
    return value


def as_float(value: Any, name: str) -> float:
    """A metric value as MLflow sends it: a number, or "NaN"/"Infinity"/"-Infinity" as JSON cannot hold them."""
    if isinstance(value, bool) or value is None:
        raise InvalidArgument(f"parameter {name!r} must be a number, not {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise InvalidArgument(f"parameter {name!r} must be a number, not {str(value)[:40]!r}")


def json_float(value: float) -> float | str:
    """A float for MLflow's JSON: NaN and infinities as the strings its client reads back."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def ms(seconds: float) -> int:
    return int(round(seconds * 1000)) if seconds else 0


def seconds(millis: int) -> float:
    return millis / 1000.0


# Kiln's run states as MLflow's run statuses, and back.
STATUS_OF: dict[RunState, str] = {
    RunState.QUEUED: "SCHEDULED",
    RunState.ASSIGNED: "SCHEDULED",
    RunState.PREPARING: "SCHEDULED",
    RunState.RUNNING: "RUNNING",
    RunState.SUCCEEDED: "FINISHED",
    RunState.FAILED: "FAILED",
    RunState.LOST: "FAILED",
    RunState.PREEMPTED: "FAILED",
    RunState.CANCELLED: "KILLED",
}
STATE_OF: dict[str, RunState] = {
    "RUNNING": RunState.RUNNING,
    "SCHEDULED": RunState.QUEUED,
    "FINISHED": RunState.SUCCEEDED,
    "FAILED": RunState.FAILED,
    "KILLED": RunState.CANCELLED,
}

Handler = Callable[[Call], dict[str, Any]]


@dataclass(frozen=True)
class Endpoint:
    """One REST path of MLflow's API (under /api/2.0/mlflow/ unless `path` starts with /api/)."""

    method: str
    path: str
    handler: Handler

    @property
    def full_path(self) -> str:
        return self.path if self.path.startswith("/api/") else f"/api/2.0/mlflow/{self.path}"
