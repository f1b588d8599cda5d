"""The one clock: seconds since the epoch, as a float."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    return time.time()


def iso(ts: float) -> str:
    """An ISO-8601 UTC rendering for people and JSON output ("" for an unset time)."""
    if not ts:
        return ""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
