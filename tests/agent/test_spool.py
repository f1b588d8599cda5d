"""The agent's spool on real SQLite: it takes and gives domain values, keeps reports until they are
acknowledged, moves log offsets with the log reports, and migrates its schema on open: a spool written
before schemas were versioned reads back, one written by a newer Kiln is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kiln.agent.link import WireCodec
from kiln.agent.spool import MIGRATIONS, Spool
from kiln.core.errors import FailedPrecondition
from kiln.core.link import Assignment, RunUpdate
from kiln.core.runs import RunSpec, RunState
from kiln.proto.v1 import link_pb2

ASSIGNMENT = Assignment(run_id="r-1", attempt=1, spec=RunSpec("p", ("echo", "hi")), runtime="process", user="ann")


def test_reports_wait_until_acknowledged_and_the_final_one_ends_the_job(tmp_path: Path):
    spool = Spool(tmp_path / "agent.db", WireCodec())
    assert spool.add_job(ASSIGNMENT) and not spool.add_job(ASSIGNMENT)  # an assignment sent again
    spool.report_state(RunUpdate("r-1", 1, RunState.RUNNING, 1.0), ref="job-folder")
    assert spool.report_output("r-1", 1, [("stdout", b"hi\n"), ("stderr", b"oops")], 2.0)
    spool.report_final(RunUpdate("r-1", 1, RunState.SUCCEEDED, 3.0, exit_code=0))
    [job] = spool.jobs()
    assert job.assignment == ASSIGNMENT and job.state is RunState.SUCCEEDED and job.ref == "job-folder"
    assert (job.stdout_bytes, job.stderr_bytes, job.next_seq) == (3, 4, 3)
    pending = spool.pending(0)
    kinds = [link_pb2.AgentMessage.FromString(p).WhichOneof("body") for _, p in pending]
    assert kinds == ["run_update", "logs", "run_update"]
    assert spool.ack(pending[1][0]) == [] and spool.pending_count() == 1  # the final report is not yet acked
    assert spool.ack(pending[2][0]) == [("r-1", 1)] and spool.jobs() == [] and spool.pending_count() == 0


def test_a_spool_from_before_schema_versions_is_opened_as_version_one(tmp_path: Path):
    path = tmp_path / "agent.db"
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0])  # the 0.1 tables, user_version 0
    old.execute(
        "INSERT INTO jobs (run_id, attempt, assignment, state) VALUES (?, ?, ?, ?)",
        ["r-1", 1, WireCodec().encode_assignment(ASSIGNMENT), "running"],
    )
    old.commit()
    old.close()
    spool = Spool(path, WireCodec())
    assert spool.schema_version() == len(MIGRATIONS)
    assert [j.assignment for j in spool.jobs()] == [ASSIGNMENT]


def test_a_spool_from_a_newer_kiln_is_refused_and_left_alone(tmp_path: Path):
    path = tmp_path / "agent.db"
    Spool(path, WireCodec()).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(FailedPrecondition, match="newer than this Kiln knows"):
        Spool(path, WireCodec())
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
