"""One time convention: local time with the zone named, relative where recency matters (with the exact
time on hover), and the screens' rows that follow it."""

from __future__ import annotations

from kiln.core.models import AliasMove, AliasRequest, Comment, ModelVersion
from kiln.core.runs import Run, RunEvent, RunSpec, RunState
from kiln.desktop import times
from kiln.desktop.pages.models.rows import (
    REQUEST_HEADERS,
    Extras,
    at_headers,
    at_rows,
    at_text,
    move_headers,
    move_rows,
    request_rows,
    review_rows,
    version_headers,
    version_rows,
)
from kiln.desktop.pages.runs.rows import event_headers, event_rows, field_rows, outcome_fields
from kiln.desktop.widgets.chartscale import wall_label, wall_title
from kiln.desktop.widgets.comments import comment_rows

NOON_UTC = 1_796_212_800.0  # 2026-12-02 12:00:00 UTC, a Wednesday


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


def test_lists_say_how_long_ago_with_the_exact_time_on_hover(berlin):
    """Requests, reviews, comments and model versions, where the newest is what is looked for."""
    now, then = NOON_UTC, NOON_UTC - 5 * 60
    exact = times.exact(then)
    request = AliasRequest("ar-1", "p", "m", 2, "production", "dev", "open", then, 0, 1, "", (("v", True, "ok", then),))
    requested = request_rows([request], now=now)[0]
    assert requested.cells[REQUEST_HEADERS.index("Requested")] == "5 min ago"
    assert requested.tip(REQUEST_HEADERS.index("Requested")) == exact
    reviewed = review_rows(request, now=now)[0]
    assert reviewed.cells[3] == "5 min ago" and reviewed.tip(3) == exact
    comment = comment_rows([Comment("c-1", "run:r-1", "p", "dev", "converged", then)], now=now)[0]
    assert comment.cells[0] == "5 min ago" and comment.tip(0) == exact
    version = ModelVersion("p", "m", 2, "r-1", "out/model", "s" * 64, "dev", then)
    headers = version_headers([])
    registered = version_rows([version], [], Extras(), now=now)[0]
    column = headers.index("Registered")
    assert headers[-2:] == ("Registered", "By") and len(registered.cells) == len(headers)
    assert registered.cells[column] == "5 min ago" and registered.tip(column) == exact


def test_logs_read_by_the_second_name_the_zone_in_their_header(berlin):
    """A run's state changes and an alias's moves: local to the second, the zone over the column, the
    exact time with UTC on hover; a time said on its own names its zone inline."""
    then = NOON_UTC + 7
    move = AliasMove("production", 2, then, "val", "ar-1")
    assert move_headers()[0] == "Time (CET)" and at_headers()[2] == "Since (CET)"
    moved = move_rows([move])[0]
    assert moved.cells[0] == "2026-12-02 13:00:07" and moved.tip(0) == times.exact(then)
    since = at_rows([move])[0]
    assert since.cells[2] == "2026-12-02 13:00:07" and since.tip(2) == times.exact(then)
    assert at_text([move], "2026-12-03 09:00:00") == (
        "At 2026-12-03 09:00:00, production was version 2 (since 2026-12-02 13:00:07 CET, by val)."
    )
    run = Run(
        "r-1",
        RunSpec("p", ("true",)),
        "dev",
        RunState.RUNNING,
        then,
        started_at=then,
        events=(RunEvent(then, RunState.RUNNING, "started", "n1", 1),),
    )
    assert event_headers()[0] == "Time (CET)"
    event = event_rows(run)[0]
    assert event.cells[0] == "2026-12-02 13:00:07" and event.tip(0) == times.exact(then)
    started = dict(r.cells for r in field_rows(run, outcome_fields(then)))["Started"]
    assert started == times.local_zoned(then) == "2026-12-02 13:00:07 CET"
    assert times.local_zoned(0) == ""


def test_the_wall_time_axis_names_its_zone_once(berlin):
    assert wall_title("wall time", NOON_UTC, NOON_UTC + 600) == "wall time (CET)"
    summer = 1_782_900_000.0  # 2026-07-01, CEST
    assert wall_title("wall time", summer, NOON_UTC) == "wall time (CEST/CET)"  # across the change of zone
    assert wall_label(NOON_UTC, 600) == "13:00"  # the ticks themselves: the clock time alone
