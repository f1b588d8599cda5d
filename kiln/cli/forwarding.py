"""A local port forwarded through the coordinator to a port of a running run, until Ctrl-C (kiln run port,
kiln workspace open and port)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from kiln.core.errors import InvalidArgument


def forward_until_stopped(client: Any, run_id: str, remote: int, local: int, url: str, browse: bool = False) -> int:
    """Forwards `local` (0: a free port) to `remote` of the run until Ctrl-C; `url` ({local} filled in) is
    printed, and opened in a browser when `browse`."""
    from kiln.client.tunnels import Forwarder

    try:
        forwarder = Forwarder(client, run_id, remote, local).start()
    except OSError as e:
        raise InvalidArgument(f"cannot listen on local port {local}: {e.strerror or e}") from None
    address = url.format(local=forwarder.local_port)
    print(f"{address} reaches port {remote} of run {run_id} (Ctrl-C closes the tunnel; the run goes on)", flush=True)
    if browse:
        import webbrowser

        webbrowser.open(address)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    forwarder.stop()
    return 0
