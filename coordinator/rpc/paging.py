"""The wire side of paged listings (kiln/core/paging.py): a page's rows encoded while the reply stays
within the byte budget, and the token of the next page. The one place a listing's reply size is bounded,
so no table, however large its rows, makes a reply the client cannot receive."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from google.protobuf.message import Message

from kiln.core.paging import REPLY_BUDGET_BYTES, Page, encode_token

T = TypeVar("T")
M = TypeVar("M")

FIELD_OVERHEAD = 16  # a repeated field's tag and length prefix, at most


def encoded(
    listing: str,
    page: Page[T],
    encode: Callable[[T], M],
    size: Callable[[M], int] | None = None,
    budget: int = REPLY_BUDGET_BYTES,
) -> tuple[list[M], str]:
    """The page's rows as wire messages, as many as fit in `budget` (at least one), and the token of the
    next page ("" when this is the last)."""
    measure = size or _byte_size
    rows: list[M] = []
    used = 0
    for i, item in enumerate(page.items):
        message = encode(item)
        cost = measure(message) + FIELD_OVERHEAD
        if rows and used + cost > budget:
            return rows, encode_token(listing, page.keys[i - 1])
        rows.append(message)
        used += cost
    return rows, encode_token(listing, page.keys[-1]) if page.more and page.keys else ""


def _byte_size(message: object) -> int:
    assert isinstance(message, Message)
    return message.ByteSize()
