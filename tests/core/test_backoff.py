"""The retry policy: full jitter in [0, d], d growing by `factor` up to `cap`, endless; with an injected rng."""

import itertools
import random

import pytest

from kiln.core import backoff


class Extremes(random.Random):
    """Records each window asked for and answers its top (or bottom) end."""

    def __init__(self, top: bool = True) -> None:
        super().__init__(0)
        self.top = top
        self.windows: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.windows.append((a, b))
        return b if self.top else a


def take(n, **kwargs):
    return list(itertools.islice(backoff.delays(**kwargs), n))


def test_the_window_grows_by_factor_up_to_the_cap_and_stays_there():
    rng = Extremes()
    assert take(8, first=0.5, cap=10.0, factor=2.0, rng=rng) == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert take(4, first=1.0, cap=100.0, factor=3.0, rng=Extremes()) == [1.0, 3.0, 9.0, 27.0]


def test_every_wait_is_drawn_from_zero_to_the_window_full_jitter():
    rng = Extremes(top=False)
    assert take(6, first=1.0, cap=8.0, rng=rng) == [0.0] * 6
    assert rng.windows == [(0.0, 1.0), (0.0, 2.0), (0.0, 4.0), (0.0, 8.0), (0.0, 8.0), (0.0, 8.0)]


def test_the_defaults_start_at_half_a_second_and_cap_at_thirty():
    rng = Extremes()
    assert take(9, rng=rng) == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_a_first_wait_above_the_cap_is_held_to_the_cap():
    assert take(3, first=60.0, cap=30.0, rng=Extremes()) == [30.0, 30.0, 30.0]


def test_a_seeded_rng_gives_the_same_waits_and_they_lie_in_the_window():
    a = take(50, first=0.5, cap=4.0, rng=random.Random(7))
    b = take(50, first=0.5, cap=4.0, rng=random.Random(7))
    assert a == b
    windows = [min(4.0, 0.5 * 2**i) for i in range(50)]
    assert all(0.0 <= wait <= window for wait, window in zip(a, windows, strict=True))
    assert take(50, first=0.5, cap=4.0, rng=random.Random(8)) != a


def test_waits_spread_over_the_whole_window_not_only_its_upper_half():
    waits = take(400, first=10.0, cap=10.0, rng=random.Random(1))
    assert min(waits) < 1.0  # a [d/2, d] draw could never go below 5
    assert max(waits) > 9.0
    assert 4.0 < sum(waits) / len(waits) < 6.0


def test_without_an_rng_the_module_random_is_used_within_the_same_bounds():
    windows = [min(2.0, 0.25 * 2**i) for i in range(200)]
    waits = take(200, first=0.25, cap=2.0)
    assert all(0.0 <= wait <= window for wait, window in zip(waits, windows, strict=True))


def test_it_never_ends():
    delays = backoff.delays(first=0.001, cap=0.002, rng=Extremes())
    for _ in range(10_000):
        assert next(delays) <= 0.002


def test_each_call_starts_over():
    rng = Extremes()
    first = take(5, first=1.0, cap=50.0, rng=rng)
    assert take(5, first=1.0, cap=50.0, rng=rng) == first == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_callers_positional_and_keyword_forms_still_work():
    # agent/daemon.py: delays(); agent/jobs.py: delays(first=0.5, cap=15); installers/supervisor.py: first=1.0, cap=60.0
    for delays in (backoff.delays(), backoff.delays(first=0.5, cap=15), backoff.delays(1.0, 60.0, 2.0)):
        assert 0.0 <= next(delays) <= 1.0
    with pytest.raises(TypeError):
        backoff.delays(0.5, 30.0, 2.0, random.Random(0))  # type: ignore[misc]  # rng is keyword-only
