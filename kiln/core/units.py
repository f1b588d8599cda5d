"""Parsing and printing sizes and durations as people write them."""

from __future__ import annotations

import math

SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_size(text: str) -> int:
    """Bytes in "512", "64k", "4G", "1.5GiB" (binary multiples)."""
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = t[-1] if t and t[-1] in SIZE_UNITS else ""
    number = t[: len(t) - len(unit)]
    try:
        value = float(number) * SIZE_UNITS[unit]
    except ValueError:
        raise ValueError(f"not a size: {text!r} (use e.g. 512M, 4G)") from None
    if not math.isfinite(value):
        raise ValueError(f"not a size: {text!r} (use e.g. 512M, 4G)")
    if value < 0:
        raise ValueError(f"size must not be negative: {text!r}")
    return int(value)


def parse_duration(text: str) -> float:
    """Seconds in "90s", "15m", "12h", "30d", "2w" or a bare number of seconds."""
    t = text.strip().lower()
    unit = t[-1] if t and t[-1] in DURATION_UNITS else ""
    try:
        value = float(t[: len(t) - len(unit)]) * DURATION_UNITS.get(unit, 1)
    except ValueError:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 12h, 30d)") from None
    if not 0 < value < math.inf:  # NaN fails this too
        raise ValueError(f"duration must be positive and finite: {text!r}")
    return value


def format_duration(seconds: float) -> str:
    """A span as a person reads it: "45s", "12m", "2h 5m", "3d 4h"."""
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m" if s % 3600 // 60 else f"{s // 3600}h"
    return f"{s // 86400}d {s % 86400 // 3600}h" if s % 86400 // 3600 else f"{s // 86400}d"


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def format_size(n: int) -> str:
    """A size exactly where it matters: whole binary units as such ("4 KiB", "48 MiB"), rounded where the
    rounding cannot mislead ("25.3 MiB"), else in bytes ("4,097 bytes", "16,385 bytes"). Limits read this
    way, so a value just over one never shows as "4.0 KiB; at most 4 KiB"."""
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    rounded = format_bytes(n)
    if n < 10 * 1024 or rounded.split()[0].endswith(".0"):
        return f"{n:,} byte{'' if n == 1 else 's'}"
    return rounded
