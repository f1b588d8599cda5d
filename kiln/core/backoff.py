"""The one retry/backoff policy: exponential delays with full jitter, capped."""

from __future__ import annotations

import random
from collections.abc import Iterator


def delays(first: float = 0.5, cap: float = 30.0, factor: float = 2.0) -> Iterator[float]:
    """Endless delays: a random wait in [0, d] with d growing from `first` by `factor` up to `cap`, so many
    agents reconnecting after an outage do not all knock at once."""
    ceiling = first
    while True:
        yield random.uniform(ceiling / 2, ceiling)
        ceiling = min(cap, ceiling * factor)
