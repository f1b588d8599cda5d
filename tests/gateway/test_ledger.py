"""The prediction ledger's spool: each answered request's record reaches the backend under the id its
client saw, cut to MAX_CAPTURE_BYTES; records survive a failing backend (retried, none dropped), rotate
into segments that go once shipped, and a record torn by a crash is skipped rather than shipped."""

from __future__ import annotations

import asyncio
import os
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from kiln.coordinator.gateway.backend import StaticBackend
from kiln.coordinator.gateway.ledger import (
    _HEAD,
    _META,
    DAMAGED,
    MAGIC,
    SHORT,
    UNREADABLE,
    WHOLE,
    Spool,
    SpoolBusy,
    clip,
    decode_all,
    encode,
)
from kiln.core.deployments import MAX_CAPTURE_BYTES, PredictionRecord
from tests.conftest import wait_until

from .conftest import MakeReplica, StartGateway, endpoint, table, version


def record(i: int, size: int = 10) -> PredictionRecord:
    return PredictionRecord(
        id=f"p-{i:020d}",
        endpoint="iris",
        version=1,
        time=1000.0 + i,
        latency_ms=1.5,
        status=200,
        replica="run-a",
        caller="alice",
        request=b"q" * size,
        response=b"a" * size,
    )


async def until(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


def test_every_answered_request_is_recorded_under_its_ids(
    replicas: MakeReplica, start_gateway: StartGateway, backend: StaticBackend
) -> None:
    a, b = replicas("a"), replicas("b")
    gw = start_gateway(table(endpoint("iris", version(1, 50, a), version(2, 50, b))))
    c = gw.caller()
    answers = [c.invoke("iris", f'{{"row": {i}}}'.encode()) for i in range(50)]
    assert len({x.pid for x in answers}) == 50
    wait_until(lambda: {x.pid for x in answers} <= set(backend.records), what="all 50 records")
    for x in answers:
        r = backend.records[x.pid]
        assert (r.status, str(r.version), r.caller, r.endpoint) == (x.status, x.version, "alice", "iris")
        assert r.response == x.body and r.content_type == "application/json" and not r.truncated
        assert r.replica == f"run-{x.json()['replica']}" and r.latency_ms > 0
    c.close()


def test_large_bodies_are_cut_in_the_record_not_the_answer(
    replicas: MakeReplica, start_gateway: StartGateway, backend: StaticBackend
) -> None:
    a = replicas("a")
    gw = start_gateway(table(endpoint("iris", version(1, 100, a))))
    c = gw.caller()
    body = b"9" * (MAX_CAPTURE_BYTES * 2)
    answer = c.invoke("iris", body)
    assert answer.status == 200 and len(answer.body) > 2 * MAX_CAPTURE_BYTES
    wait_until(lambda: answer.pid in backend.records, what="the record")
    r = backend.records[answer.pid]
    assert r.truncated and r.request == body[:MAX_CAPTURE_BYTES] and r.response == answer.body[:MAX_CAPTURE_BYTES]
    c.close()


def test_clip_and_frames_round_trip() -> None:
    assert clip(b"x" * 5, b"y") == (b"x" * 5, b"y", False)
    request, response, cut = clip(b"x" * (MAX_CAPTURE_BYTES + 1), b"y")
    assert (len(request), response, cut) == (MAX_CAPTURE_BYTES, b"y", True)
    frames = b"".join(encode(record(i)) for i in range(3))
    assert [r for _, r, _ in decode_all(frames)] == [record(i) for i in range(3)]
    *_, (at, last, state) = decode_all(frames[:-7])
    assert (last, state, at) == (None, SHORT, 2 * len(encode(record(0))))
    bad = bytearray(frames)
    bad[len(encode(record(0))) + 20] ^= 0xFF
    assert [s for _, _, s in decode_all(bytes(bad))] == [WHOLE, DAMAGED]


def test_a_whole_record_this_gateway_cannot_read_is_skipped_alone(tmp_path: Path) -> None:
    body = _META.pack(2, 0) + b"{}"  # a well-framed record missing every field
    alien = _HEAD.pack(MAGIC, len(body), zlib.crc32(body)) + body
    assert [s for _, _, s in decode_all(encode(record(0)) + alien + encode(record(1)))] == [WHOLE, UNREADABLE, WHOLE]

    async def main() -> None:
        backend = StaticBackend()
        spool = Spool(tmp_path)
        spool.append(record(0))
        os.write(spool._fd, alien)  # as if a gateway of another version had written it
        spool.written += len(alien)
        spool.append(record(1))
        while await spool.ship_once(backend):
            pass
        assert list(backend.records) == [record(0).id, record(1).id]
        spool.close()

    asyncio.run(main())


def test_a_failing_backend_loses_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        backend = StaticBackend(fail_record=True)
        spool = Spool(tmp_path)
        shipper = asyncio.create_task(spool.ship_forever(backend))
        for i in range(5):
            spool.append(record(i))
        await until(lambda: backend.record_calls >= 2, what="two failed attempts")
        backend.fail_record = False
        await until(lambda: len(backend.records) == 5, what="all five shipped")
        shipper.cancel()
        spool.close()

    asyncio.run(main())


def test_segments_rotate_and_go_once_shipped(tmp_path: Path) -> None:
    async def main() -> None:
        backend = StaticBackend()
        spool = Spool(tmp_path, segment_bytes=4096)
        for i in range(60):
            spool.append(record(i, size=200))
        assert len(list(tmp_path.glob("segment-*.log"))) > 5
        while await spool.ship_once(backend):
            pass
        assert list(backend.records) == [record(i).id for i in range(60)]
        assert [p.name for p in tmp_path.glob("segment-*.log")] == [f"segment-{spool.number:012d}.log"]
        spool.close()

    asyncio.run(main())


def test_a_torn_last_record_is_skipped_and_the_rest_shipped(tmp_path: Path) -> None:
    first = Spool(tmp_path)
    for i in range(3):
        first.append(record(i))
    segment = tmp_path / f"segment-{first.number:012d}.log"
    first.close()  # the process is gone; what it was writing when it died is half there:
    with open(segment, "ab") as f:
        f.write(encode(record(3))[:40])

    async def main() -> None:
        backend = StaticBackend()
        second = Spool(tmp_path)
        second.append(record(4))
        while await second.ship_once(backend):
            pass
        assert sorted(backend.records) == [record(i).id for i in (0, 1, 2, 4)]
        assert backend.records[record(4).id] == record(4)
        assert not segment.exists()  # shipped, torn tail and all, then deleted
        second.close()

    asyncio.run(main())


def test_one_spool_folder_per_gateway(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    with pytest.raises(SpoolBusy, match="another gateway is using the spool folder"):
        Spool(tmp_path)
    spool.close()
    Spool(tmp_path).close()
    assert os.path.exists(tmp_path / "lock")
