import io

import pytest

from kiln.core.blobparts import pack
from kiln.core.hashing import normalize_fingerprint
from kiln.core.units import parse_duration, parse_size


def test_sizes_and_durations_parse_as_people_write_them():
    assert parse_size("4G") == 4 * 1024**3
    assert parse_size("512MiB") == 512 * 1024**2
    assert parse_size("100") == 100
    assert parse_duration("90s") == 90 and parse_duration("30d") == 30 * 86400
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")
    with pytest.raises(ValueError, match="positive"):
        parse_duration("0")


def test_fingerprints_normalise_from_common_spellings():
    hexd = "ab" * 32
    assert normalize_fingerprint(hexd.upper()) == "SHA256:" + hexd
    assert normalize_fingerprint("sha256:" + ":".join(hexd[i : i + 2] for i in range(0, 64, 2))) == "SHA256:" + hexd
    with pytest.raises(ValueError):
        normalize_fingerprint("SHA256:xyz")


def test_pack_fills_messages_and_marks_each_blob_end_once():
    blobs = {"empty": b"", "small": b"x" * 10, "big": b"y" * 25, "tail": b"z" * 7}
    messages = list(pack(((d, lambda b=b: io.BytesIO(b)) for d, b in blobs.items()), chunk=10))
    assert all(sum(len(p.data) for p in m) <= 10 for m in messages)
    parts = [p for m in messages for p in m]
    for digest, data in blobs.items():
        mine = [p for p in parts if p.digest == digest]
        assert b"".join(p.data for p in mine) == data
        assert [p.last for p in mine] == [False] * (len(mine) - 1) + [True]
        assert [p.offset for p in mine] == [sum(len(q.data) for q in mine[:i]) for i in range(len(mine))]
