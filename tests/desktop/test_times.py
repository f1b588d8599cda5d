"""One time convention: local time with the zone named, relative where recency matters."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from kiln.desktop import times

NOON_UTC = 1_796_212_800.0  # 2026-12-02 12:00:00 UTC, a Wednesday


@pytest.fixture
def berlin() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_times_are_local_with_the_zone_named(berlin):
    assert times.local(NOON_UTC) == "2026-12-02 13:00"
    assert times.local_s(NOON_UTC + 7) == "2026-12-02 13:00:07"
    assert times.zone(NOON_UTC) == "CET"
    assert times.exact(NOON_UTC) == "2026-12-02 13:00:00 CET (UTC+01:00), 2026-12-02 12:00:00 UTC"
    assert times.local(0) == times.exact(0) == ""


def test_recent_times_read_as_how_long_ago(berlin):
    now = NOON_UTC
    assert times.ago(now - 10, now) == "just now"
    assert times.ago(now - 5 * 60, now) == "5 min ago"
    assert times.ago(now - 3 * 3600 - 60, now) == "3 h ago"
    assert times.ago(now - 26 * 3600, now) == "yesterday"
    assert times.ago(now - 4 * 86400, now) == "4 days ago"
    assert times.ago(now - 30 * 86400, now) == "2026-11-02"
    assert times.ago(now + 120, now) == "2026-12-02 13:02"  # a clock ahead: the time, never "in 2 min"
