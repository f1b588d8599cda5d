"""Walking a run's folder by the output rules (push rules decide what goes in, not what comes out)."""

from __future__ import annotations

from pathlib import Path

from kiln.sync.walk import PUSH_RULES, output_rules, walk
from tests.treeutil import write


def paths(root: Path, rules=PUSH_RULES, excluded: list[str] | None = None) -> set[str]:  # type: ignore[no-untyped-def]
    return {e.path for e in walk(root, rules, excluded) if not e.is_dir}


def test_outputs_ignore_gitignore_and_kilnignore_but_not_caches(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "out/\n")
    write(tmp_path, ".kilnignore", "plots/\n")
    write(tmp_path, "out/model.bin", "m")
    write(tmp_path, "plots/loss.png", "p")
    write(tmp_path, "__pycache__/a.pyc", "c")
    write(tmp_path, "deep/.ipynb_checkpoints/n.ipynb", "n")
    write(tmp_path, ".git/HEAD", "h")
    assert paths(tmp_path) == {".gitignore", ".kilnignore", "__pycache__/a.pyc", "deep/.ipynb_checkpoints/n.ipynb"}
    excluded: list[str] = []
    assert paths(tmp_path, output_rules(), excluded) == {".gitignore", ".kilnignore", "out/model.bin", "plots/loss.png"}
    assert sorted(excluded) == ["__pycache__", "deep/.ipynb_checkpoints"]  # .git is never walked, nor listed


def test_a_kilnoutputignore_excludes_or_re_includes_at_its_level(tmp_path: Path) -> None:
    write(tmp_path, ".kilnoutputignore", "*.tmp\n!__pycache__/\n")
    write(tmp_path, "sub/.kilnoutputignore", "cache/\n")
    for rel in ("a.tmp", "sub/cache/c", "cache/top", "__pycache__/kept.pyc", "sub/b.txt"):
        write(tmp_path, rel, "x")
    assert paths(tmp_path, output_rules()) == {
        ".kilnoutputignore",
        "sub/.kilnoutputignore",
        "cache/top",
        "__pycache__/kept.pyc",
        "sub/b.txt",
    }


def test_kept_paths_are_walked_whatever_excludes_them(tmp_path: Path) -> None:
    write(tmp_path, ".kilnoutputignore", "scratch/\n*.bin\n")
    for rel in ("scratch/model/w.bin", "scratch/model/sub/x", "scratch/junk", "top.bin", "logged.bin"):
        write(tmp_path, rel, "x")
    excluded: list[str] = []
    found = paths(tmp_path, output_rules(["scratch/model", "logged.bin"]), excluded)
    assert found == {".kilnoutputignore", "scratch/model/w.bin", "scratch/model/sub/x", "logged.bin"}
    assert sorted(excluded) == ["scratch/junk", "top.bin"]
