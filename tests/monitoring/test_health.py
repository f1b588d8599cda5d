"""The health score: each penalty alone, its cap, several together, and a window without traffic."""

from __future__ import annotations

import pytest

from kiln.coordinator.monitoring import drift as drift_module
from kiln.coordinator.monitoring.drift import ColumnDrift, DriftReport
from kiln.coordinator.monitoring.frames import LedgerRow
from kiln.coordinator.monitoring.health import NO_REQUESTS, health
from kiln.coordinator.monitoring.quality import Quality


def rows(n: int = 100, failed: int = 0, latency_ms: float = 10.0, status: int = 503) -> list[LedgerRow]:
    return [LedgerRow(b"", "application/json", b"", status if i < failed else 200, latency_ms) for i in range(n)]


def report(drifted: int, of: int) -> DriftReport:
    columns = tuple(ColumnDrift(f"x{i}", "ks", 0.5, 0.05, i < drifted, 0.01) for i in range(of))
    return DriftReport(columns, drifted / of, drifted / of >= 0.5, 0.5, 100)


def test_a_healthy_window_scores_100() -> None:
    h = health(rows(), drift=report(0, 4), quality=Quality("classification", 50, {"accuracy": 0.9}), baseline=0.9)
    assert h.score == 100.0
    assert h.parts == {"errors": 0.0, "latency": 0.0, "drift": 0.0, "quality": 0.0}
    assert h.reasons == []


def test_errors_alone() -> None:
    h = health(rows(100, failed=1))  # 1%: a fifth of 40
    assert h.parts["errors"] == pytest.approx(8.0) and h.score == pytest.approx(92.0)
    assert len(h.reasons) == 1 and "1 of 100 requests" in h.reasons[0]
    assert health(rows(100, failed=5)).parts["errors"] == pytest.approx(40.0)
    assert health(rows(100, failed=60)).parts["errors"] == 40.0  # capped
    assert health(rows(100, failed=3, status=0)).parts["errors"] == pytest.approx(24.0)  # no answer at all
    client = health(rows(100, failed=50, status=404))  # the callers' errors cost nothing
    assert client.score == 100.0 and client.reasons == []


def test_latency_alone() -> None:
    assert health(rows(latency_ms=250.0)).parts["latency"] == 0.0
    h = health(rows(latency_ms=375.0))  # 1.5 x the SLO
    assert h.parts["latency"] == pytest.approx(10.0) and h.score == pytest.approx(90.0)
    assert "p99 latency is 375 ms" in h.reasons[0]
    assert health(rows(latency_ms=500.0)).parts["latency"] == pytest.approx(20.0)
    assert health(rows(latency_ms=5000.0)).parts["latency"] == 20.0  # capped
    assert health(rows(latency_ms=150.0), slo_ms=100.0).parts["latency"] == pytest.approx(10.0)


def test_latency_reads_the_p99() -> None:
    window = rows(999, latency_ms=10.0) + rows(1, latency_ms=100_000.0)
    assert health(window).parts["latency"] == 0.0  # one slow request in 1,000 is above the p99
    assert health(rows(95) + rows(5, latency_ms=1000.0)).parts["latency"] == 20.0


def test_drift_alone() -> None:
    h = health(rows(), drift=report(1, 4))
    assert h.parts["drift"] == pytest.approx(6.25) and h.score == pytest.approx(93.75)
    assert "25% of the columns drifted" in h.reasons[0] and "x0" in h.reasons[0]
    assert health(rows(), drift=report(4, 4)).parts["drift"] == 25.0


def test_quality_drop_alone() -> None:
    q = Quality("classification", 200, {"accuracy": 0.81})
    h = health(rows(), quality=q, baseline=0.9)  # a 10% drop: half of 15
    assert h.parts["quality"] == pytest.approx(7.5) and h.score == pytest.approx(92.5)
    assert "accuracy is 0.81, 10% below its baseline of 0.9" in h.reasons[0]
    assert health(rows(), quality=Quality("classification", 9, {"accuracy": 0.1}), baseline=0.9).parts[
        "quality"
    ] == pytest.approx(15.0)
    assert health(rows(), quality=Quality("classification", 9, {"accuracy": 0.95}), baseline=0.9).parts[
        "quality"
    ] == pytest.approx(0.0)  # better than the baseline costs nothing
    regression = Quality("regression", 50, {"nrmse": 0.5})  # main metric 0.5 against 0.625: a 20% drop
    assert health(rows(), quality=regression, baseline=0.625).parts["quality"] == pytest.approx(15.0)
    assert health(rows(), quality=q).parts["quality"] == 0.0  # no baseline: nothing to compare
    assert health(rows(), quality=Quality("classification", 0), baseline=0.9).parts["quality"] == 0.0


def test_penalties_add_up_and_the_score_stays_in_range() -> None:
    h = health(
        rows(100, failed=1, latency_ms=375.0),
        drift=report(2, 4),
        quality=Quality("classification", 100, {"accuracy": 0.72}),
        baseline=0.8,
    )
    assert h.parts == pytest.approx({"errors": 8.0, "latency": 10.0, "drift": 12.5, "quality": 7.5})
    assert h.score == pytest.approx(62.0)
    assert len(h.reasons) == 4
    worst = health(
        rows(10, failed=10, latency_ms=10_000.0),
        drift=report(3, 3),
        quality=Quality("classification", 10, {"accuracy": 0.0}),
        baseline=1.0,
    )
    assert worst.score == 0.0


def test_no_traffic_has_no_score() -> None:
    h = health([], drift=report(3, 3))
    assert h.score is None and h.reasons == [NO_REQUESTS] and h.parts == {}


def test_a_bad_slo_is_refused() -> None:
    with pytest.raises(ValueError, match="SLO"):
        health(rows(), slo_ms=0.0)


def test_a_real_drift_report() -> None:
    reference = drift_module.profile({"a": list(range(200)), "b": list(range(200))})
    live = drift_module.drift(reference, {"a": list(range(200)), "b": [v + 1000 for v in range(200)]})
    h = health(rows(), drift=live)
    assert h.parts["drift"] == pytest.approx(12.5) and "(b)" in h.reasons[0]
