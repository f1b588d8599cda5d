"""Nothing long runs on the coordinator's event loop: while an admin verifies a long audit chain and a
burst of people sign in at once, another user's listings keep being answered and the agents' heartbeats
keep being read, so no node turns unreachable."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from kiln.coordinator.pki import ensure_audit_key
from kiln.core import clock
from kiln.core.audit import record_hash, statement
from kiln.core.runs import RunSpec
from tests.compute.conftest import push_folder
from tests.conftest import login

RECORDS = 100_000
SIGN_INS = 6


def _lengthen_audit_chain(data: Path, records: int) -> None:
    """Appends `records` valid records to the chain, signed with the coordinator's audit key, as a busy
    installation would have them."""
    key, _ = ensure_audit_key(data / "pki")
    conn = sqlite3.connect(data / "kiln.db")
    with conn:
        seq, prev = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        rows = []
        for n in range(seq + 1, seq + records + 1):
            at, details = 1_700_000_000.0 + n, f'{{"n":{n}}}'
            digest = record_hash(n, at, "admin", "test.fill", f"t{n}", details, prev)
            signature = key.sign(statement("record", n, digest, at))
            rows.append((n, at, "admin", "test.fill", f"t{n}", details, prev, digest, signature, key.key_id))
            prev = digest
        conn.executemany("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()


def test_a_long_audit_verify_and_a_burst_of_sign_ins_stall_no_one(cluster):
    cluster.agent("a")
    snap = push_folder(cluster, {"x": "x"})
    cluster.admin.submit_run(RunSpec("p", ("echo", "hi"), snap))
    cluster.admin.create_user("ann", "ann-password-1")
    cluster.admin.set_member("p", "ann", "viewer")
    for i in range(SIGN_INS):
        cluster.admin.create_user(f"u{i}", f"u{i}-password-1")
    ann = login(cluster.coordinator, "ann", "ann-password-1")
    _lengthen_audit_chain(cluster.coordinator.ctx.config.data_dir, RECORDS)

    done = threading.Event()
    verdicts = []

    def verify() -> None:
        verdicts.append(cluster.admin.verify_audit())
        done.set()

    def sign_in(i: int) -> None:
        login(cluster.coordinator, f"u{i}", f"u{i}-password-1").close()

    busy = [threading.Thread(target=verify)] + [threading.Thread(target=sign_in, args=(i,)) for i in range(SIGN_INS)]
    for t in busy:
        t.start()
    answered, states = 0, set()
    liveness = cluster.coordinator.ctx.liveness
    while not done.is_set():
        assert ann.list_runs("p")  # answered while the verify is still going
        answered += not done.is_set()
        states.add(liveness.state("a", clock.now()))
    for t in busy:
        t.join(120)
    [verdict] = verdicts
    assert verdict.ok and verdict.records > RECORDS
    assert answered >= 5, f"only {answered} listings were answered during the verify"
    assert states == {"ready"}  # heartbeats were read throughout
    assert cluster.node_state("a") == "ready"
    ann.close()
