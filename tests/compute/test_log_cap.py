"""A run printing past the coordinator's per-run log cap, through a real coordinator and agent: the head
and the tail of its output are kept and the middle dropped, its record says how much (and the cap), the
chunks' offsets jump over what was dropped, and `kiln logs` and the desktop's log view mark the place."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.cli.runs import _print_logs
from kiln.cli.runview import record_dict, spec_rows
from kiln.core.limits import MiB
from kiln.core.runs import RunSpec, dropped_note
from kiln.core.units import format_bytes
from kiln.desktop.pages.run.logs import Pieces
from tests.compute.conftest import Cluster, push_folder, running_cluster

LINES = 60_000  # about 4 MiB
LINE = "line %08d of a log long enough to pass the cap, padded out to seventy\n"
PRINT = f"import sys\nfor i in range({LINES}):\n    sys.stdout.write({LINE!r} % i)\n"


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Cluster]:
    with running_cluster(tmp_path, log_cap_bytes=MiB) as c:
        yield c


def test_the_middle_is_dropped_and_the_record_and_readers_say_so(capped: Cluster, capsysbinary):
    capped.agent("n1")
    snap = push_folder(capped, {"x": "x"})
    run = capped.admin.submit_run(RunSpec("p", (sys.executable, "-c", PRINT), snap, runtime="process"))
    done = capped.wait_run(run.id, timeout=120)
    assert str(done.state) == "succeeded", done.reason
    chunks = list(capped.admin.read_logs(run.id))
    text = b"".join(c.data for c in chunks)
    total = chunks[-1].offset + len(chunks[-1].data)
    assert total == LINES * len(LINE % 0) and len(text) <= MiB
    assert done.log_cap_bytes == MiB and done.log_dropped_bytes == total - len(text) > 0
    assert text.startswith((LINE % 0).encode()) and text.endswith((LINE % (LINES - 1)).encode())
    gaps = [b.offset - (a.offset + len(a.data)) for a, b in zip(chunks, chunks[1:], strict=False)]
    assert [g for g in gaps if g] == [done.log_dropped_bytes]
    assert capped.admin.get_run(run.id).log_dropped_bytes == done.log_dropped_bytes  # through the RPC, too
    record = capped.admin.run_record(run.id)  # and what `kiln run show` shows of it
    shown_json = record_dict(record)
    assert (shown_json["log_dropped_bytes"], shown_json["log_cap_bytes"]) == (done.log_dropped_bytes, MiB)
    assert dict(spec_rows(record.run))["output dropped"] == (
        f"{format_bytes(done.log_dropped_bytes)} from the middle of its output (over the 1.0 MiB log cap)"
    )

    # kiln logs: the marker line where the bytes went
    assert _print_logs(capped.admin, run.id, follow=False)
    out = capsysbinary.readouterr().out
    marker = dropped_note(done.log_dropped_bytes, MiB).encode()
    assert out.count(marker) == 1 and out.replace(b"\n" + marker, b"") == text

    # the desktop's log view: a piece of its own, at the same place
    pieces = Pieces()
    for c in chunks:
        pieces.add(c)
    shown = "".join(p.text for p in pieces.pieces)
    assert shown.count("of output dropped here") == 1
    assert shown.replace("\n" + dropped_note(done.log_dropped_bytes), "") == text.decode()


def test_a_tail_read_over_the_drop_begins_where_the_kept_output_resumes(capped: Cluster):
    capped.agent("n1")
    snap = push_folder(capped, {"x": "x"})
    run = capped.admin.submit_run(RunSpec("p", (sys.executable, "-c", PRINT), snap, runtime="process"))
    assert capped.wait_run(run.id, timeout=120).log_dropped_bytes
    whole = list(capped.admin.read_logs(run.id))
    [gap] = [i + 1 for i, (a, b) in enumerate(zip(whole, whole[1:], strict=False)) if b.offset > a.offset + len(a.data)]
    tail = list(capped.admin.read_logs(run.id, tail_bytes=3 * MiB))  # more than the tail that was kept
    assert [(c.seq, c.offset) for c in tail] == [(c.seq, c.offset) for c in whole[gap:]]
