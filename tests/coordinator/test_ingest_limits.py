"""What a run's SDK sends is outside the coordinator: a tracking batch over a limit of kiln.core.limits
(a key, a value, a path, the environment, or what one run may hold in all) is acknowledged but not
applied, in whole, and said in one WARNING line; the store is as it was. On the dispatcher with a real
store and a fake clock (tests/coordinator/test_dispatch.py's harness), as the link hands it reports."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kiln.core import limits
from kiln.core.link import Ack, TrackBatch
from kiln.core.runs import RunState
from tests.coordinator.test_dispatch import Changed, Cluster, Send, update
from tests.coordinator.test_limits import db_state

KiB = 1024
T = 1_000_000.0  # a metric point's timestamp


@pytest.fixture
def running(tmp_path: Path) -> tuple[Cluster, int, str]:
    c = Cluster(tmp_path)
    c.enroll("a")
    run_id = c.submit()
    session, _ = c.connect("a")
    c.report("a", session, 1, update(run_id, RunState.RUNNING))
    return c, session, run_id


def batch(run_id: str, seq: int, **fields: object) -> TrackBatch:
    return TrackBatch(run_id, 1, 7, seq, **fields)  # type: ignore[arg-type]


def many(n: int, prefix: str = "k") -> dict[str, str]:
    return {f"{prefix}{i}": "v" for i in range(n)}


OVER = {
    "param key": ({"params": {"k" * 251: "v"}}, "param key has 251 characters; at most 250 characters"),
    "param value": ({"params": {"lr": "v" * 6001}}, "param 'lr' has 6,001 characters; at most 6,000 characters"),
    "tag value": ({"tags": {"team": "v" * 6001}}, "tag 'team' has 6,001 characters"),
    "metric key": ({"metrics": (("m" * 251, 0, 1.0, T),)}, "metric key has 251 characters"),
    "artifact path": ({"artifacts": ("../outside",)}, "contains '..'"),
    "artifact path component": ({"artifacts": ("a/" + "n" * 256,)}, "is 256 bytes; at most 255 bytes"),
    "model path": ({"models": (("/abs", "m", "sklearn"),)}, "is absolute"),
    "model name": ({"models": (("model", "n" * 251, "sklearn"),)}, "model name has 251 characters"),
    "dataset": ({"datasets": ("d" * 251,)}, "dataset has 251 characters"),
    "environment value": (
        {"environment": {"packages": "p" * (256 * KiB + 1)}},
        "environment value 'packages' is 262,145 bytes; at most 256 KiB",
    ),
    "environment keys": ({"environment": many(65)}, "environment has 65 entries; at most 64 entries"),
    "params of a run": ({"params": many(501)}, "params of a run: 0 logged and 501 new; at most 500 params"),
    "tags of a run": ({"tags": many(501)}, "tags of a run: 0 logged and 501 new; at most 500 tags"),
    "models of a run": (
        {"models": tuple((f"m{i}", "m", "") for i in range(1001))},
        "models of a run: 0 logged and 1,001 new; at most 1,000 models",
    ),
    "metric keys of a run": (
        {"metrics": tuple((f"m{i}", 0, 1.0, T) for i in range(10_001))},
        "metric keys of a run: 0 logged and 10,001 new; at most 10,000 keys",
    ),
    "artifacts of a run": (
        {"artifacts": tuple(f"a{i}" for i in range(10_001))},
        "artifacts of a run: 0 logged and 10,001 new; at most 10,000 artifacts",
    ),
}


@pytest.mark.parametrize("field", OVER, ids=list(OVER))
def test_a_batch_over_a_limit_is_acknowledged_and_not_applied(
    running: tuple[Cluster, int, str], caplog: pytest.LogCaptureFixture, field: str
) -> None:
    c, session, run_id = running
    fields, says = OVER[field]
    before = db_state(c)
    caplog.set_level(logging.WARNING, logger="kiln.coordinator.tracking")
    assert c.report("a", session, 2, batch(run_id, 1, **fields)) == [Send(session, Ack(2))]
    assert db_state(c) == before
    [line] = [r.getMessage() for r in caplog.records if r.name == "kiln.coordinator.tracking"]
    assert line.startswith(f"refused tracking batch 1 of run {run_id} from node a: ") and says in line
    assert "\n" not in line and len(line) < 400


def test_a_run_fills_up_to_its_limit_and_keys_it_holds_do_not_count_twice(running: tuple[Cluster, int, str]) -> None:
    c, session, run_id = running
    full = many(limits.RUN_PARAMS.most)
    assert c.report("a", session, 2, batch(run_id, 1, params=full)) == [Changed(), Send(session, Ack(2))]
    again = {"k0": "changed", f"k{limits.RUN_PARAMS.most - 1}": "changed"}  # keys it holds: still within the limit
    assert c.report("a", session, 3, batch(run_id, 2, params=again)) == [Changed(), Send(session, Ack(3))]
    before = db_state(c)
    assert c.report("a", session, 4, batch(run_id, 3, params={"k0": "x", "one-more": "v"})) == [Send(session, Ack(4))]
    assert db_state(c) == before
    params = c.store.params(run_id)
    assert len(params) == limits.RUN_PARAMS.most and params["k0"] == "changed" and "one-more" not in params


def test_the_sdk_checks_the_same_key_and_value_lengths() -> None:
    """kiln.track (stdlib only, so it cannot import the table) refuses in the run what the coordinator
    would refuse here, so a run using the SDK never has a batch dropped for its keys or values."""
    import importlib

    _recorder = importlib.import_module("kiln.track._recorder")  # kiln.track's `_recorder` is its instance
    assert (limits.TRACK_KEY.most, limits.TRACK_VALUE.most) == (_recorder.MAX_KEY_CHARS, _recorder.MAX_VALUE_CHARS)
    assert limits.TRACK_KEY.unit == limits.TRACK_VALUE.unit == "characters"
