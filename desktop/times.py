"""The one time convention of the desktop: local time, the zone named, and "3 min ago" where recency is
what a person scans for (with the exact time on hover).

Tables show minutes (`local`), run events seconds (`local_s`); a header or a tooltip names the zone
(`zone`, `exact`); a time said on its own (a field, a sentence) names it inline (`local_zoned`).
Everything takes the timestamp (seconds since the epoch) and, where it compares with now, `now` as an
argument: tests pass their own clock and zone (TZ, then time.tzset()).
"""

from __future__ import annotations

import time
from datetime import datetime


def _local(ts: float) -> datetime:
    return datetime.fromtimestamp(ts).astimezone()


def local(ts: float) -> str:
    """To the minute, local time: "2026-12-02 14:05" ("" for no time)."""
    return _local(ts).strftime("%Y-%m-%d %H:%M") if ts else ""


def local_s(ts: float) -> str:
    """To the second, local time: state changes of a short run happen within one minute."""
    return _local(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def local_zoned(ts: float) -> str:
    """To the second with its zone, for a time said on its own (a field, a sentence), with no header to
    name the zone: "2026-12-02 13:00:07 CET" ("" for no time)."""
    return f"{local_s(ts)} {zone(ts)}" if ts else ""


def zone(ts: float | None = None) -> str:
    """The local zone's name at `ts` (now by default), e.g. "CET", "UTC"; its offset where it has none."""
    moment = _local(ts if ts is not None else time.time())
    name = moment.tzname() or ""
    return name if name and not name.startswith(("+", "-")) else moment.strftime("UTC%z")


def exact(ts: float) -> str:
    """For a tooltip: local time to the second with its zone and offset, and the same moment in UTC."""
    if not ts:
        return ""
    moment = _local(ts)
    offset = moment.strftime("%z")
    text = f"{moment.strftime('%Y-%m-%d %H:%M:%S')} {zone(ts)} (UTC{offset[:3]}:{offset[3:]})"
    if moment.utcoffset():
        text += f", {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(ts))} UTC"
    return text


def ago(ts: float, now: float) -> str:
    """How long before `now`: "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago", then the date."""
    if not ts:
        return ""
    seconds = now - ts
    if seconds < 0:
        return local(ts)  # a clock ahead of this one: the time itself, not "in 2 min"
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = (_local(now).date() - _local(ts).date()).days
    if days <= 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    return _local(ts).strftime("%Y-%m-%d")
