"""The agent link's messages survive the wire both ways unchanged, and what does not hold together is
refused with BadMessage naming what is wrong (so it can be logged and set aside, not crash a loop)."""

from __future__ import annotations

import pytest

from kiln.core.link import (
    Ack,
    Assignment,
    BadMessage,
    Cancel,
    DatasetMount,
    Drain,
    Heartbeat,
    HeldRun,
    Hello,
    LogBatch,
    RunUpdate,
    Sequenced,
    TrackBatch,
    Welcome,
)
from kiln.core.models import GpuInfo, Inventory
from kiln.core.runs import LogChunk, Priority, Resources, RunSpec, RunState
from kiln.proto.v1 import link_pb2, tracking_pb2
from kiln.serde import link as wire

INVENTORY = Inventory(cpus=8, memory_bytes=1 << 34, gpus=(GpuInfo("GPU-1", "H200", 1 << 37, 12.5),))
SPEC = RunSpec("p", ("python", "train.py"), "ab" * 32, resources=Resources(2, 1 << 30, 1), priority=Priority.HIGH)

FROM_AGENT = [
    Hello("n1", "0.1.0", {"process": "here"}, INVENTORY, {"zone": "a"}, (HeldRun("r-1", 2, RunState.RUNNING),)),
    Heartbeat(INVENTORY),
]
REPORTS = [
    RunUpdate("r-1", 2, RunState.SUCCEEDED, 5.0, exit_code=0, output_snapshot="cd" * 32, environment={"a": "b"}),
    RunUpdate("r-1", 2, RunState.RUNNING, 4.0),  # no exit code is not exit code 0
    LogBatch("r-1", (LogChunk(2, 1, "stdout", b"hi\n", 3.0), LogChunk(2, 2, "stderr", b"\xff", 3.5))),
    TrackBatch(
        "r-1",
        2,
        77,
        3,
        {"lr": "0.1"},
        {"t": "x"},
        (("loss", 0, 1.0, 9.0), ("acc", 0, 0.5, 9.0)),
        ("plot.png",),
        ("images:1",),
        (("out/m", "m", "sklearn"),),
        {"python": "3.11"},
    ),
]
TO_AGENT = [
    Welcome("n1", 5.0, drained=True),
    Assignment("r-1", 2, SPEC, "docker", "ann", ("GPU-1",), (DatasetMount("images", 1, "ef" * 32),)),
    Cancel("r-1", 2, 10.0, "cancelled by a user"),
    Drain(True),
    Ack(41),
]


@pytest.mark.parametrize("message", FROM_AGENT, ids=lambda m: type(m).__name__)
def test_what_an_agent_says_first_and_when_idle_comes_back_as_sent(message):
    assert wire.sequenced_from_proto(wire.agent_message_to_proto(message)) == message


@pytest.mark.parametrize("message", REPORTS, ids=lambda m: type(m).__name__)
def test_a_report_comes_back_as_sent_with_its_number(message):
    assert wire.sequenced_from_proto(wire.agent_message_to_proto(message, seq=9)) == Sequenced(9, message)


@pytest.mark.parametrize("message", TO_AGENT, ids=lambda m: type(m).__name__)
def test_what_the_coordinator_sends_comes_back_as_sent(message):
    assert wire.coordinator_message_from_proto(wire.coordinator_message_to_proto(message)) == message


BAD = [
    (link_pb2.AgentMessage(seq=1), "no body"),
    (
        link_pb2.AgentMessage(seq=1, run_update=link_pb2.RunUpdate(run_id="r-1", attempt=1, state="paused")),
        "unknown run state 'paused'",
    ),
    (
        link_pb2.AgentMessage(seq=1, run_update=link_pb2.RunUpdate(run_id="r-1", attempt=0, state="running")),
        "attempts count from 1",
    ),
    (link_pb2.AgentMessage(seq=1, run_update=link_pb2.RunUpdate(attempt=1, state="running")), "no run id"),
    (
        link_pb2.AgentMessage(run_update=link_pb2.RunUpdate(run_id="r-1", attempt=1, state="running")),
        "without a sequence number",
    ),
    (
        link_pb2.AgentMessage(seq=1, logs=link_pb2.LogBatch(run_id="r-1", chunks=[{"attempt": 1, "stream": "stdin"}])),
        "unknown stream 'stdin'",
    ),
    (
        link_pb2.AgentMessage(
            seq=1,
            track=tracking_pb2.TrackBatch(
                run_id="r-1",
                attempt=1,
                metrics=tracking_pb2.MetricColumns(
                    keys=["x"], key_index=[0, 1], value=[1.0], step=[0], timestamp=[0.0]
                ),
            ),
        ),
        "different lengths",
    ),
    (
        link_pb2.AgentMessage(hello=link_pb2.Hello(runs=[link_pb2.HeldRun(run_id="r-1", attempt=1, state="zombie")])),
        "unknown run state 'zombie'",
    ),
]


@pytest.mark.parametrize(("message", "says"), BAD, ids=[s for _, s in BAD])
def test_an_agent_message_that_does_not_hold_together_is_refused_saying_why(message, says):
    with pytest.raises(BadMessage, match=says):
        wire.sequenced_from_proto(message)


def test_a_coordinator_message_this_agent_cannot_read_is_refused_saying_why():
    with pytest.raises(BadMessage, match="no body"):
        wire.coordinator_message_from_proto(link_pb2.CoordinatorMessage())
    bad_priority = link_pb2.CoordinatorMessage(
        assign=link_pb2.Assignment(run_id="r", attempt=1, spec={"priority": "max"})
    )
    with pytest.raises(BadMessage, match="unknown priority 'max'"):
        wire.coordinator_message_from_proto(bad_priority)


def test_what_an_agent_says_of_itself_is_bounded_like_any_input():
    for hello in (
        link_pb2.Hello(name="n1", labels={"zone\n": "a"}),
        link_pb2.Hello(name="n1", runtimes={"Docker Engine": "x"}),
        link_pb2.Hello(name="n1", version="v" * 300),
    ):
        with pytest.raises(BadMessage, match="^hello: "):
            wire.sequenced_from_proto(link_pb2.AgentMessage(hello=hello))


def test_a_runs_end_is_applied_even_when_its_agent_says_too_much():
    m = link_pb2.RunUpdate(
        run_id="r-1", attempt=1, state="failed", reason="x" * 100_000, environment={f"k{i}": "v" for i in range(100)}
    )
    update = wire.run_update_from_proto(m)
    assert update.state is RunState.FAILED and len(update.reason.encode()) <= 16 * 1024
    assert update.reason.endswith("…") and list(update.environment) == ["environment_error"]
