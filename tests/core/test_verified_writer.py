"""The one verified writer: the right bytes land under their name, anything else is refused with an error
that names the blob and leaves nothing behind, on real files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kiln.core.errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from kiln.core.hashing import BlobCheck, sha256_bytes
from kiln.core.verified import VerifiedWriter

DATA = b"the quick brown fox " * 1000
DIGEST = sha256_bytes(DATA)


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())


def _write(writer: VerifiedWriter, data: bytes, chunk: int = 4096) -> None:
    for i in range(0, len(data), chunk):
        writer.write(data[i : i + chunk])


def test_the_right_bytes_land_under_their_name_and_nothing_else_is_left(tmp_path):
    final = tmp_path / "blobs" / DIGEST[:2] / DIGEST  # its folder does not exist yet
    writer = VerifiedWriter(DIGEST, final, tmp_dir=tmp_path / "tmp", expected_size=len(DATA), mode=0o640)
    _write(writer, DATA)
    assert not final.exists()  # never visible half-written
    assert writer.finish() == len(DATA) == writer.size
    assert final.read_bytes() == DATA and final.stat().st_mode & 0o777 == 0o640
    assert _files(tmp_path) == [f"blobs/{DIGEST[:2]}/{DIGEST}"]
    writer.abort()  # after placing, a late abort keeps the blob
    assert final.read_bytes() == DATA


def test_a_wrong_digest_is_refused_naming_the_blob_and_leaves_nothing(tmp_path):
    writer = VerifiedWriter(DIGEST, tmp_path / DIGEST)
    _write(writer, DATA[:-1] + b"!")
    with pytest.raises(InvalidArgument, match=f"blob {DIGEST[:12]} does not match its digest") as caught:
        writer.finish()
    assert sha256_bytes(DATA[:-1] + b"!")[:12] in str(caught.value)
    assert _files(tmp_path) == []


def test_more_bytes_than_expected_are_refused_before_they_are_stored(tmp_path):
    writer = VerifiedWriter(DIGEST, tmp_path / DIGEST, expected_size=len(DATA))
    _write(writer, DATA)
    with pytest.raises(InvalidArgument, match=f"blob {DIGEST[:12]} .*{len(DATA)} were expected"):
        writer.write(b"x")
    assert _files(tmp_path) == []
    writer.abort()  # the caller's clean-up after a failure is harmless


def test_fewer_bytes_than_expected_are_refused(tmp_path):
    writer = VerifiedWriter(DIGEST, tmp_path / DIGEST, expected_size=len(DATA) + 1)
    _write(writer, DATA)
    with pytest.raises(InvalidArgument, match=f"blob {DIGEST[:12]} does not match"):
        writer.finish()
    assert _files(tmp_path) == []


def test_the_limit_is_enforced_as_bytes_arrive(tmp_path):
    writer = VerifiedWriter(DIGEST, tmp_path / DIGEST, limit=10_000)
    with pytest.raises(ResourceExhausted, match=f"blob {DIGEST[:12]} is larger than the limit of"):
        _write(writer, DATA)
    assert writer.size == 12_288 and _files(tmp_path) == []  # refused at the first chunk past the limit


def test_a_caller_words_its_own_errors(tmp_path):
    writer = VerifiedWriter(
        DIGEST,
        tmp_path / DIGEST,
        limit=len(DATA),
        mismatch=lambda actual: FailedPrecondition(f"{DIGEST[:6]} came out as {actual[:6]}; pull again"),
        too_large=lambda: ResourceExhausted("over this coordinator's upload limit"),
    )
    _write(writer, b"not it")
    with pytest.raises(FailedPrecondition, match=f"came out as {sha256_bytes(b'not it')[:6]}; pull again"):
        writer.finish()
    big = VerifiedWriter(DIGEST, tmp_path / DIGEST, limit=3, too_large=lambda: ResourceExhausted("upload limit"))
    with pytest.raises(ResourceExhausted, match="upload limit"):
        big.write(b"four")
    assert _files(tmp_path) == []


def test_a_deferred_blob_is_verified_but_placed_only_when_asked(tmp_path):
    (tmp_path / "tmp").mkdir()
    kept = VerifiedWriter(DIGEST, tmp_path / "a" / DIGEST, tmp_dir=tmp_path / "tmp", durable=False, defer=True)
    _write(kept, DATA)
    assert kept.finish() == len(DATA)
    assert not (tmp_path / "a").exists() and len(_files(tmp_path / "tmp")) == 1
    kept.place()
    assert (tmp_path / "a" / DIGEST).read_bytes() == DATA and _files(tmp_path / "tmp") == []

    dropped = VerifiedWriter(DIGEST, tmp_path / "b" / DIGEST, tmp_dir=tmp_path / "tmp", defer=True)
    _write(dropped, DATA)
    dropped.finish()
    dropped.abort()  # a stream cut off after the blob was verified, before its batch was published
    assert not (tmp_path / "b").exists() and _files(tmp_path / "tmp") == []


def test_copy_from_checks_a_copy_and_a_failing_source_leaves_nothing(tmp_path):
    assert VerifiedWriter(DIGEST, tmp_path / "copy", expected_size=len(DATA)).copy_from(io.BytesIO(DATA)) == len(DATA)
    assert (tmp_path / "copy").read_bytes() == DATA

    class Failing(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise OSError("the disk went away")

    with pytest.raises(OSError, match="went away"):
        VerifiedWriter(DIGEST, tmp_path / "other").copy_from(Failing())
    assert _files(tmp_path) == ["copy"]


def test_a_second_copy_of_the_same_blob_replaces_the_first(tmp_path):
    first, second = (VerifiedWriter(DIGEST, tmp_path / DIGEST) for _ in range(2))
    _write(first, DATA)
    _write(second, DATA)  # two jobs fetching one blob at once: separate temp files
    first.finish()
    second.finish()
    assert _files(tmp_path) == [DIGEST] and (tmp_path / DIGEST).read_bytes() == DATA


def test_the_check_alone_serves_a_reader():
    check = BlobCheck(DIGEST, expected_size=len(DATA))
    check.update(DATA)
    assert check.verify() == len(DATA) == check.verify()  # checking again at end of file is harmless
    with pytest.raises(InvalidArgument, match=f"blob {DIGEST[:12]}"):
        BlobCheck(DIGEST).verify()  # nothing read: the empty blob is not this one
    assert BlobCheck(sha256_bytes(b"")).verify() == 0
