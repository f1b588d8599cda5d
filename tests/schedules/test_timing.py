"""Schedule timing on a simulated clock: DST gaps and overlaps spelled out in local time, the edge's error
messages, anchored intervals, and 10,000+ fires across restarts, downtime and five years of DST changes,
checked against nominal times worked out from zoneinfo alone (no cronsim)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiln.coordinator.schedules import timing
from kiln.coordinator.schedules.timing import GRACE_S, Timing

BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"


def at(tz: str, wall: str) -> float:
    """The instant of a local wall time (its first occurrence, if it repeats)."""
    return datetime.fromisoformat(wall).replace(tzinfo=ZoneInfo(tz)).timestamp()


def local(t: float, tz: str) -> str:
    return datetime.fromtimestamp(t, ZoneInfo(tz)).isoformat(timespec="seconds")


def next_locals(expr: str, tz: str, start: str, n: int) -> list[str]:
    return [row[1] for row in timing.upcoming(Timing(cron=expr, tz=tz), at(tz, start), n)]


# --- DST, spelled out ------------------------------------------------------------------------------------

DST_CASES = [
    # spring forward: 02:00-03:00 does not exist; 02:30 fires once, at the first instant after the gap
    ("30 2 * * *", BERLIN, "2026-03-28T12:00", ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]),
    ("30 2 * * *", NEW_YORK, "2026-03-07T12:00", ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]),
    # fall back: 02:00-03:00 (Berlin) and 01:00-02:00 (New York) happen twice; a time in them fires on the first
    ("30 2 * * *", BERLIN, "2026-10-24T12:00", ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]),
    ("30 1 * * *", NEW_YORK, "2026-10-31T12:00", ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]),
    # frequent expressions keep the same wall-clock rule: the gap's times collapse into 03:00 ...
    (
        "*/15 * * * *",
        BERLIN,
        "2026-03-29T01:40",
        ["2026-03-29T01:45:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:15:00+02:00"],
    ),
    # ... and the repeated hour's second pass does not fire again
    (
        "*/15 * * * *",
        BERLIN,
        "2026-10-25T02:40",
        ["2026-10-25T02:45:00+02:00", "2026-10-25T03:00:00+01:00", "2026-10-25T03:15:00+01:00"],
    ),
    ("0 * * * *", NEW_YORK, "2026-11-01T00:30", ["2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00"]),
    # cronsim alone never fires this on the spring-forward day; here it fires once, at 03:00
    ("*/30 2 * * *", BERLIN, "2026-03-28T12:00", ["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"]),
    # several gap times and the gap's end fire once, together
    ("0,30 2,3 * * *", BERLIN, "2026-03-28T12:00", ["2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00"]),
    # the half-hour change of Lord Howe Island: 02:00-02:30 does not exist
    ("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00", ["2026-10-04T02:30:00+11:00"]),
]


@pytest.mark.parametrize(("expr", "tz", "start", "expected"), DST_CASES)
def test_dst_gaps_and_overlaps_fire_once_at_the_documented_local_time(
    expr: str, tz: str, start: str, expected: list[str]
) -> None:
    assert next_locals(expr, tz, start, len(expected)) == expected


def test_next_and_prev_from_inside_a_repeated_hours_second_pass() -> None:
    every_15 = Timing(cron="*/15 * * * *", tz=BERLIN)
    second_pass = at(BERLIN, "2026-10-25T02:10") + 3600  # 02:10+01:00
    assert local(second_pass, BERLIN) == "2026-10-25T02:10:00+01:00"
    assert local(timing.next_fire(every_15, second_pass), BERLIN) == "2026-10-25T03:00:00+01:00"
    assert local(timing.prev_fire(every_15, second_pass), BERLIN) == "2026-10-25T02:45:00+02:00"


def test_a_daily_fire_in_the_gap_is_due_just_after_it() -> None:
    daily = Timing(cron="30 2 * * *", tz=BERLIN)
    yesterday = at(BERLIN, "2026-03-28T02:30")
    gap_end = at(BERLIN, "2026-03-29T03:00")
    assert timing.due(daily, yesterday, gap_end - 1, "latest") == []
    assert timing.due(daily, yesterday, gap_end + 10, "none") == [gap_end]


def test_nominal_times_are_whole_seconds_strictly_after_and_at_or_before() -> None:
    daily = Timing(cron="0 6 * * *", tz=BERLIN)
    six = at(BERLIN, "2026-05-04T06:00")
    assert timing.next_fire(daily, six - 0.5) == six
    assert timing.next_fire(daily, six) == six + 86400
    assert timing.prev_fire(daily, six) == six
    assert timing.prev_fire(daily, six - 0.5) == six - 86400


ZONES = [BERLIN, NEW_YORK, "Australia/Lord_Howe", "Pacific/Apia", "America/Havana", "Asia/Kolkata", "UTC"]
EXPRESSIONS = ["*/15 * * * *", "30 2 * * *", "0,30 2,3 * * *", "0 0 * * *", "7 */5 * * 1-5", "59 23 L * *"]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(EXPRESSIONS),
    st.sampled_from(ZONES),
    st.floats(min_value=1.26e9, max_value=1.9e9),  # 2009-2030, Samoa's skipped day among them
)
def test_prev_and_next_bracket_any_instant_with_nothing_between(expr: str, tz: str, x: float) -> None:
    t = Timing(cron=expr, tz=tz)
    p, n = timing.prev_fire(t, x), timing.next_fire(t, x)
    assert p <= x < n and p == int(p) and n == int(n)
    assert timing.next_fire(t, p) == n
    assert timing.prev_fire(t, n) == n


# --- --every -------------------------------------------------------------------------------------------


def test_every_fires_at_anchor_plus_whole_intervals_whenever_it_is_asked() -> None:
    anchor = at(BERLIN, "2026-10-24T22:00") + 0.7
    every = timing.parse_timing(None, BERLIN, "1h30m", anchor)
    base = math.floor(anchor)
    assert every.anchor == base and every.every_s == 5400
    assert timing.next_fire(every, 0) == base
    rng = random.Random(7)
    for _ in range(500):
        after = base + rng.uniform(-3 * 5400, 400 * 5400)
        n = timing.next_fire(every, after)
        k = (n - base) / 5400
        assert k == int(k) and k >= 0 and n > after and n - 5400 <= max(after, base - 5400)
    # elapsed time, not wall time: across the fall-back night the local clock reading shifts by an hour
    rows = timing.upcoming(every, base - 1, 5)
    assert [r[1] for r in rows] == [
        "2026-10-24T22:00:00+02:00",
        "2026-10-24T23:30:00+02:00",
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T03:00:00+01:00",
    ]


def test_every_due_times_do_not_drift_with_late_ticks() -> None:
    every = timing.parse_timing(None, None, "10m", 1_000_000)
    last: float = 1_000_000 - 1
    now = 1_000_000.0
    fired: list[float] = []
    for _ in range(300):
        now += 37.3  # ticks that never line up with the interval
        fires = timing.due(every, last, now, "latest")
        fired += fires
        last = max([last, *fires])
    assert fired == [1_000_000 + 600 * k for k in range(len(fired))] and len(fired) == 19


# --- the edge ------------------------------------------------------------------------------------------

BAD = [
    (("0 6 * * 1-5", None, None), "needs --tz ZONE"),
    (("0 6 * * 1-5", "", None), "needs --tz ZONE"),
    (("0 6 * * 1-5", BERLIN, "30m"), "exactly one of --cron"),
    ((None, BERLIN, None), "exactly one of --cron"),
    (("", BERLIN, None), "--cron needs an expression"),
    (("61 * * * *", BERLIN, None), "bad cron expression '61 * * * *': Bad minute"),
    (("0 25 * * *", BERLIN, None), "bad cron expression '0 25 * * *': Bad hour"),
    (("0 0 30 2 *", BERLIN, None), "Bad day-of-month"),
    (("0 6 * * MO", BERLIN, None), "bad cron expression '0 6 * * MO'"),
    (("0 6 * *", BERLIN, None), "'0 6 * *' has 4 fields; it needs five fields"),
    (("0 0 6 * * *", BERLIN, None), "has 6 fields"),
    (("@daily", BERLIN, None), "has 1 fields"),
    (("0 " * 101, BERLIN, None), "at most 200 characters"),
    (("0 6 * * *", "Europe/Berln", None), "unknown time zone 'Europe/Berln'"),
    (("0 6 * * *", "europe/berlin", None), "did you mean Europe/Berlin?"),
    (("0 6 * * *", "../etc", None), "'../etc' is not a time zone name"),
    (("0 6 * * *", "/etc/localtime", None), "is not a time zone name"),
    (("0 6 * * *", "Europe/../Europe/Berlin", None), "is not a time zone name"),
    (("0 6 * * *", "Europe", None), "unknown time zone 'Europe'"),
    (("0 6 * * *", "right/UTC", None), "unknown time zone 'right/UTC'"),
    (("0 6 * * *", "localtime", None), "depends on the machine"),
    (("0 6 * * *", "Europe/Berlin" * 10, None), "is not a time zone name"),
    ((None, "Mars/Olympus", "30m"), "unknown time zone 'Mars/Olympus'"),
    ((None, None, "30"), "'30' is not an interval; write a number and unit"),
    ((None, None, "1h30"), "is not an interval"),
    ((None, None, "1.5h"), "is not an interval"),
    ((None, None, "-5m"), "is not an interval"),
    ((None, None, ""), "is not an interval"),
    ((None, None, "30m1h"), "is not an interval"),
    ((None, None, "5s"), "'5s' is 5s; it must be from 10s to 366d"),
    ((None, None, "367d"), "must be from 10s to 366d"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_input_says_what_to_fix(args: tuple[str | None, str | None, str | None], message: str) -> None:
    with pytest.raises(ValueError) as e:
        timing.parse_timing(*args, anchor=1.7e9)
    assert message in str(e.value)


def test_good_input_and_the_checks_on_direct_construction() -> None:
    t = timing.parse_timing("  0 6  * * 1-5 ", BERLIN, None, 0)
    assert t == Timing(cron="0 6 * * 1-5", tz=BERLIN) and t.kind == "cron"
    assert timing.parse_every("2d") == 172800 and timing.parse_every("10s") == 10
    assert timing.format_every(5400) == "1h30m" and timing.format_every(172800) == "2d"
    assert timing.parse_catch_up("latest") == "latest"
    with pytest.raises(ValueError, match="choose none"):
        timing.parse_catch_up("all")
    with pytest.raises(ValueError, match="exactly one"):
        Timing()
    with pytest.raises(ValueError, match="whole number of seconds"):
        Timing(every_s=60, anchor=1.5)
    with pytest.raises(ValueError, match="catch-up is one of"):
        timing.due(t, None, 1.7e9, "all")  # type: ignore[arg-type]


def test_describe_and_upcoming_show_both_zones() -> None:
    weekdays = Timing(cron="0 6 * * 1-5", tz=BERLIN)
    assert timing.describe(weekdays) == 'At 06:00 on Monday through Friday, Europe/Berlin time ("0 6 * * 1-5")'
    assert timing.describe(timing.parse_timing(None, None, "30m", 0)) == "every 30m from 1970-01-01T00:00:00+00:00"
    rows = timing.upcoming(weekdays, at(BERLIN, "2026-05-08T07:00"), local_tz=ZoneInfo("Asia/Tokyo"))
    assert [(r[1], r[2]) for r in rows[:2]] == [
        ("2026-05-11T06:00:00+02:00", "2026-05-11T13:00:00+09:00"),
        ("2026-05-12T06:00:00+02:00", "2026-05-12T13:00:00+09:00"),
    ]
    assert len(rows) == 5 and rows[0][0] == at(BERLIN, "2026-05-11T06:00")


def test_a_schedule_with_no_history_counts_only_what_is_on_time() -> None:
    daily = Timing(cron="0 6 * * *", tz=BERLIN)
    six = at(BERLIN, "2026-05-04T06:00")
    assert timing.due(daily, None, six + 3 * 3600, "latest") == []
    assert timing.due(daily, None, six + 30, "none") == [six]


# --- 10,000 fires on a simulated clock -----------------------------------------------------------------


def oracle_instant(wall: datetime, z: ZoneInfo) -> float:
    """The spec, from zoneinfo alone: a wall time's first occurrence; in a gap, the first minute after it."""
    while (w := wall.replace(tzinfo=z)).astimezone(UTC).astimezone(z).replace(tzinfo=None) != wall:
        wall += timedelta(minutes=1)
    return w.timestamp()


def oracle_fires(expr: str, tz: str, start: float, end: float) -> list[float]:
    z = ZoneInfo(tz)
    first = datetime.fromtimestamp(start, z).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    if expr == "*/15 * * * *":
        walls = (first + timedelta(minutes=15 * i) for i in range(int((end - start) // 900) + 20))
    else:
        assert expr == "30 2 * * *"
        walls = (
            datetime.combine(first.date() + timedelta(days=i), datetime.min.time()).replace(hour=2, minute=30)
            for i in range(int((end - start) // 86400) + 3)
        )
    return sorted({t for t in (oracle_instant(w, z) for w in walls) if start < t <= end})


@dataclass
class Store:
    """What the coordinator's SQLite keeps: the cursor and the claimed fires, committed together."""

    last_nominal: float
    claimed: list[float] = field(default_factory=list)


@dataclass
class Coordinator:
    """The in-memory side, thrown away at every restart: when it means to wake next."""

    wake: float


@dataclass
class Trace:
    ticks: list[float] = field(default_factory=list)  # committed ticks only: a crash rolls a tick back
    claims: list[list[float]] = field(default_factory=list)


def simulate(
    t: Timing, start: float, end: float, catch_up: timing.CatchUp, down_max_s: float, rng: random.Random
) -> tuple[Store, Trace]:
    store, trace, now = Store(last_nominal=start), Trace(), start
    coordinator: Coordinator | None = None
    while now < end:
        roll = rng.random()
        if roll < 0.01:  # downtime: a stall of hours, and a restart
            now += rng.uniform(GRACE_S, down_max_s)
            coordinator = None
        elif coordinator is not None and roll < 0.5:  # woken for the next fire, on time or a little late
            edge = rng.random() < 0.06  # right at the grace window's end, either side of it
            jitter = rng.choice([GRACE_S - 0.5, GRACE_S, GRACE_S + 0.5] if edge else [0.0, rng.uniform(0, GRACE_S)])
            now = max(now + 0.001, coordinator.wake + jitter)
        else:  # a poll
            now += rng.uniform(0.001, GRACE_S)
        if coordinator is None:
            coordinator = Coordinator(wake=timing.next_fire(t, max(now, store.last_nominal)))
        fires = timing.due(t, store.last_nominal, now, catch_up)
        if rng.random() < 0.02:  # crashed before the transaction committed: neither claims nor cursor moved
            coordinator = None
            continue
        if fires:
            store.claimed += fires
            store.last_nominal = max(fires)
        trace.ticks.append(now)
        trace.claims.append(fires)
        coordinator.wake = timing.next_fire(t, now)
        if rng.random() < 0.01:  # a restart with no downtime to speak of
            coordinator = None
    return store, trace


def check(store: Store, trace: Trace, nominal: list[float], start: float, catch_up: str) -> int:
    """Every on-time fire claimed once; of those missed in a downtime, none or exactly the latest one."""
    claimed = store.claimed
    assert claimed == sorted(set(claimed)), "a fire was claimed twice"
    assert set(claimed) <= set(nominal), "a claimed time is no nominal fire time"
    prev, i, missed_total = start, 0, 0
    for now, got in zip(trace.ticks, trace.claims, strict=True):
        window = []
        while i < len(nominal) and nominal[i] <= now:
            window.append(nominal[i])
            i += 1
        on_time = [f for f in window if now - f < GRACE_S]
        missed = [f for f in window if now - f >= GRACE_S]
        assert not missed or now - prev >= GRACE_S, "a fire was missed with the coordinator up"
        expected = on_time if on_time or catch_up == "none" else missed[-1:]
        assert got == expected, f"at {now} (after {prev}) claimed {got}, expected {expected}"
        missed_total += len(missed)
        prev = now
    assert i == len(nominal)
    return missed_total


def dst_days(tz: str, years: range) -> list[date]:
    z, days = ZoneInfo(tz), []
    d = date(years.start, 1, 1)
    while d.year < years.stop:
        noon = datetime.combine(d, datetime.min.time()).replace(hour=12, tzinfo=z)
        if noon.utcoffset() != (noon + timedelta(days=1)).utcoffset():
            days.append(d + timedelta(days=1))
        d += timedelta(days=1)
    return days


def scenarios() -> list[tuple[str, str, float, float, float]]:
    """(expression, zone, start, end, longest downtime): every 15 minutes over four days around each DST
    change of 2024-2028, and 02:30 daily through all five years, in both zones."""
    found = []
    for tz in (BERLIN, NEW_YORK):
        for day in dst_days(tz, range(2024, 2029)):
            middle = at(tz, f"{day.isoformat()}T00:00")
            found.append(("*/15 * * * *", tz, middle - 2 * 86400 + 7.5, middle + 2 * 86400, 6 * 3600.0))
        found.append(("30 2 * * *", tz, at(tz, "2024-01-01T00:00"), at(tz, "2029-01-01T00:00"), 80 * 3600.0))
    return found


@pytest.mark.parametrize("catch_up", ["latest", "none"])
def test_ten_thousand_fires_across_restarts_downtime_and_dst(catch_up: timing.CatchUp) -> None:
    rng = random.Random(f"kiln-schedules-{catch_up}")
    total = claimed = missed = 0
    for expr, tz, start, end, down_max_s in scenarios():
        t = Timing(cron=expr, tz=tz)
        store, trace = simulate(t, start, end, catch_up, down_max_s, rng)
        nominal = oracle_fires(expr, tz, start, trace.ticks[-1])
        missed += check(store, trace, nominal, start, catch_up)
        total += len(nominal)
        claimed += len(store.claimed)
    assert total >= 10_000
    assert missed > 100 and claimed < total  # the downtime was real, and caught up on (or not) as promised
