"""Docker images of environments: built with the engine from a Dockerfile and its context, saved into a
folder (each member of `docker save` a file, so the coordinator's content-addressed store keeps a layer two
images share once) and loaded back from one into an engine that never had it, and described the way
kiln.track describes a run's Python. The engine is reached through the client
`kiln.agent.runtimes.docker.connect()` gives, so this module never imports docker; what comes from outside
(the engine's stream, a saved image's tar) is bounded in memory and checked.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import posixpath
import re
import stat
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from kiln.core import limits
from kiln.core.environments import DEFINITION
from kiln.core.errors import InvalidArgument
from kiln.core.units import format_size
from kiln.sync.locks import BuildFailed, LogLines

# The workstation's type, so one describes an index on both sides; uv's config and UV_* apply beneath it.
from kiln.sync.locks import IndexSettings as IndexSettings
from kiln.track import _environment as sdk_environment

log = logging.getLogger(__name__)

Log = Callable[[str], None]  # one line of build log at a time

SDK_FILE = Path(sdk_environment.__file__)  # run by path inside environments that do not have kiln
# Runs the SDK's describe() in the environment's own interpreter; -I keeps the caller's folder and PYTHON*
# variables out of what it sees.
DESCRIBE_CODE = "import json,runpy,sys;print(json.dumps(runpy.run_path(sys.argv[1])['describe']()))"
DESCRIBE_TIMEOUT_S = 60
DESCRIBER_LABEL = "kiln.describe"  # on the containers that describe an image; its value names the node
DESCRIBE_BYTES = 1 * limits.MiB  # more than limits.ENVIRONMENT lets a description hold
CHUNK = 1 * limits.MiB
IMAGE_TAG_PREFIX = "kiln-env/"
DIGEST = re.compile(r"[0-9a-f]{64}")
IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")
IMAGE_TAG = re.compile(r"[a-z0-9][a-z0-9._/-]{0,200}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?")  # what builds tag
IMAGE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*")  # any image a run names: host:port/name:tag@sha256:…
NO_PYTHON3 = "the image has no python3"


def description(rc: int, out: bytes, err: bytes) -> dict[str, str]:
    """The checked map a describing interpreter printed, or {"packages_error": why}."""
    if rc != 0:
        tail = " / ".join(err.decode("utf-8", "replace").strip().splitlines()[-3:])
        return {"packages_error": limits.cut(f"describing the environment failed (exit {rc}): {tail}", 4096)}
    try:
        if len(out) > DESCRIBE_BYTES:
            raise ValueError(f"it printed over {format_size(DESCRIBE_BYTES)}")
        found = json.loads(out.decode("utf-8"))
        if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
            raise ValueError("it did not print a map of text")
        limits.ENVIRONMENT.check(found)
    except (ValueError, InvalidArgument) as e:
        return {"packages_error": f"the environment's description is unusable: {e}"}
    return found


def engine_error(e: Exception) -> bool:
    """Whether `e` came from the engine or its connection (docker's, requests' and urllib3's errors), which
    this module turns into its own; anything else is a bug and goes on as it is."""
    return type(e).__module__.split(".")[0] in {"docker", "requests", "urllib3"}


def engine_status(e: Exception) -> int | None:
    code = getattr(e, "status_code", None)
    return code if isinstance(code, int) else None


def build_image(client: Any, context: Path, dockerfile: str, tag: str, log: Log) -> str:
    """Builds the Dockerfile text over the folder `context` without a network (the nodes' engines have no
    bridge, and a build that downloads is not reproducible); returns the image id. The Dockerfile is handed
    over from outside the context, so the SDK adds it under a name of its own that no context file can
    clash with, and the context folder is left as it is."""
    DEFINITION.text(dockerfile, field="Dockerfile")
    if not IMAGE_TAG.fullmatch(tag):
        raise InvalidArgument(f"invalid image tag {limits.preview(tag)}")
    if not context.is_dir():
        raise InvalidArgument(f"the build context {context} is not a folder")
    lines = LogLines(log)
    image_id = ""
    with tempfile.TemporaryDirectory(prefix="kiln-dockerfile-") as tmp:
        path = Path(tmp) / "Dockerfile"
        path.write_text(dockerfile, encoding="utf-8")
        try:
            stream = client.api.build(
                path=str(context), dockerfile=str(path), tag=tag, rm=True, forcerm=True,
                network_mode="none", pull=False, decode=True,
            )  # fmt: skip
            for chunk in stream:
                if not isinstance(chunk, dict):
                    continue
                if isinstance(chunk.get("stream"), str):
                    lines.feed(chunk["stream"])
                detail = chunk.get("errorDetail")
                error = chunk.get("error") or (detail.get("message") if isinstance(detail, dict) else None)
                if error:
                    lines.feed("\n" + str(error) + "\n")
                    raise lines.failed("the image build failed")
                aux = chunk.get("aux")
                if isinstance(aux, dict) and IMAGE_ID.fullmatch(str(aux.get("ID", ""))):
                    image_id = aux["ID"]
            lines.close()
            found = image_id or client.api.inspect_image(tag)["Id"]
        except BuildFailed:
            raise
        except Exception as e:
            if not engine_error(e):
                raise
            raise lines.failed(f"the image build failed: {e}") from e
    if not IMAGE_ID.fullmatch(str(found)):
        raise BuildFailed(f"the engine reported an invalid image id {limits.preview(str(found))}")
    return str(found)


class _ChunkReader(io.RawIOBase):
    """A file over an iterator of byte chunks, for tarfile's stream mode: nothing is held but one chunk."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._chunk = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._chunk:
            nxt = next(self._chunks, None)
            if nxt is None:
                return 0
            self._chunk = memoryview(nxt)
        n = min(len(b), len(self._chunk))
        b[:n] = self._chunk[:n]
        self._chunk = self._chunk[n:]
        return n


def _member_path(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or not parts or ".." in parts or "\0" in name:
        raise InvalidArgument(f"the saved image holds the unsafe path {limits.preview(name)}")
    return limits.PATH.check("/".join(parts))


def _new_path(dest: Path, rel: str) -> Path:
    """dest/rel, its parents made as plain folders: a member under a symlink or a file is refused, so
    nothing is ever written outside dest, whatever links earlier members made."""
    here = dest
    for part in rel.split("/")[:-1]:
        here = here / part
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            os.mkdir(here, 0o755)
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(f"the saved image holds {limits.preview(rel)} under something not a folder")
    return here / rel.rsplit("/", 1)[-1]


def extract_tar(chunks: Iterable[bytes], dest: Path) -> int:
    """Unpacks a tar stream into the empty folder `dest`: only plain files, folders and symlinks, never an
    absolute path or `..`, nothing written through a link, and every link still inside `dest` once all
    are made (a later link can move where an earlier one leads); returns the bytes of the files."""
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise InvalidArgument(f"{dest} is not empty")
    total = 0
    links: list[Path] = []
    try:
        with tarfile.open(fileobj=_ChunkReader(chunks), mode="r|") as tar:
            for member in tar:
                rel = _member_path(member.name)
                target = _new_path(dest, rel)
                if member.isdir():
                    if not target.is_dir() or target.is_symlink():
                        os.mkdir(target, 0o755)
                elif member.isreg():
                    source = tar.extractfile(member)
                    assert source is not None
                    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                    with source, open(os.open(target, flags, 0o644), "wb") as f:
                        while block := source.read(CHUNK):
                            f.write(block)
                    total += member.size
                elif member.issym():
                    text = member.linkname
                    lexical = posixpath.normpath(posixpath.join(posixpath.dirname(rel), text))
                    if not text or text.startswith("/") or "\0" in text or lexical.split("/")[0] == "..":
                        raise InvalidArgument(f"the saved image's link {limits.preview(rel)} points outside it")
                    os.symlink(text, target)
                    links.append(target)
                else:
                    raise InvalidArgument(f"the saved image holds {limits.preview(rel)}, not a file, folder or link")
    except (tarfile.TarError, FileExistsError) as e:
        raise InvalidArgument(f"the saved image is not a usable tar: {e}") from e
    inside = os.path.realpath(dest)
    for link in links:
        leads = os.path.realpath(link)
        if leads != inside and not leads.startswith(inside + os.sep):
            raise InvalidArgument(f"the saved image's link {limits.preview(link.name)} points outside it")
    return total


def save_image(client: Any, image_id: str, dest: Path) -> int:
    """`docker save` of the image, unpacked into the empty folder `dest` rather than kept as one tar, so its
    members can be pushed as a content-addressed snapshot (layers that images share are then stored once);
    returns the bytes saved."""
    if not IMAGE_ID.fullmatch(image_id):
        raise InvalidArgument(f"invalid image id {limits.preview(image_id)}")
    try:
        return extract_tar(client.api.get_image(image_id, chunk_size=CHUNK), dest)
    except Exception as e:
        if not engine_error(e):
            raise
        raise BuildFailed(f"could not save the image {image_id}: {e}") from e


def tar_stream(folder: Path) -> Iterator[bytes]:
    """The folder as a tar, made while it is read (a few blocks in memory, never the whole): members in
    sorted order with fixed owners and times, so the same folder always gives the same bytes."""
    members = []
    for top, dirs, files in os.walk(folder):
        members += [os.path.relpath(os.path.join(top, n), folder) for n in (*dirs, *files)]
    written = 0
    for rel in sorted(members):
        path = folder / rel
        st = os.lstat(path)
        info = tarfile.TarInfo(rel)
        if stat.S_ISDIR(st.st_mode):
            info.type, info.mode = tarfile.DIRTYPE, 0o755
        elif stat.S_ISLNK(st.st_mode):
            info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, os.readlink(path)
        elif stat.S_ISREG(st.st_mode):
            info.size, info.mode = st.st_size, 0o644
        else:
            raise InvalidArgument(f"{path} is not a file, folder or link")
        header = info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")
        yield header
        written += len(header)
        if info.isreg():
            sent = 0
            with open(path, "rb") as f:
                while sent < info.size and (block := f.read(min(CHUNK, info.size - sent))):
                    sent += len(block)
                    yield block
            if sent != info.size:
                raise InvalidArgument(f"{path} changed while it was read")
            yield b"\0" * (-sent % tarfile.BLOCKSIZE)
            written += sent + (-sent % tarfile.BLOCKSIZE)
    end = 2 * tarfile.BLOCKSIZE
    yield b"\0" * (end + (-(written + end) % tarfile.RECORDSIZE))


def load_image(client: Any, folder: Path) -> str:
    """Loads a folder `save_image` made (or one materialised from its snapshot) into the engine, streamed
    as a tar; returns the image id."""
    if not (folder / "manifest.json").is_file() and not (folder / "index.json").is_file():
        raise InvalidArgument(f"{folder} holds no saved image (no manifest.json or index.json)")
    lines = LogLines(None)
    loaded = ""
    try:
        for chunk in client.api.load_image(tar_stream(folder)):
            if not isinstance(chunk, dict):
                continue
            if chunk.get("error"):
                lines.feed(str(chunk["error"]) + "\n")
                raise lines.failed("the engine could not load the image")
            text = chunk.get("stream")
            if isinstance(text, str):
                lines.feed(text)
                kind, _, value = text.strip().partition(": ")
                if kind in ("Loaded image ID", "Loaded image") and value and not loaded.startswith("sha256:"):
                    loaded = value
        if loaded and not IMAGE_ID.fullmatch(loaded):
            loaded = client.api.inspect_image(loaded)["Id"]
    except BuildFailed:
        raise
    except Exception as e:
        if not engine_error(e):
            raise
        raise lines.failed(f"the engine could not load the image: {e}") from e
    if not IMAGE_ID.fullmatch(str(loaded)):
        raise lines.failed("the engine loaded no image")
    return str(loaded)


def describe_image(client: Any, image_id: str, sdk_file: Path, owner: str) -> dict[str, str]:
    """What kiln.track.describe() would say inside the image: its python3 runs the SDK's file, bound in
    read-only, in a container without a network. The container is removed here after its output is read
    (the engine's auto-remove could take the log with it), and only so much of that output is read; it is
    labelled with its `owner` (the node), whose agent removes any left behind when it starts again."""
    if not IMAGE_REF.fullmatch(limits.IMAGE.check(image_id)):
        raise InvalidArgument(f"invalid image {limits.preview(image_id)}")
    target = "/kiln-describe/_environment.py"
    container = None
    try:
        container = client.containers.create(
            image_id, command=["-I", "-c", DESCRIBE_CODE, target], entrypoint=["python3"], network_mode="none",
            volumes=[f"{sdk_file}:{target}:ro"], labels={DESCRIBER_LABEL: owner},
            log_config={"type": "json-file", "config": {"max-size": "8m"}},
        )  # fmt: skip
        container.start()
        rc = container.wait(timeout=DESCRIBE_TIMEOUT_S).get("StatusCode", -1)
        out = bytearray()
        for block in container.logs(stdout=True, stderr=False, stream=True, follow=False):
            out += block
            if len(out) > DESCRIBE_BYTES:
                break
        err = container.logs(stdout=False, stderr=True, tail=5)
    except Exception as e:
        if not engine_error(e):
            raise
        if "executable file not found" in str(e) and "python3" in str(e):
            return {"packages_error": NO_PYTHON3}
        return {"packages_error": limits.cut(f"could not run the image: {e}", 4096)}
    finally:
        if container is not None:
            with contextlib.suppress(Exception):
                container.remove(force=True)
    return description(rc if isinstance(rc, int) else -1, bytes(out), err if isinstance(err, bytes) else b"")


def remove_describers(client: Any, owner: str) -> int:
    """Removes the describing containers `owner` left behind (its agent was killed while one ran); returns
    how many there were."""
    found = client.api.containers(all=True, filters={"label": f"{DESCRIBER_LABEL}={owner}"})
    for c in found:
        with contextlib.suppress(Exception):
            client.api.remove_container(c["Id"], force=True)
    return len(found)


def image_tag(digest: str) -> str:
    """The tag the cache knows a Docker environment's image by on this node's engine."""
    return f"{IMAGE_TAG_PREFIX}{digest[:12]}:latest"
