import pytest

from kiln.core.errors import InvalidArgument
from kiln.core.paths import check_relpath, check_symlink_target


@pytest.mark.parametrize("path", ["a", "a/b.txt", "dir/.hidden", "x..y", "a/b/c/d"])
def test_clean_relative_paths_pass(path):
    assert check_relpath(path) == path


@pytest.mark.parametrize("path", ["", "/abs", "..", "a/../b", "a/./b", "a/", "C:\\x", "a\\b", "a\x00b"])
def test_unsafe_paths_are_refused(path):
    with pytest.raises(InvalidArgument):
        check_relpath(path)


@pytest.mark.parametrize("link, target", [("l", "x"), ("a/l", "../x"), ("a/b/l", "../../x"), ("l", "a/./b")])
def test_links_resolving_inside_the_tree_pass(link, target):
    assert check_symlink_target(link, target) == target


@pytest.mark.parametrize(
    "link, target", [("l", "/etc/passwd"), ("l", ".."), ("a/l", "../../x"), ("l", "a/../../x"), ("l", "")]
)
def test_links_out_of_the_tree_are_refused(link, target):
    with pytest.raises(InvalidArgument):
        check_symlink_target(link, target)
