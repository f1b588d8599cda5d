"""When a schedule fires: its timing (a cron expression read in an explicit IANA zone, or a fixed interval from
an anchor), the nominal fire times that follow from it, and which of them to fire now.

Everything here is pure: times are seconds since the epoch passed in by the caller, never read from a clock,
so the coordinator's loop and a test's simulated clock drive it alike. Nominal times are whole seconds, so
the store can key fires by them exactly.

Cron is wall-clock time in the schedule's zone, and each wall time the expression names fires once:
- one that does not exist (skipped by a spring-forward change, as 02:30 in Europe/Berlin on the last Sunday
  of March) fires at the first instant after the gap, 03:00 local; several such times fire once, together,
  and together with a time the expression names at the gap's end;
- one that occurs twice (repeated by a fall-back change, as 02:30 on the last Sunday of October) fires on
  its first occurrence only.
The rule holds for every expression, so "*/15 * * * *" pauses through a repeated hour; a schedule that wants
a steady pace in elapsed time uses --every. cronsim on its own (like Debian cron) keeps these rules only for
expressions with a fixed minute and hour and reads the others in elapsed time, where "*/30 2 * * *" never
fires on the spring-forward day; so we run it on naive wall times and place them in the zone ourselves.

--every N fires at anchor + k*N (k = 0, 1, 2, …) in elapsed time; its zone, if given, only shows its times.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Literal, get_args

from cronsim import CronSim, CronSimError

CatchUp = Literal["none", "latest"]
CATCH_UPS: tuple[str, ...] = get_args(CatchUp)

GRACE_S = 60.0  # a fire is on time until a minute after its nominal time; later, catch-up decides
MIN_EVERY_S = 10  # shorter intervals would be a busy loop of runs, not a schedule
MAX_EVERY_S = 366 * 86400  # a year and a day: yearly jobs belong to cron, which knows calendars
MAX_CRON_CHARS = 200
MAX_TZ_CHARS = 64
MAX_EVERY_CHARS = 32
UPCOMING = 5

_CRON_HELP = 'five fields: minute hour day-of-month month day-of-week, e.g. "0 6 * * 1-5"'
_EVERY_HELP = "a number and unit, from days to seconds: 30s, 30m, 1h30m, 2d"
_EVERY_RE = re.compile(r"(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,8})s)?")
_UNIT_S = (86400, 3600, 60, 1)
_ZONE_RE = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*")
_NOT_EXPLICIT = frozenset({"localtime", "Factory"})  # in the database, but say nothing about a place
_ON_TIME_LIMIT = int(GRACE_S // MIN_EVERY_S) + 2  # the most fires one grace window can hold


@dataclass(frozen=True)
class Timing:
    """Either `cron` read in zone `tz`, or `every_s` seconds from `anchor`; constructing one checks it, so a
    row read back from the store is as safe as a command line."""

    cron: str = ""
    tz: str = ""  # required with cron; with every, only the zone its times are shown in ("" shows UTC)
    every_s: int = 0
    anchor: float = 0.0  # the first fire of an every schedule, in whole seconds

    def __post_init__(self) -> None:
        if bool(self.cron) == bool(self.every_s):
            raise ValueError("a schedule needs exactly one of --cron EXPR and --every INTERVAL")
        if self.cron:
            _check_cron(self.cron)
            if not self.tz:
                raise ValueError(f"--cron {self.cron!r} needs --tz ZONE, an IANA name such as Europe/Berlin")
        else:
            if not MIN_EVERY_S <= self.every_s <= MAX_EVERY_S:
                raise ValueError(f"--every must be from {MIN_EVERY_S}s to {MAX_EVERY_S // 86400}d")
            if not (math.isfinite(self.anchor) and self.anchor >= 0 and self.anchor == int(self.anchor)):
                raise ValueError("an --every schedule's anchor is a whole number of seconds since the epoch")
        if self.tz:
            load_zone(self.tz)

    @property
    def kind(self) -> Literal["cron", "every"]:
        return "cron" if self.cron else "every"

    @property
    def zone(self) -> tzinfo:
        """The zone its times are read (cron) or shown (every) in."""
        return load_zone(self.tz) if self.tz else UTC


def parse_timing(cron: str | None, tz: str | None, every: str | None, anchor: float) -> Timing:
    """The timing a command line asks for (--cron with --tz, or --every with an optional --tz to show times
    in); `anchor`, the first fire of an --every schedule, is usually the time it was created."""
    if (cron is None) == (every is None):
        raise ValueError("give exactly one of --cron EXPR (with --tz ZONE) and --every INTERVAL")
    if cron is not None:
        if not cron.strip():
            raise ValueError(f"--cron needs an expression: {_CRON_HELP}")
        if len(cron) > MAX_CRON_CHARS:
            raise ValueError(f"a cron expression has at most {MAX_CRON_CHARS} characters")
        if not tz:
            raise ValueError(
                f"--cron {cron!r} needs --tz ZONE, an IANA name such as Europe/Berlin or America/New_York "
                "(cron times are wall-clock times, and Kiln never guesses a zone)"
            )
        timing = Timing(cron=" ".join(cron.split()), tz=tz)
        if next_fire(timing, anchor) == math.inf:
            raise ValueError(f"cron expression {cron!r} never fires")
        return timing
    assert every is not None
    if not math.isfinite(anchor) or anchor < 0:
        raise ValueError("the anchor of an --every schedule is a time in seconds since the epoch")
    return Timing(tz=tz or "", every_s=parse_every(every), anchor=float(math.floor(anchor)))


def parse_every(text: str) -> int:
    """Seconds in an interval written as 30s, 30m, 1h30m or 2d."""
    s = text.strip().lower()
    found = _EVERY_RE.fullmatch(s) if s and len(s) <= MAX_EVERY_CHARS else None
    if found is None or not any(found.groups()):
        raise ValueError(f"--every {text!r} is not an interval; write {_EVERY_HELP}")
    seconds = sum(int(n) * unit for n, unit in zip(found.groups(), _UNIT_S, strict=True) if n)
    if not MIN_EVERY_S <= seconds <= MAX_EVERY_S:
        raise ValueError(
            f"--every {text!r} is {seconds}s; it must be from {MIN_EVERY_S}s to {MAX_EVERY_S // 86400}d "
            "(for longer or calendar-bound periods use --cron)"
        )
    return seconds


def format_every(seconds: int) -> str:
    """The short form parse_every reads back: 5400 -> "1h30m"."""
    parts = []
    for unit, name in zip(_UNIT_S, "dhms", strict=True):
        if seconds >= unit:
            parts.append(f"{seconds // unit}{name}")
            seconds %= unit
    return "".join(parts) or "0s"


def parse_catch_up(text: str) -> CatchUp:
    if text == "none":
        return "none"
    if text == "latest":
        return "latest"
    raise ValueError(f"--catch-up {text!r}: choose none (skip missed fires) or latest (fire the latest missed once)")


def load_zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone of that name; anything else (a path, "localtime", a near miss) is refused by name."""
    if not name:
        raise ValueError("the time zone is empty; give an IANA name such as Europe/Berlin")
    if len(name) > MAX_TZ_CHARS or not _ZONE_RE.fullmatch(name):
        raise ValueError(f"{name[:MAX_TZ_CHARS]!r} is not a time zone name; use an IANA name such as Europe/Berlin")
    if name in _NOT_EXPLICIT:
        raise ValueError(f"time zone {name!r} depends on the machine; name the zone, such as Europe/Berlin")
    if name not in _zone_names():
        near = [z for z in sorted(_zone_names()) if z.lower() == name.lower()]
        hint = f" (did you mean {near[0]}?)" if near else " (the IANA names are like Europe/Berlin or Asia/Tokyo)"
        raise ValueError(f"unknown time zone {name!r}{hint}")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise ValueError(f"time zone {name!r} cannot be read from the zone database: {e}") from e


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    # the database's own list: it leaves out directories, tables and the leap-second "right/" zones
    return frozenset(zoneinfo.available_timezones()) - _NOT_EXPLICIT


def _check_cron(expr: str) -> None:
    if len(expr) > MAX_CRON_CHARS:
        raise ValueError(f"a cron expression has at most {MAX_CRON_CHARS} characters")
    if len(expr.split()) != 5:
        raise ValueError(f"cron expression {expr!r} has {len(expr.split())} fields; it needs {_CRON_HELP}")
    try:
        CronSim(expr, datetime(2000, 1, 1))
    except CronSimError as e:
        raise ValueError(f"bad cron expression {expr!r}: {e} ({_CRON_HELP})") from e


def next_fire(timing: Timing, after: float) -> float:
    """The first nominal fire time strictly after `after`; math.inf if there is none (cron gives up after
    50 years without a match)."""
    _finite(after)
    if timing.every_s:
        if after < timing.anchor:
            return timing.anchor
        return timing.anchor + (math.floor((after - timing.anchor) / timing.every_s) + 1) * timing.every_s
    z = load_zone(timing.tz)
    start = _wall(math.floor(after), z)
    for wall in CronSim(timing.cron, start):  # naive wall times, ascending; their instants never descend
        t = _instant(wall, z)
        if t > after:  # a second pass through a repeated hour starts among first-pass times already gone
            return t
    return math.inf


def prev_fire(timing: Timing, at: float) -> float:
    """The last nominal fire time at or before `at`; -math.inf if there is none."""
    _finite(at)
    if timing.every_s:
        if at < timing.anchor:
            return -math.inf
        return timing.anchor + math.floor((at - timing.anchor) / timing.every_s) * timing.every_s
    z = load_zone(timing.tz)
    local = datetime.fromtimestamp(math.floor(at), z)
    start = local.replace(tzinfo=None, fold=0)
    if local.fold:  # in a repeated hour's second pass, the rest of the hour's wall times are behind us too
        start += _offset(start, z, 0) - _offset(start, z, 1)
    for wall in CronSim(timing.cron, start + timedelta(seconds=1), reverse=True):
        t = _instant(wall, z)
        if t <= at:
            return t
    return -math.inf


def fires_between(timing: Timing, after: float, until: float, limit: int = 100) -> list[float]:
    """The nominal fire times in (after, until], oldest first, at most `limit` of them."""
    found: list[float] = []
    t = after
    while len(found) < limit:
        t = next_fire(timing, t)
        if t > until or t == math.inf:
            break
        found.append(t)
    return found


def due(timing: Timing, last_nominal: float | None, now: float, catch_up: CatchUp) -> list[float]:
    """The nominal times to fire now, oldest first, given the latest one already claimed.

    The caller claims them and stores the largest as last_nominal in the same transaction, so a restart can
    neither lose nor repeat one. A time is on time until GRACE_S after it, and every on-time one fires. Older
    ones were missed (the coordinator was down or stalled): "none" drops them; "latest" fires the most recent
    once, unless an on-time fire already stands for it. Seed last_nominal with the schedule's creation time:
    None, no history at all, counts only what is on time.
    """
    if catch_up not in CATCH_UPS:
        raise ValueError(f"catch-up is one of {', '.join(CATCH_UPS)}, not {catch_up!r}")
    _finite(now)
    late = now - GRACE_S
    cursor = late if last_nominal is None else last_nominal
    on_time = fires_between(timing, max(cursor, late), now, _ON_TIME_LIMIT)
    if on_time or catch_up == "none":
        return on_time
    latest = prev_fire(timing, late)
    return [latest] if latest > cursor else []


def describe(timing: Timing) -> str:
    """A sentence for people: cronsim's reading of the expression, the expression itself, and the zone."""
    if timing.every_s:
        where = f" (times in {timing.tz})" if timing.tz else ""
        return f"every {format_every(timing.every_s)} from {_iso(timing.anchor, timing.zone)}{where}"
    try:
        words = CronSim(timing.cron, datetime(2000, 1, 1)).explain()
    except Exception:  # the explanation is a courtesy; the expression itself is what fires
        words = "cron"
    return f'{words}, {timing.tz} time ("{timing.cron}")'


def upcoming(
    timing: Timing, now: float, n: int = UPCOMING, local_tz: tzinfo | None = None
) -> list[tuple[float, str, str]]:
    """The next `n` fires as (nominal epoch, ISO time in the schedule's zone, ISO time in `local_tz`), where
    `local_tz` None is this machine's own zone."""
    rows = []
    for t in fires_between(timing, now, math.inf, n):
        local = datetime.fromtimestamp(t, UTC).astimezone(local_tz)
        rows.append((t, _iso(t, timing.zone), local.isoformat(timespec="seconds")))
    return rows


def _wall(t: float, z: tzinfo) -> datetime:
    return datetime.fromtimestamp(t, z).replace(tzinfo=None, fold=0)


def _offset(wall: datetime, z: tzinfo, fold: int) -> timedelta:
    offset = wall.replace(tzinfo=z, fold=fold).utcoffset()
    assert offset is not None
    return offset


def _instant(wall: datetime, z: tzinfo) -> float:
    """The instant a naive wall time names in zone `z`: its first occurrence if it repeats, and the first
    instant after the gap if a spring-forward change skipped it."""
    first = wall.replace(tzinfo=z, fold=0)
    t = first.timestamp()
    if _wall(t, z) == wall:
        return t
    # In a gap, fold=0 reads the wall time with the offset from before the change, landing past it, and
    # fold=1 with the one after, landing before it: the change lies between, and we find it to the second.
    lo, hi = math.floor(wall.replace(tzinfo=z, fold=1).timestamp()), math.ceil(t)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(mid, z) >= wall:
            hi = mid
        else:
            lo = mid
    return float(hi)


def _iso(t: float, z: tzinfo) -> str:
    return datetime.fromtimestamp(t, z).isoformat(timespec="seconds")


def _finite(t: float) -> None:
    if not math.isfinite(t):
        raise ValueError(f"a time in seconds since the epoch, not {t!r}")
