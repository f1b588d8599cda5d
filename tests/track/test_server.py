"""The agent's tracking socket server spoken to directly, as a misbehaving or retrying client would."""

from __future__ import annotations

import json
import math
import stat
from pathlib import Path
from typing import Any

import pytest

from kiln.agent.tracking import MAX_LINE_BYTES, BadBatch, TrackingServer, parse_batch, prepare_sdk
from tests.track.conftest import Collector, exchange


def line(batch: dict[str, Any]) -> bytes:
    return json.dumps(batch).encode() + b"\n"


def test_a_batch_is_delivered_then_acknowledged_and_a_repeat_only_acknowledged(
    server: TrackingServer, collector: Collector
) -> None:
    batch = {"seq": 1, "pid": 7, "proc": "a", "metrics": [["loss", "nan", 0, 1], ["loss", 2, 1, 2]]}
    assert exchange(server.socket_path, line(batch) + line(batch)) == [{"ack": 1}, {"ack": 1}]
    # The same seq on a new connection (the SDK reconnected) is still a repeat.
    assert exchange(server.socket_path, line(batch)) == [{"ack": 1}]
    [delivered] = collector.all()
    assert math.isnan(delivered["metrics"][0][1]) and delivered["metrics"][1] == ["loss", 2.0, 1, 2]
    # Another process (pid or proc) numbers its own batches from 1.
    assert exchange(server.socket_path, line({**batch, "proc": "b"}) + line({**batch, "pid": 8})) == [
        {"ack": 1},
        {"ack": 1},
    ]
    assert len(collector.all()) == 3
    assert server.delivered() == {(7, "a"): 1, (7, "b"): 1, (8, "a"): 1}


def test_without_a_pid_field_the_peer_pid_names_the_sender(server: TrackingServer, collector: Collector) -> None:
    assert exchange(server.socket_path, line({"seq": 1}) + line({"seq": 1})) == [{"ack": 1}, {"ack": 1}]
    assert len(collector.all()) == 1
    [(pid, proc)] = server.delivered()
    assert pid > 0 and proc == ""


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"{not json\n", "invalid JSON"),
        (b'{"seq": 1, "metrics": [["x", NaN, 0, 0]]}\n', "invalid JSON"),
        (b"[1, 2]\n", "JSON object"),
        (b'{"seq": 0}\n', "seq >= 1"),
        (b'{"seq": 1, "params": {"a": 1}}\n', "object of strings"),
        (b'{"seq": 1, "metrics": [["x", 1.0, 0]]}\n', "[key, value, step, timestamp_ms]"),
        (b'{"seq": 1, "metrics": [["x", 1.0, 0.5, 0]]}\n', "integers"),
        (b'{"seq": 1, "artifacts": ["../../etc/passwd"]}\n', "bad path"),
        (b'{"seq": 1, "models": [{"path": "/abs"}]}\n', "bad path"),
    ],
)
def test_bad_input_gets_an_error_and_the_server_goes_on(
    server: TrackingServer, collector: Collector, data: bytes, error: str
) -> None:
    [answer] = exchange(server.socket_path, data + line({"seq": 1}))  # the connection closes after the error
    assert error in answer["error"]
    assert collector.all() == []
    assert exchange(server.socket_path, line({"seq": 1, "pid": 1})) == [{"ack": 1}]


def test_an_oversized_line_gets_an_error_and_the_server_goes_on(server: TrackingServer, collector: Collector) -> None:
    [answer] = exchange(server.socket_path, b"x" * (MAX_LINE_BYTES + 1))
    assert answer == {"error": f"line longer than {MAX_LINE_BYTES} bytes"}
    assert exchange(server.socket_path, line({"seq": 1, "pid": 1})) == [{"ack": 1}]
    assert len(collector.all()) == 1


def test_a_batch_that_cannot_be_stored_is_not_acknowledged(sock_dir: Path) -> None:
    stored: list[dict[str, Any]] = []

    def flaky(batch: dict[str, Any]) -> None:
        if batch.get("fail"):
            raise OSError("disk full")
        stored.append(batch)

    with TrackingServer(sock_dir / "t.sock", flaky) as server:
        [answer] = exchange(server.socket_path, line({"seq": 1, "pid": 1, "fail": True}))
        assert answer == {"error": "could not store batch 1: disk full"}
        assert exchange(server.socket_path, line({"seq": 1, "pid": 1})) == [{"ack": 1}]
    assert len(stored) == 1


def test_the_socket_is_private_and_removed_on_stop(sock_dir: Path, collector: Collector) -> None:
    path = sock_dir / "sub" / "t.sock"
    (sock_dir / "sub").mkdir()
    path.touch()
    with pytest.raises(FileExistsError, match="not a socket"):
        TrackingServer(path, collector).start()
    path.unlink()
    with TrackingServer(path, collector):
        assert stat.S_ISSOCK(path.lstat().st_mode)
        assert stat.S_IMODE(path.lstat().st_mode) == 0o600
    assert not path.exists()
    with TrackingServer(path, collector):  # a stale socket left by a killed agent is replaced
        pass


def test_a_socket_path_too_long_for_unix_sockets_is_refused(tmp_path: Path, collector: Collector) -> None:
    with pytest.raises(ValueError, match="longer than 107 bytes"):
        TrackingServer(tmp_path / ("d" * 120) / "t.sock", collector)


def test_parse_batch_keeps_the_wire_fields() -> None:
    batch = parse_batch(
        line(
            {
                "seq": 3,
                "pid": 9,
                "proc": "p",
                "params": {"a": "1"},
                "tags": {"t": "v"},
                "environment": {"python": "3.8.18"},
                "artifacts": ["plots/a.png"],
                "datasets": ["mnist@3"],
                "models": [{"path": "models/m", "name": "m", "flavor": None}],
            }
        )
    )
    assert batch["seq"] == 3 and batch["models"] == [{"path": "models/m", "name": "m", "flavor": None}]
    with pytest.raises(BadBatch, match="non-empty strings"):
        parse_batch(line({"seq": 1, "datasets": [""]}))


def test_prepare_sdk_builds_once_per_version(tmp_path: Path) -> None:
    first = prepare_sdk(tmp_path)
    assert prepare_sdk(tmp_path) == first
    assert [p.name for p in tmp_path.iterdir()] == [first.name]
    assert (first / "kiln" / "__init__.py").is_file() and (first / "kiln" / "track" / "__init__.py").is_file()
