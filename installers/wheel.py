"""The Kiln wheel that nodes install: built from this checkout (`pip wheel --no-deps`), so a node runs the
very code the workstation runs, or a wheel given with --wheel where there is no checkout.

The build runs on a copy of the source in a temp folder, so it neither writes build/ or *.egg-info into
the checkout (which other people may be working in) nor picks up stale files from an old build/ there.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import kiln
from kiln.core.errors import FailedPrecondition, InvalidArgument

SKIP = {
    ".git",
    ".venv",
    "build",
    "dist",
    "tests",
    "bench",
    "screenshots",
    "node_modules",
    "__pycache__",
}


def checkout() -> Path | None:
    """The source checkout this Kiln runs from, if it runs from one (an editable install)."""
    root = Path(kiln.__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "kiln"' in pyproject.read_text():
        return root
    return None


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in SKIP or n.startswith(".") or n.endswith((".egg-info", ".pyc"))}


def build_wheel(dest: Path, source: Path | None = None) -> Path:
    """Builds the kiln wheel into `dest`; returns its path."""
    source = source or checkout()
    if source is None:
        raise FailedPrecondition(
            "this Kiln is not installed from a source checkout, so no wheel can be built here: "
            "pass one with --wheel FILE (e.g. from pip download kiln --no-deps)"
        )
    tree = dest / "src"
    shutil.copytree(source, tree, ignore=_ignore, symlinks=True)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(dest)]
    if importlib.util.find_spec("setuptools") is not None:
        command.append("--no-build-isolation")  # no download of build tools when they are here already
    done = subprocess.run([*command, str(tree)], capture_output=True, text=True)
    shutil.rmtree(tree, ignore_errors=True)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise FailedPrecondition(f"building the Kiln wheel from {source} failed: {tail}")
    wheels = sorted(dest.glob("kiln-*.whl"))
    if not wheels:
        raise FailedPrecondition(f"pip built no Kiln wheel from {source}")
    return wheels[-1]


def check_wheel(path: Path) -> Path:
    """A wheel given with --wheel: it must exist and be a kiln wheel."""
    if not path.is_file() or not path.name.startswith("kiln-") or path.suffix != ".whl":
        raise InvalidArgument(f"{path} is not a Kiln wheel file (kiln-VERSION-….whl)")
    return path
