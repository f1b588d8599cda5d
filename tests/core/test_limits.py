"""The table of limits at the unit level: what a refusal says, in what units, and what it shows of the
value. Each limit driven through the real server is tests/coordinator/test_limits.py."""

from __future__ import annotations

import pytest

from kiln.core import limits
from kiln.core.errors import InvalidArgument
from kiln.core.units import format_size


@pytest.mark.parametrize(
    "n, shown",
    [
        (1, "1 byte"),
        (255, "255 bytes"),
        (4095, "4,095 bytes"),
        (4096, "4 KiB"),
        (16 * 1024 + 1, "16,385 bytes"),
        (48 << 20, "48 MiB"),
        ((25 << 20) + 300_000, "25.3 MiB"),
        ((48 << 20) + 1, "50,331,649 bytes"),
    ],
)
def test_sizes_read_exactly_where_rounding_would_mislead(n, shown):
    assert format_size(n) == shown


def test_a_refusal_names_the_field_what_was_given_and_the_limit():
    with pytest.raises(InvalidArgument) as e:
        limits.DESCRIPTION.text("x" * 5000, field="project description")
    assert str(e.value) == "project description is 5,000 bytes; at most 4 KiB"
    with pytest.raises(InvalidArgument, match="^command has 1,025 arguments; at most 1,024 arguments$"):
        limits.COMMAND.check(["a"] * 1025)
    with pytest.raises(InvalidArgument, match="^param 'lr' has 6,001 characters; at most 6,000 characters$"):
        limits.TRACK_VALUE.check("v" * 6001, "lr", "param")
    with pytest.raises(InvalidArgument, match="contains a NUL character"):
        limits.MESSAGE.text("a\0b")


def test_bytes_count_utf8_and_characters_count_characters():
    assert limits.PATH_COMPONENT.check("é" * 127) and limits.TRACK_KEY.check("é" * 250)
    with pytest.raises(InvalidArgument, match="256 bytes"):
        limits.Limit("component", 255).check("é" * 128)


def test_a_value_is_shown_only_as_a_short_escaped_prefix():
    assert limits.preview("production\n") == "'production\\n'"
    assert limits.preview("x" * 10_000) == repr("x" * limits.PREVIEW_CHARS) + "…"
    assert limits.escaped_prefix("eve\n\x1b[0m\u200b") == "eve\\n\\x1b[0m\\u200b"
    assert len(limits.escaped_prefix("é" * 10_000)) == limits.AUDIT_NAME_CHARS * 4 + 1  # \\xe9 each, then …


def test_a_map_is_checked_for_entries_keys_values_and_its_total():
    env = limits.ENV
    with pytest.raises(InvalidArgument, match="^env has 129 entries; at most 128 entries$"):
        env.check({f"V{i}": "" for i in range(129)})
    with pytest.raises(InvalidArgument, match="^env var value 'A' is 8,193 bytes; at most 8 KiB$"):
        env.check({"A": "x" * 8193})
    with pytest.raises(InvalidArgument, match=r"^env \(keys and values together\) is 16,386 bytes; at most 16 KiB$"):
        env.check({"A": "x" * 8192, "B": "y" * 8192})
    seen: list[str] = []
    env.check({"A": "1", "B": "2"}, seen.append)
    assert seen == ["A", "B"]


def test_every_limit_is_in_the_table():
    assert limits.PATH in limits.TABLE and limits.ENV in limits.TABLE and limits.SEARCH_FIELDS in limits.TABLE
    assert all(isinstance(x, limits.Limit | limits.MapLimit) for x in limits.TABLE)
