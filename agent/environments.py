"""Environments on a node: Python ones built by uv from a hash-checked lock, and the node's cache of built
ones (virtual environments, and Docker images by kiln.agent.images), kept by digest under a size cap.

uv does the Python work because it checks every hash and never downloads a Python here
(UV_PYTHON_DOWNLOADS=never): a node runs the versions its admin installed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import stat
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln.agent.images import (
    DESCRIBE_BYTES,
    DESCRIBE_CODE,
    DESCRIBE_TIMEOUT_S,
    IMAGE_ID,
    SDK_FILE,
    description,
    engine_error,
    engine_status,
    image_tag,
    load_image,
)
from kiln.core import limits
from kiln.core.atomic import atomic_write, building, remove_tree
from kiln.core.environments import EnvironmentRef, EnvKind, check_definition
from kiln.core.errors import InvalidArgument
from kiln.core.units import format_size
from kiln.sync.locks import BuildFailed, LogLines, check_lock, check_python, index_args, run_uv, uv_binary

# The workstation's type, so one describes an index on both sides; uv's config and UV_* apply beneath it.
from kiln.sync.locks import IndexSettings as IndexSettings

log = logging.getLogger(__name__)

Log = Callable[[str], None]  # one line of build log at a time

INDEX_BYTES = 16 * limits.MiB
DIGEST = re.compile(r"[0-9a-f]{64}")


def build_python(lock: str, python: str, dest: Path, index: IndexSettings, log: Log) -> None:
    """A virtual environment at `dest` (which must not exist) holding exactly the lock's packages, every
    hash checked. Built aside and renamed into place, so nobody sees a half-built one; relocatable, so
    its entry points still work after that rename."""
    check_python(python)
    check_lock(lock)
    if dest.exists() or dest.is_symlink():
        raise FileExistsError(f"{dest} exists")
    lines = LogLines(log)
    uv = uv_binary()
    with building(dest, tag="partial") as tmp:
        tmp.chmod(0o755)  # made private; jobs run as users of their own and must read (never write) it
        if run_uv([uv, "venv", "--relocatable", "--python", python, str(tmp)], lines) != 0:
            missing = any("No interpreter found" in line for line in lines.tail)
            why = f": Python {python} is not installed on this node (builds never download one)" if missing else ""
            raise lines.failed(f"could not create a Python {python} environment{why}")
        with tempfile.NamedTemporaryFile("w", prefix=f".{dest.name}.lock-", suffix=".txt", dir=dest.parent) as f:
            f.write(lock)
            f.flush()
            cmd = [uv, "pip", "sync", "--require-hashes", "--python", str(tmp / "bin" / "python"), f.name]
            if run_uv(cmd + index_args(index), lines) != 0:
                raise lines.failed(f"could not install the lock's packages into the Python {python} environment")


def describe_python(python_exe: Path) -> dict[str, str]:
    """What kiln.track.describe() would say inside that interpreter (its Python, its packages, sorted),
    found by running the SDK's own file there, so the logic lives in one place."""
    cmd = [str(python_exe), "-I", "-c", DESCRIBE_CODE, str(SDK_FILE)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            rc = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=DESCRIBE_TIMEOUT_S
            ).returncode
        except (OSError, subprocess.TimeoutExpired) as e:
            return {"packages_error": f"could not run {python_exe}: {e}"}
        out.seek(0)
        err.seek(max(0, err.seek(0, os.SEEK_END) - 4096))
        return description(rc, out.read(DESCRIBE_BYTES + 1), err.read())


def folder_size(path: Path) -> int:
    """Bytes of the files under `path`, each inode once, links not followed."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for top, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(top, name))
            if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        remove_tree(path)
    else:
        path.unlink(missing_ok=True)


@dataclass
class _Entry:
    kind: EnvKind
    size: int
    last_used: float


class EnvCache:
    """The node's built environments, by digest under `root`, within `max_bytes`: the least recently used
    go first, never one in use (from python()/docker() until release()). Python environments are folders
    root/<digest>/venv; Docker ones are images in the engine tagged `image_tag(digest)`. A small JSON index
    keeps what is held, its size and last use; venv folders it does not list are taken back on start."""

    def __init__(self, root: Path, max_bytes: int, clock: Callable[[], float] = time.time) -> None:
        if max_bytes < 0:
            raise InvalidArgument("the environment cache's size cap cannot be negative")
        self.root = root
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()  # the index and the in-use counts
        self._digest_locks: dict[str, threading.Lock] = {}  # one build at a time per digest
        self._in_use: Counter[str] = Counter()
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        for leftover in (root / "tmp").iterdir():  # of a fetch or an eviction a crash interrupted
            _remove(leftover)
        self._entries = self._read_index()
        self._reconcile()

    def _read_index(self) -> dict[str, _Entry]:
        try:
            with (self.root / "index.json").open("rb") as f:
                data = json.loads(f.read(INDEX_BYTES + 1))
            found = data["entries"]
            if not isinstance(found, dict):
                raise TypeError("its entries are not a map")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("environment cache index unreadable (%s): starting from its folders", e)
            return {}
        entries = {}
        for digest, item in found.items():
            with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
                if DIGEST.fullmatch(digest) and int(item["size"]) >= 0:
                    entries[digest] = _Entry(EnvKind(item["kind"]), int(item["size"]), float(item["last_used"]))
        return entries

    def _reconcile(self) -> None:
        """The index agrees with the folders: a venv it lacks is taken back (least recent of all, a crash
        came between its rename and the index write), an entry whose venv is gone is dropped."""
        for folder in self.root.iterdir():
            if not DIGEST.fullmatch(folder.name) or not folder.is_dir():
                continue
            for partial in folder.glob(".venv.*"):
                _remove(partial)
            if (folder / "venv").is_dir() and folder.name not in self._entries:
                self._entries[folder.name] = _Entry(EnvKind.PYTHON, folder_size(folder / "venv"), 0.0)
        for digest, e in list(self._entries.items()):
            if e.kind is EnvKind.PYTHON and not (self.root / digest / "venv").is_dir():
                del self._entries[digest]
        self._write_index()

    def _write_index(self) -> None:
        entries = {d: {"kind": str(e.kind), "size": e.size, "last_used": e.last_used} for d, e in self._entries.items()}
        data = json.dumps({"version": 1, "entries": entries}, sort_keys=True).encode()
        atomic_write(self.root / "index.json", data, durable=False)

    def held(self) -> list[str]:
        with self._lock:
            return sorted(self._entries)

    def _acquire(self, ref: EnvironmentRef, kind: EnvKind) -> tuple[str, threading.Lock]:
        """Checks the ref and marks its digest in use (first, so an eviction running now cannot take it)."""
        check_definition(ref.definition)
        if ref.definition.kind is not kind:
            raise InvalidArgument(f"environment {ref.ref} is a {ref.definition.kind} environment, not {kind}")
        if ref.image_id and not IMAGE_ID.fullmatch(ref.image_id):
            raise InvalidArgument(f"invalid image id {limits.preview(ref.image_id)}")
        digest = ref.digest
        with self._lock:
            self._in_use[digest] += 1
            return digest, self._digest_locks.setdefault(digest, threading.Lock())

    def _record(self, digest: str, kind: EnvKind, size: int | None) -> None:
        with self._lock:
            old = self._entries.get(digest)
            kept = size if size is not None else old.size if old is not None else 0
            self._entries[digest] = _Entry(kind, kept, self._clock())
            self._write_index()

    def python(self, ref: EnvironmentRef, index: IndexSettings, log: Log) -> Path:
        """The environment's venv folder, built here first if the node lacks it (callers asking for the same
        digest at once wait for one build). In use until release(digest)."""
        digest, building_lock = self._acquire(ref, EnvKind.PYTHON)
        try:
            with building_lock:
                venv = self.root / digest / "venv"
                built = not venv.is_dir()
                if built:
                    build_python(ref.definition.text, ref.definition.python, venv, index, log)
                with self._lock:
                    known = digest in self._entries
                self._record(digest, EnvKind.PYTHON, folder_size(venv) if built or not known else None)
        except BaseException:
            self.release(digest)
            raise
        self.evict()
        return venv

    def docker(self, ref: EnvironmentRef, client: Any, fetch_image: Callable[[Path], None], log: Log) -> str:
        """The environment's image id on this engine: the one it has (by the ref's image id or the cache
        tag), else the saved image that `fetch_image(empty_folder)` puts in a folder, loaded and checked to be
        the image the ref names. Tagged, so eviction can remove it. In use until release(digest)."""
        digest, building_lock = self._acquire(ref, EnvKind.DOCKER)
        try:
            with building_lock:
                image_id = self._present(client, ref, digest)
                if not image_id:
                    image_id = self._fetch(client, ref, fetch_image, log)
                client.api.tag(image_id, repository=image_tag(digest).rsplit(":", 1)[0], tag="latest", force=True)
                size = client.api.inspect_image(image_id).get("Size")
                self._record(digest, EnvKind.DOCKER, size if isinstance(size, int) and size >= 0 else 0)
        except BaseException:
            self.release(digest)
            raise
        self.evict(client)
        return image_id

    def _present(self, client: Any, ref: EnvironmentRef, digest: str) -> str:
        for name in (ref.image_id, image_tag(digest)):
            if not name:
                continue
            try:
                found = str(client.api.inspect_image(name)["Id"])
            except Exception as e:
                if not engine_error(e) or engine_status(e) != 404:
                    raise
                continue
            if not ref.image_id or found == ref.image_id:  # a stale tag on another image is not it
                return found
        return ""

    def _fetch(self, client: Any, ref: EnvironmentRef, fetch_image: Callable[[Path], None], log: Log) -> str:
        with tempfile.TemporaryDirectory(prefix="image-", dir=self.root / "tmp") as tmp:
            folder = Path(tmp) / "image"
            folder.mkdir()
            fetch_image(folder)
            log(f"loading the image of {ref.ref} ({format_size(folder_size(folder))})")
            started = time.monotonic()
            image_id = load_image(client, folder)
            log(f"loaded {image_id} in {time.monotonic() - started:.1f}s")
        if ref.image_id and image_id != ref.image_id:
            with contextlib.suppress(Exception):
                client.api.remove_image(image_id, force=False, noprune=False)
            raise BuildFailed(f"the image snapshot of {ref.ref} holds {image_id}, not {ref.image_id}")
        return image_id

    def release(self, digest: str) -> None:
        with self._lock:
            if self._in_use[digest] > 0:
                self._in_use[digest] -= 1
            if self._in_use[digest] == 0:
                del self._in_use[digest]
            if digest in self._entries:
                self._entries[digest].last_used = self._clock()  # a long run keeps its environment fresh
                self._write_index()

    def evict(self, client: Any = None) -> list[str]:
        """Removes the least recently used environments not in use until the rest fit `max_bytes` (Docker
        ones only with a client, and not while a container still uses the image); returns their digests.
        A venv is moved into root/tmp under the lock and deleted after it, so nobody waits on the delete."""
        evicted: list[str] = []
        trash: list[Path] = []
        with self._lock:
            total = sum(e.size for e in self._entries.values())
            for digest, e in sorted(self._entries.items(), key=lambda item: (item[1].last_used, item[0])):
                if total <= self.max_bytes:
                    break
                if self._in_use[digest]:
                    continue
                if e.kind is EnvKind.PYTHON:
                    trash.append(Path(tempfile.mkdtemp(prefix="evicted-", dir=self.root / "tmp")))
                    os.rename(self.root / digest, trash[-1] / digest)
                elif client is None or not self._remove_image(client, digest):
                    continue
                del self._entries[digest]
                total -= e.size
                evicted.append(digest)
            if evicted:
                self._write_index()
        for folder in trash:
            remove_tree(folder)
        return evicted

    @staticmethod
    def _remove_image(client: Any, digest: str) -> bool:
        try:
            client.api.remove_image(image_tag(digest), force=False, noprune=False)
        except Exception as e:
            if not engine_error(e):
                raise
            if engine_status(e) == 404:
                return True  # already gone
            log.info("environment image %s kept: %s", image_tag(digest), e)  # 409: a container uses it
            return False
        return True
