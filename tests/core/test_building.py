"""Building a folder aside and renaming it into place: whole on success, nothing left on failure, and for
folders named by their content, a builder that finished first wins."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kiln.core.atomic import building


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_a_folder_appears_whole_once_the_block_succeeds(tmp_path):
    final = tmp_path / "out" / "result"  # its parent is made too
    with building(final, durable=True, tag="kiln-pull") as work:
        assert work.parent == final.parent and work.name.startswith(".result.kiln-pull-")
        (work / "sub").mkdir()
        (work / "sub" / "a.txt").write_bytes(b"alpha")
        assert not final.exists()
    assert _tree(final) == {"sub/a.txt": b"alpha"} and _leftovers(final.parent) == []


def test_an_empty_folder_at_the_destination_is_replaced(tmp_path):
    final = tmp_path / "empty"
    final.mkdir()
    with building(final) as work:
        (work / "x").write_bytes(b"x")
    assert _tree(final) == {"x": b"x"}


def test_a_failure_leaves_nothing_even_read_only_folders(tmp_path):
    final = tmp_path / "dataset"
    with pytest.raises(RuntimeError, match="fetch failed"), building(final) as work:
        (work / "locked").mkdir()
        (work / "locked" / "f").write_bytes(b"f")
        (work / "locked").chmod(0o555)
        raise RuntimeError("fetch failed")
    assert list(tmp_path.iterdir()) == []


def test_a_destination_that_holds_something_is_not_replaced(tmp_path):
    final = tmp_path / "mine"
    final.mkdir()
    (final / "keep.txt").write_bytes(b"mine")
    with pytest.raises(OSError), building(final) as work:
        (work / "new.txt").write_bytes(b"new")
    assert _tree(final) == {"keep.txt": b"mine"} and _leftovers(tmp_path) == []


def test_for_a_content_named_folder_the_first_builder_wins(tmp_path):
    final = tmp_path / "sdk-1234"
    with building(final, exist_ok=True) as work:
        (work / "mine.txt").write_bytes(b"same content")
        final.mkdir()  # another agent finished first
        (final / "theirs.txt").write_bytes(b"same content")
    assert _tree(final) == {"theirs.txt": b"same content"} and _leftovers(tmp_path) == []


def test_concurrent_builders_of_one_content_named_folder_all_succeed(tmp_path):
    final = tmp_path / "snapshot-abc"
    inside = threading.Barrier(4, timeout=30)  # every builder is mid-build before any renames
    errors: list[BaseException] = []

    def build(n: int) -> None:
        try:
            with building(final, exist_ok=True) as work:
                (work / "data.bin").write_bytes(b"content")
                (work / "sub").mkdir()
                (work / "sub" / f"by-{n}").write_bytes(b"")
                inside.wait()
        except BaseException as e:  # reported below, from the test's own thread
            errors.append(e)

    threads = [threading.Thread(target=build, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    built = _tree(final)
    assert built.pop("data.bin") == b"content" and len(built) == 1  # exactly one builder's folder
    assert _leftovers(tmp_path) == []
