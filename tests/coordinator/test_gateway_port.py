"""A gateway port that cannot be had stops the coordinator's start with what to do, not a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kiln.core.errors import InvalidArgument
from tests.conftest import start_coordinator


def test_a_busy_gateway_port_is_said_clearly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(InvalidArgument, match=f"cannot serve model endpoints on {busy}.*--gateway-listen"):
            start_coordinator(tmp_path / "c", gateway_listen=busy)
