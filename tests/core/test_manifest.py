import stat

import pytest

from kiln.core.errors import InvalidArgument
from kiln.core.hashing import sha256_bytes
from kiln.core.manifest import (
    Entry,
    Manifest,
    apply_changes,
    canonical_manifest,
    diff,
    manifest_id,
    totals,
    validate,
)

D = "a" * 64
E = "b" * 64
FILE = stat.S_IFREG | 0o644
DIR = stat.S_IFDIR | 0o755
LINK = stat.S_IFLNK | 0o777


def test_manifest_id_ignores_input_order_and_changes_with_any_field():
    a = [Entry("x", FILE, 1, D), Entry("d", DIR)]
    assert manifest_id(a) == manifest_id(list(reversed(a)))
    assert manifest_id(a) != manifest_id([Entry("x", FILE | 0o100, 1, D), Entry("d", DIR)])
    assert manifest_id(a) != manifest_id([Entry("x", FILE, 1, E), Entry("d", DIR)])


def test_validate_sorts_and_accepts_files_dirs_symlinks():
    entries = validate([Entry("z", FILE, 3, D), Entry("a", DIR), Entry("a/l", LINK, 1, E)])
    assert [e.path for e in entries] == ["a", "a/l", "z"]
    assert totals(entries) == (2, 4)


@pytest.mark.parametrize(
    "entry, message",
    [
        (Entry("/etc/passwd", FILE, 1, D), "absolute"),
        (Entry("a/../../x", FILE, 1, D), "'..'"),
        (Entry("a//b", FILE, 1, D), "not normalised"),
        (Entry("dev", stat.S_IFCHR | 0o600, 0, D), "device"),
        (Entry("fifo", stat.S_IFIFO | 0o600, 0, D), "device"),
        (Entry("x", FILE | stat.S_ISUID, 1, D), "setuid"),
        (Entry("x", FILE, 1, "nothex"), "invalid digest"),
        (Entry("d", DIR, 3, ""), "cannot carry"),
    ],
)
def test_validate_refuses_unsafe_entries(entry, message):
    with pytest.raises(InvalidArgument, match=message):
        validate([entry])


def test_validate_refuses_duplicates_and_paths_below_files_or_links():
    with pytest.raises(InvalidArgument, match="twice"):
        validate([Entry("x", FILE, 1, D), Entry("x", FILE, 1, D)])
    with pytest.raises(InvalidArgument, match="below file"):
        validate([Entry("x", FILE, 1, D), Entry("x/y", FILE, 1, D)])
    with pytest.raises(InvalidArgument, match="below symlink"):
        validate([Entry("l", LINK, 1, D), Entry("l/y", FILE, 1, D)])


def test_diff_names_added_removed_and_changed_paths():
    old = [
        Entry("keep", FILE, 1, D),
        Entry("gone", FILE, 1, D),
        Entry("edit", FILE, 1, D),
        Entry("chmod", FILE, 1, D),
    ]
    new = [
        Entry("keep", FILE, 1, D),
        Entry("new", FILE, 1, E),
        Entry("edit", FILE, 1, E),
        Entry("chmod", FILE | 0o100, 1, D),
    ]
    d = diff(old, new)
    assert (d.added, d.removed, d.changed) == (["new"], ["gone"], ["chmod", "edit"])
    assert diff(old, old).is_empty()


def test_apply_changes_gives_the_same_manifest_as_a_full_description():
    base = validate([Entry("d", DIR), Entry("d/a", FILE, 1, D), Entry("b", FILE, 1, D)])
    new = validate([Entry("d", DIR), Entry("d/a", FILE, 1, E), Entry("c", FILE, 2, E)])
    merged = apply_changes(base, [Entry("d/a", FILE, 1, E), Entry("c", FILE, 2, E)], ["b"])
    assert merged == new and manifest_id(merged) == manifest_id(new)


@pytest.mark.parametrize(
    "changes, removed, message",
    [
        ([], ["nope"], "not in the base"),
        ([Entry("/abs", FILE, 1, D)], [], "absolute"),
        ([Entry("f/x", FILE, 1, D)], [], "below file"),
        ([Entry("d", FILE, 1, D)], [], "below file"),  # a directory turned file with children left below
        ([Entry("x", FILE, 1, D), Entry("x", FILE, 1, E)], [], "twice"),
    ],
)
def test_apply_changes_checks_what_changed(changes, removed, message):
    base = validate([Entry("d", DIR), Entry("d/a", FILE, 1, D), Entry("f", FILE, 1, D)])
    with pytest.raises(InvalidArgument, match=message):
        apply_changes(base, changes, removed)


@pytest.mark.parametrize("path", ["plain/a.txt", 'quote"d', "back\\slash", "tab\there", "ünïcödé/ß", "nl\nx", "\x7f"])
def test_each_entrys_canonical_text_is_what_the_json_form_gives(path):
    entries = [Entry(path, FILE, 3, D), Entry("zz", DIR)]
    assert Manifest(sorted(entries)).body() == canonical_manifest(entries)


@pytest.mark.parametrize("many", [False, True], ids=["spliced", "merged"])
def test_a_manifest_described_as_changes_has_the_id_of_the_full_description(many):
    base = validate([Entry("d", DIR)] + [Entry(f"d/f{i:04d}", FILE, i, D) for i in range(600)])
    n = 400 if many else 3
    changes = [Entry(f"d/f{i:04d}", FILE, i, E) for i in range(0, n, 2)] + [Entry("e", FILE, 1, E)]
    removed = [f"d/f{i:04d}" for i in range(1, n, 2)]
    spliced = Manifest(base).changed(changes, removed)
    full = {e.path: e for e in base if e.path not in removed} | {e.path: e for e in changes}
    assert spliced.entries == validate(list(full.values()))
    assert sha256_bytes(spliced.body()) == manifest_id(list(full.values()))
    assert Manifest(base).paths == [e.path for e in base]  # the base is left as it was
