"""The one retry/backoff policy: exponential delays with full jitter, capped."""

from __future__ import annotations

import random
from collections.abc import Iterator


def delays(
    first: float = 0.5, cap: float = 30.0, factor: float = 2.0, *, rng: random.Random | None = None
) -> Iterator[float]:
    """Endless delays: a random wait in [0, d] with d growing from `first` by `factor` up to `cap`, so many
    agents reconnecting after an outage do not all knock at once (full jitter spreads them over the whole
    window; a floor of d/2 would bunch them in its upper half). `rng` is the source of randomness (the
    `random` module's when None), so a test can pass a seeded or fake one."""
    uniform = random.uniform if rng is None else rng.uniform
    ceiling = min(cap, first)
    while True:
        yield uniform(0.0, ceiling)
        ceiling = min(cap, ceiling * factor)
