"""Building and comparing folder trees in tests."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def write(root: Path, rel: str, data: bytes | str = b"", mode: int = 0o644) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)
    return path


def age(root: Path, seconds: float = 3600) -> None:
    """Backdates every mtime, as for files that were not touched recently."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)), follow_symlinks=False)


def tree(root: Path) -> dict[str, tuple]:
    """path -> (kind, permission bits, content or link target), for exact comparison."""
    found: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("symlink", None, os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", stat.S_IMODE(st.st_mode), None)
            else:
                found[rel] = ("file", stat.S_IMODE(st.st_mode), p.read_bytes())
    return found


def sample_project(root: Path) -> Path:
    write(root, "train.py", "print('train')\n", 0o755)
    write(root, "data/small.csv", "a,b\n1,2\n")
    write(root, "data/nested/deep.bin", os.urandom(70_000), 0o600)
    write(root, "data/dup1.txt", "same")
    write(root, "data/dup2.txt", "same")
    (root / "empty").mkdir(mode=0o750)
    (root / "empty").chmod(0o750)
    os.symlink("data/small.csv", root / "link-to-csv")
    os.symlink("../train.py", root / "data" / "up-link")
    write(root, ".gitignore", "*.log\nbuild/\n")
    write(root, ".kilnignore", "secrets.txt\n!keep.log\n")
    write(root, "run.log", "ignored")
    write(root, "keep.log", "kept: .kilnignore re-includes it")
    write(root, "build/out.o", "ignored")
    write(root, "secrets.txt", "ignored")
    write(root, ".git/HEAD", "ref: refs/heads/main")
    return root
