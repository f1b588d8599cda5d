"""ReadLogs' tail, range and offsets through a real coordinator: the last bytes of a run's output in whole
chunks, what came before a chunk already read, each chunk's byte offset in the whole output, old requests
answered as before, and out-of-range requests refused with InvalidArgument (never INTERNAL)."""

from __future__ import annotations

import grpc
import pytest

from kiln.core.errors import InvalidArgument
from kiln.core.runs import LogChunk, RunSpec
from kiln.proto.v1 import runs_pb2, runs_pb2_grpc
from tests.compute.conftest import Cluster, push_folder

# attempt 1: ten chunks of 1,000 bytes, streams alternating; attempt 2 (a retry): five of 500 bytes
CHUNKS = [LogChunk(1, s, ("stdout", "stderr")[s % 2], bytes([64 + s]) * 1000, float(s)) for s in range(1, 11)]
CHUNKS += [LogChunk(2, s, "stdout", bytes([96 + s]) * 500, 20.0 + s) for s in range(1, 6)]
WHOLE = b"".join(c.data for c in CHUNKS)


@pytest.fixture
def logged(cluster: Cluster) -> str:
    """A queued run (its node drained) holding CHUNKS as its output."""
    cluster.agent("n1")
    cluster.admin.set_drain("n1", True)
    run = cluster.admin.submit_run(RunSpec("p", ("true",)))
    cluster.coordinator.ctx.store.add_logs(run.id, CHUNKS)
    return run.id


def keys(chunks: list[LogChunk]) -> list[tuple[int, int]]:
    return [(c.attempt, c.seq) for c in chunks]


def test_every_chunk_carries_its_offset_and_a_request_without_the_new_fields_reads_as_before(cluster, logged):
    chunks = list(cluster.admin.read_logs(logged))
    assert keys(chunks) == keys(CHUNKS) and b"".join(c.data for c in chunks) == WHOLE
    assert [c.offset for c in chunks] == [sum(len(x.data) for x in CHUNKS[:i]) for i in range(len(CHUNKS))]
    assert [c.stream for c in chunks] == [c.stream for c in CHUNKS]
    old = runs_pb2_grpc.RunsStub(cluster.admin.channel).ReadLogs(runs_pb2.ReadLogsRequest(id=logged))
    assert b"".join(m.data for m in old) == WHOLE
    resumed = list(cluster.admin.read_logs(logged, after=(1, 10)))
    assert keys(resumed) == [(2, s) for s in range(1, 6)] and resumed[0].offset == 10_000


def test_a_tail_is_the_fewest_last_whole_chunks_holding_the_bytes_asked_for(cluster, logged):
    one = list(cluster.admin.read_logs(logged, tail_bytes=1))
    assert keys(one) == [(2, 5)] and one[0].offset == len(WHOLE) - 500
    tail = list(cluster.admin.read_logs(logged, tail_bytes=1200))  # two chunks hold 1,000: three are needed
    assert keys(tail) == [(2, 3), (2, 4), (2, 5)] and tail[0].offset == 11_000
    assert b"".join(c.data for c in tail) == WHOLE[-1500:]
    across = list(cluster.admin.read_logs(logged, tail_bytes=3000))  # reaches back into the first attempt
    assert keys(across) == [(1, 10), (2, 1), (2, 2), (2, 3), (2, 4), (2, 5)] and across[0].offset == 9000
    everything = list(cluster.admin.read_logs(logged, tail_bytes=10**9))
    assert keys(everything) == keys(CHUNKS) and everything[0].offset == 0


def test_output_before_a_chunk_already_read_comes_whole_or_as_its_own_tail(cluster, logged):
    earlier = list(cluster.admin.read_logs(logged, before=(2, 1)))
    assert keys(earlier) == [(1, s) for s in range(1, 11)] and earlier[0].offset == 0
    last_of_it = list(cluster.admin.read_logs(logged, before=(2, 1), tail_bytes=2500))
    assert keys(last_of_it) == [(1, 8), (1, 9), (1, 10)] and last_of_it[0].offset == 7000
    between = list(cluster.admin.read_logs(logged, after=(1, 3), before=(1, 6)))
    assert keys(between) == [(1, 4), (1, 5)] and between[0].offset == 3000
    assert list(cluster.admin.read_logs(logged, before=(1, 1), tail_bytes=100)) == []  # nothing earlier


@pytest.mark.parametrize(
    ("request_fields", "says"),
    [
        ({"tail_bytes": 2**64 - 1}, "tail_bytes 18,446,744,073,709,551,615 is more than"),
        ({"tail_bytes": 1024**3 + 1}, "leave it 0 to read the whole log"),
        ({"after_seq": 2**64 - 1}, "after_seq 18446744073709551615 is past any chunk's number"),
        ({"before_attempt": 1, "before_seq": 2**63}, "before_seq 9223372036854775808 is past"),
        ({"before_attempt": 2, "before_seq": 1, "follow": True}, "cannot be combined with follow"),
        ({"after_attempt": 2, "after_seq": 1, "before_attempt": 1, "before_seq": 5}, "must come before"),
    ],
)
def test_requests_out_of_range_are_refused_as_invalid_with_the_reason(cluster, logged, request_fields, says):
    stub = runs_pb2_grpc.RunsStub(cluster.admin.channel)
    with pytest.raises(grpc.RpcError) as refused:
        list(stub.ReadLogs(runs_pb2.ReadLogsRequest(id=logged, **request_fields)))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and says in refused.value.details()


def test_the_client_raises_invalid_argument_for_a_tail_too_large(cluster, logged):
    with pytest.raises(InvalidArgument, match="ask for less"):
        list(cluster.admin.read_logs(logged, tail_bytes=2 * 1024**3))


def test_following_a_real_run_from_its_tail_ends_with_its_last_output(cluster):
    cluster.agent("n1")
    snap = push_folder(cluster, {"x": "x"})
    run = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", "seq 1 100000"), snap, runtime="process"))
    cluster.wait_run(run.id)
    whole = b"".join(c.data for c in cluster.admin.read_logs(run.id))
    assert whole == "".join(f"{i}\n" for i in range(1, 100_001)).encode()
    tail = list(cluster.admin.read_logs(run.id, follow=True, tail_bytes=1000))  # ended: follow returns
    data = b"".join(c.data for c in tail)
    assert 1000 <= len(data) < len(whole) and whole.endswith(data) and tail[0].offset == len(whole) - len(data)
