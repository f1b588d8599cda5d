"""Paged listings: how many rows one reply may carry, and the page token that says where the next page starts.

Every listing the coordinator answers is cut into pages so that no reply can outgrow the gRPC message limit,
however large the table or its rows. Two bounds apply to each page, whichever is reached first:

- a row count, one cap per listing (`PAGE_CAPS`, below); a caller may ask for fewer rows, never for more,
  and a caller that asks for none (every client before paging) gets a page of the cap;
- a byte budget (`REPLY_BUDGET_BYTES`): rows are added to a reply while its encoded size stays within it,
  and a page always holds at least one row, so a reply is at most the budget or one row, each far under
  the message limit (`defaults.MAX_MESSAGE_BYTES`) with the field limits the coordinator enforces.

A reply that is not the last carries a page token; the caller sends it back, unchanged, for the next page.
The token is opaque to callers: it is URL-safe base64 of a JSON array holding the listing's name and the
sort key of the last row sent (a run's creation time and id, a project's name, an audit record's seq), so
the next page starts strictly after that row (keyset paging: rows added meanwhile never shift a page).
Search results sorted by arbitrary columns are paged by position instead; the client drops a run it has
already been given, so a run moved by a new one appears once. A token from another listing, or one that
does not decode, is refused with InvalidArgument.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kiln.core.errors import InvalidArgument

T = TypeVar("T")
R = TypeVar("R")

Key = tuple[Any, ...]

REPLY_BUDGET_BYTES = 16 * 1024**2  # a quarter of the message limit: a page stops before its rows pass this

# Each listing (the RPC's name, as in proto/v1): the most rows one page carries, and the types of the sort
# key its tokens hold.
LISTINGS: dict[str, tuple[int, tuple[type, ...]]] = {
    "ListProjects": (200, (str,)),  # name
    "ListSnapshots": (500, (float, str)),  # newest first: created_at, id
    "GetSnapshot": (20_000, (str,)),  # manifest entries by path
    "ListRuns": (200, (float, str)),  # newest first: created_at, id
    "SearchRuns": (200, (int,)),  # position in the sorted result
    "ListNodes": (200, (str,)),  # name
    "ListQuarantined": (100, (int,)),  # the order they were set aside
    "ListUsers": (500, (str,)),  # name
    "ListTokens": (500, (float, str)),  # created_at, id
    "ListAudit": (1000, (int,)),  # seq
    "ListDatasets": (500, (str, int)),  # name, version
    "ListEnvironments": (200, (str, int)),  # name, version
    "ListModels": (500, (str, int)),  # model versions, by name and number, grouped into their models
    "GetModel": (500, (str, int)),  # the model's versions, by number
    "ListRequests": (200, (float, str)),  # created_at, id
    "History": (500, (int,)),  # the order the moves were made
    "ListComments": (200, (float, str)),  # time, id
    "GetMetrics": (100, (str,)),  # metric series by key, each downsampled to at most max_points
    "ListDeployments": (200, (str,)),  # name
    "ListPredictions": (1000, (float, str)),  # newest first: time, id
    "ListSchedules": (200, (str,)),  # name
    "ListMonitors": (200, (str,)),  # name
}
PAGE_CAPS: dict[str, int] = {name: cap for name, (cap, _) in LISTINGS.items()}
MAX_KEY_INT = 2**63 - 1  # what SQLite holds

MAX_TOKEN = 16_384  # characters: more than a token of the longest key (a 1 KiB path, escaped) takes
EVERY_ROW = 2**62  # a page size for the coordinator's own reads of a whole table


@dataclass(frozen=True)
class PageRequest:
    """One page asked for: at most `size` rows, starting after the row whose sort key is `after` (None:
    the first page)."""

    size: int
    after: Key | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """Rows of one page with the sort key of each (a reply cut short by the byte budget resumes after the
    last row it holds), and whether rows follow the last one."""

    items: list[T]
    keys: list[Key]
    more: bool

    def map(self, convert: Callable[[T], R]) -> Page[R]:
        return Page([convert(i) for i in self.items], self.keys, self.more)


def page_size(listing: str, asked: int) -> int:
    """The rows a page of `listing` holds: what was asked, at most the listing's cap (the cap when 0)."""
    cap = PAGE_CAPS[listing]
    return cap if asked <= 0 else min(asked, cap)


def request(listing: str, asked: int, token: str) -> PageRequest:
    """The page a caller asked for, from the size and token it sent."""
    return PageRequest(page_size(listing, asked), decode_token(listing, token) if token else None)


def page_of(rows: Sequence[T], size: int, key: Callable[[T], Key]) -> Page[T]:
    """A page from up to `size + 1` rows read in order (the extra one only says that more follow)."""
    kept = list(rows[:size])
    return Page(kept, [key(r) for r in kept], len(rows) > size)


def page_in_memory(rows: Iterable[T], asked: PageRequest, key: Callable[[T], Key]) -> Page[T]:
    """A page of rows already in memory, sorted by `key` ascending (small tables: nodes, models by name)."""
    ordered = sorted(rows, key=key)
    if asked.after is not None:
        after = asked.after
        ordered = [r for r in ordered if key(r) > after]
    return page_of(ordered, asked.size, key)


def encode_token(listing: str, key: Key) -> str:
    text = json.dumps([listing, *key], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_token(listing: str, token: str) -> Key:
    """The sort key a token of `listing` carries; InvalidArgument for anything this listing did not make."""
    bad = InvalidArgument(
        f"page token {token[:40]!r} was not made by this listing ({listing}); start again without a page token"
    )
    if len(token) > MAX_TOKEN:
        raise bad
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        found = json.loads(text)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    shape = LISTINGS[listing][1]
    if not isinstance(found, list) or len(found) != len(shape) + 1 or found[0] != listing:
        raise bad
    key = tuple(_typed(value, kind) for value, kind in zip(found[1:], shape, strict=True))
    if None in key:
        raise bad
    return key


def _typed(value: object, kind: type) -> Any:
    """`value` as `kind` when it is one (an int for a float), else None."""
    if isinstance(value, bool):
        return None
    if kind is str:
        return value if isinstance(value, str) else None
    if kind is int:
        return value if isinstance(value, int) and 0 <= value <= MAX_KEY_INT else None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None
