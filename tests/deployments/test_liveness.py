"""A hung model replica (alive, but answering nothing) is found by its agent's liveness probe, killed, and
replaced; its run fails naming the probe. The probe alone, against a real socket that never answers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from kiln.agent.liveness import Probe, Watch, ping
from tests.conftest import wait_until
from tests.deployments.conftest import serving_cluster
from tests.deployments.test_serving import ROWS, _replica_pid

FAST = Probe(period_s=0.3, timeout_s=1.0, failures=3)


@contextlib.contextmanager
def _silent_listener() -> Iterator[str]:
    """A port that takes connections (the kernel's backlog) and never reads nor answers: a hung server."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as s:
        yield f"127.0.0.1:{s.getsockname()[1]}"


def test_ping_names_what_failed() -> None:
    with _silent_listener() as address:
        assert ping(address, 0.2) == "no answer to /ping within 0.2 s"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    assert ping(closed, 0.2).startswith("/ping failed:")
    assert "cannot be dialled" in ping("no-port", 0.2)


def test_a_watch_calls_hung_once_after_failures_in_a_row_and_not_after_the_job_ended() -> None:
    told: list[str] = []
    stop = threading.Event()
    with _silent_listener() as address:
        Watch(address, FAST, lambda: True, told.append, stop).start().thread.join(20)
        assert len(told) == 1 and "3 probes of GET /ping failed in a row" in told[0], told
        ended = Watch(address, FAST, lambda: False, told.append, stop).start()
        ended.thread.join(20)
        assert not ended.thread.is_alive() and len(told) == 1


def test_a_hung_replica_is_killed_by_its_agent_and_replaced(tmp_path: Path) -> None:
    with serving_cluster(tmp_path, liveness_probe=FAST) as served:
        served.train(1)
        served.deploy("stuck", version=1)
        first = served.ready("stuck", (1,)).replica_list[0].run_id
        pid = _replica_pid(first)
        os.kill(pid, signal.SIGSTOP)  # alive and listening, answering nothing
        try:
            wait_until(
                lambda: str(served.cluster.admin.get_run(first).state) == "failed", 60, "the hung replica to fail"
            )
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        run = served.cluster.admin.get_run(first)
        assert "liveness probe" in run.reason and "GET /ping" in run.reason, run.reason
        replaced = served.ready("stuck", (1,))
        assert first not in {r.run_id for r in replaced.replica_list}
        with served.http() as http:
            r = http.post("/endpoints/stuck/invocations", json={"inputs": ROWS})
        assert r.status_code == 200, r.text
