"""The liveness probe of the model replicas this agent started, as a kubelet runs one beside its pods.

A replica (kiln.serve) tells its address through the run tag ADDRESS_TAG once it is serving. From then on
the agent asks its `GET /ping` every `period_s`; a replica that fails `failures` probes in a row (no answer
within `timeout_s`, connecting included, or an answer other than 200) is hung: the agent kills it and ends
its run as failed, naming the probe, and the deployment controller starts a replacement as it does for a
replica that crashed. The gateways stop routing to a replica sooner (after two failed probes of their own),
but only its agent may end it, and a process stopped with SIGSTOP or stuck in a deadlock never exits by
itself.

The address is kept in the job's folder, so an agent restarted while its replicas run probes them again.
"""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiln.core import defaults
from kiln.core.errors import KilnError
from kiln.core.netaddr import split_address

log = logging.getLogger("kiln.agent.liveness")

ADDRESS_FILE = "serve-address"  # in the job's folder: the address the replica told


@dataclass(frozen=True)
class Probe:
    """How a replica is probed (kiln.core.defaults: LIVENESS_*)."""

    period_s: float = defaults.LIVENESS_PERIOD_S
    timeout_s: float = defaults.LIVENESS_TIMEOUT_S
    failures: int = defaults.LIVENESS_FAILURES


def ping(address: str, timeout_s: float) -> str:
    """'' when the replica at HOST:PORT answers `GET /ping` with 200 within `timeout_s`, else what failed."""
    try:
        host, port = split_address(address)
    except KilnError as e:
        return f"its address {address!r} cannot be dialled: {e}"
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", "/ping")
        answer = conn.getresponse()
        answer.read()
        return "" if answer.status == 200 else f"/ping answered {answer.status}"
    except TimeoutError:
        return f"no answer to /ping within {timeout_s:g} s"
    except (OSError, http.client.HTTPException) as e:
        return f"/ping failed: {e}"
    finally:
        conn.close()


class Watch:
    """Probes one replica on a thread of its own until it is found hung (then `hung(why)` is called, once),
    `alive()` turns false (the job ended) or `stop` is set (the agent is stopping)."""

    def __init__(
        self,
        address: str,
        probe: Probe,
        alive: Callable[[], bool],
        hung: Callable[[str], None],
        stop: threading.Event,
    ) -> None:
        self.address, self.probe, self.alive, self.hung, self.stop = address, probe, alive, hung, stop
        self.thread = threading.Thread(target=self._run, name=f"liveness-{address}", daemon=True)

    def start(self) -> Watch:
        self.thread.start()
        return self

    def _run(self) -> None:
        failed, why = 0, ""
        while not self.stop.wait(self.probe.period_s):
            if not self.alive():
                return
            why = ping(self.address, self.probe.timeout_s)
            failed = failed + 1 if why else 0
            if failed >= self.probe.failures:
                if self.alive():
                    log.warning("replica at %s is hung: %d probes failed in a row (%s)", self.address, failed, why)
                    self.hung(f"liveness probe: {failed} probes of GET /ping failed in a row, the last: {why}")
                return


def remember(jobdir: Path, address: str) -> None:
    """Keeps the address the replica told in its job's folder (read again after an agent restart)."""
    try:
        (jobdir / ADDRESS_FILE).write_text(address)
    except OSError as e:  # the probe still runs now; only a restart of the agent would forget it
        log.warning("could not keep the address of the replica in %s: %s", jobdir, e)


def remembered(jobdir: Path) -> str:
    try:
        return (jobdir / ADDRESS_FILE).read_text().strip()
    except OSError:
        return ""
