"""What records runs carry survives the wire: a rerun's origin in the spec (also inside an agent's
assignment), a search's column values; and the new reply of SearchRuns still reads as the RunList older
clients expect (and the other way round)."""

from __future__ import annotations

from kiln.core.link import Assignment
from kiln.core.models import RunValues
from kiln.core.runs import Resources, Run, RunSpec, RunState
from kiln.proto.v1 import runs_pb2, tracking_pb2
from kiln.serde import link as link_wire
from kiln.serde import runs as wire
from kiln.serde import tracking as tracking_wire

SPEC = RunSpec(
    "p", ("python", "train.py"), "ab" * 32, resources=Resources(2, 1 << 30), parent_run="r-000000000001",
    rerun_of="r-0123456789ab", env={"LR": "0.1"}, datasets=("rows:1",),
)  # fmt: skip
RUN = Run("r-fedcba987654", SPEC, "alice", RunState.SUCCEEDED, 10.0, node="n1", exit_code=0)


def test_a_rerun_keeps_its_origin_in_a_spec_a_run_and_an_assignment():
    assert wire.run_spec_from_proto(wire.run_spec_to_proto(SPEC)) == SPEC
    assert wire.run_from_proto(wire.run_to_proto(RUN)) == RUN
    assignment = Assignment("r-fedcba987654", 1, SPEC, "process", "", (), ())
    assert link_wire.coordinator_message_from_proto(link_wire.coordinator_message_to_proto(assignment)) == assignment


def test_a_spec_of_no_rerun_is_the_bytes_it_always_was():
    plain = RunSpec("p", ("true",))
    assert (
        wire.run_spec_to_proto(plain).SerializeToString()
        == runs_pb2.RunSpec(
            project="p", command=["true"], resources=runs_pb2.Resources(cpus=1.0), priority="normal", network="none"
        ).SerializeToString()
    )


def test_column_values_come_back_as_sent():
    values = RunValues(params={"lr": "0.1"}, metrics={"acc": 0.9}, tags={"team": "a"})
    assert tracking_wire.run_values_from_proto(tracking_wire.run_values_to_proto("r-1", values)) == ("r-1", values)
    assert values.get("params.lr") == "0.1" and values.get("metrics.acc") == 0.9 and values.get("tags.x") is None
    assert values.get("state") is None


def test_a_run_table_reads_as_a_run_list_and_back():
    table = tracking_pb2.RunTable(
        runs=[wire.run_to_proto(RUN)], values=[tracking_wire.run_values_to_proto(RUN.id, RunValues({"lr": "1"}))]
    )
    old = runs_pb2.RunList.FromString(table.SerializeToString())
    assert [wire.run_from_proto(r) for r in old.runs] == [RUN]
    from_old_server = runs_pb2.RunList(runs=[wire.run_to_proto(RUN)]).SerializeToString()
    new = tracking_pb2.RunTable.FromString(from_old_server)
    assert [wire.run_from_proto(r) for r in new.runs] == [RUN] and list(new.values) == []
