"""Environments built on a node: real uv over wheels made here (never the internet), a real Docker engine,
and a second engine that never had the image, which loads it from the saved folder."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.agent.environments import EnvCache, build_python, describe_python, folder_size
from kiln.agent.images import (
    NO_PYTHON3,
    SDK_FILE,
    build_image,
    describe_image,
    extract_tar,
    image_tag,
    load_image,
    remove_describers,
    save_image,
)
from kiln.core.environments import Definition, EnvironmentRef, EnvKind
from kiln.core.errors import InvalidArgument
from kiln.sync.locks import BuildFailed, IndexSettings, check_lock, index_args, resolve_lock
from tests.conftest import need
from tests.dockerd import second_engine_running
from tests.wheels import build_wheel

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
BUSYBOX = "kiln-test/busybox:1"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    build_wheel(folder, "kilntiny", "1.0", body="VALUE = 42\n")
    hello = "from kilntiny import VALUE\n\ndef main():\n    print('hello', VALUE)\n"
    build_wheel(folder, "kilnhello", "1.0", ("kilntiny",), body=hello, script="kilnhello = kilnhello:main")
    return folder


@pytest.fixture(scope="module")
def index(wheels: Path) -> IndexSettings:
    return IndexSettings(find_links=(str(wheels),), no_index=True)


@pytest.fixture(scope="module")
def lock(wheels: Path, index: IndexSettings, tmp_path_factory: pytest.TempPathFactory) -> str:
    requirements = tmp_path_factory.mktemp("project") / "requirements.txt"
    requirements.write_text("kilnhello\n")
    return resolve_lock(requirements, PY, index)


def python_ref(lock: str, variant: str = "") -> EnvironmentRef:
    """Another digest for the same packages: a comment changes the definition, not what is installed."""
    return EnvironmentRef("env", 1, Definition(EnvKind.PYTHON, lock + variant, PY))


# --- Python environments ---------------------------------------------------------------------------------


def test_index_settings_become_uv_arguments_and_refuse_options() -> None:
    settings = IndexSettings("https://pypi.example/simple", ("/srv/wheels", "https://w.example/"), True)
    assert index_args(settings) == [
        "--index-url", "https://pypi.example/simple",
        "--find-links", "/srv/wheels", "--find-links", "https://w.example/", "--no-index",
    ]  # fmt: skip
    assert index_args(IndexSettings()) == []
    for bad in ("--no-verify", "https://a\nb"):
        with pytest.raises(InvalidArgument):
            index_args(IndexSettings(index_url=bad))
        with pytest.raises(InvalidArgument):
            resolve_lock(Path(__file__), PY, IndexSettings(find_links=(bad,)))


def test_resolve_pins_every_package_with_its_hash(lock: str, wheels: Path) -> None:
    for name in ("kilnhello", "kilntiny"):
        digest = hashlib.sha256((wheels / f"{name}-1.0-py3-none-any.whl").read_bytes()).hexdigest()
        assert f"{name}==1.0" in lock
        assert f"--hash=sha256:{digest}" in lock
    assert "# via -r requirements.txt" in lock  # the file's name, not where it lay
    assert check_lock(lock) == lock


def test_resolving_a_missing_requirement_says_what_and_why(tmp_path: Path, index: IndexSettings) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("kilnnope\n")
    with pytest.raises(InvalidArgument) as e:  # the person's requirements: they fix them
        resolve_lock(requirements, PY, index)
    assert str(e.value).startswith(f"could not resolve requirements.txt for Python {PY}:")
    assert "kilnnope" in str(e.value)
    requirements.write_text("# nothing\n")
    with pytest.raises(InvalidArgument, match="names no packages"):
        resolve_lock(requirements, PY, index)


def test_a_pyproject_resolves_too(tmp_path: Path, index: IndexSettings) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mine"\nversion = "0"\ndependencies = ["kilntiny"]\n')
    assert "kilntiny==1.0" in resolve_lock(tmp_path / "pyproject.toml", PY, index)


def test_a_lock_with_options_is_refused() -> None:
    for bad in ("-r /etc/passwd\n", "kilntiny==1.0 --index-url http://x\n", "-e .\n"):
        with pytest.raises(InvalidArgument):
            check_lock(bad)


def test_build_installs_the_lock_and_describes_it(lock: str, index: IndexSettings, tmp_path: Path) -> None:
    dest = tmp_path / "envs" / "venv"
    lines: list[str] = []
    started = time.monotonic()
    build_python(lock, PY, dest, index, lines.append)
    print(f"venv build with uv: {time.monotonic() - started:.2f}s")
    assert any(line.startswith("$ uv venv") for line in lines) and any("kilntiny==1.0" in line for line in lines)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["venv"]  # nothing left beside it
    python = dest / "bin" / "python"
    out = subprocess.run([python, "-c", "import kilnhello; kilnhello.main()"], capture_output=True, text=True)
    assert out.stdout == "hello 42\n", out.stderr
    # Built aside and renamed: its entry points still work where it ended up.
    assert subprocess.run([dest / "bin" / "kilnhello"], capture_output=True, text=True).stdout == "hello 42\n"
    described = describe_python(python)
    assert described["packages"] == "kilnhello==1.0\nkilntiny==1.0"
    assert described["python"] == platform.python_version()
    assert described["executable"] == str(python)
    assert "packages_error" not in described


def test_a_wrong_hash_fails_the_build_and_leaves_nothing(lock: str, index: IndexSettings, tmp_path: Path) -> None:
    good = hashlib.sha256((Path(index.find_links[0]) / "kilntiny-1.0-py3-none-any.whl").read_bytes()).hexdigest()
    dest = tmp_path / "venv"
    with pytest.raises(BuildFailed) as e:
        build_python(lock.replace(good, "0" * 64), PY, dest, index, lambda _: None)
    assert "could not install the lock's packages" in str(e.value)
    assert "Hash mismatch" in str(e.value)
    assert len(str(e.value).splitlines()) <= 21
    assert list(tmp_path.iterdir()) == []


def test_a_python_the_node_lacks_is_named(lock: str, index: IndexSettings, tmp_path: Path) -> None:
    with pytest.raises(BuildFailed) as e:
        build_python(lock, "3.99", tmp_path / "venv", index, lambda _: None)
    assert "Python 3.99 is not installed on this node" in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_describing_a_missing_interpreter_is_an_error_entry(tmp_path: Path) -> None:
    assert "packages_error" in describe_python(tmp_path / "no-python")


# --- the cache -------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def test_cache_evicts_the_least_recently_used_and_never_one_in_use(
    lock: str, index: IndexSettings, tmp_path: Path
) -> None:
    clock = Clock()
    root = tmp_path / "cache"
    cache = EnvCache(root, max_bytes=10**12, clock=clock)
    a, b, c = (python_ref(lock, f"# {v}\n") for v in "abc")
    for ref in (a, b, c):
        cache.python(ref, index, lambda _: None)
        cache.release(ref.digest)
    cache.python(a, index, lambda _: None)  # a is now the most recent
    cache.release(a.digest)
    assert cache.held() == sorted(r.digest for r in (a, b, c))
    size = {r.digest: folder_size(root / r.digest / "venv") for r in (a, b, c)}

    # The index survives: a cache on the same folder with a smaller cap drops b, the least recent.
    cache = EnvCache(root, max_bytes=size[a.digest] + size[c.digest] + size[b.digest] // 2, clock=clock)
    assert cache.evict() == [b.digest]
    assert cache.held() == sorted([a.digest, c.digest]) and not (root / b.digest).exists()

    venv = cache.python(c, index, lambda _: None)  # in use
    cache.max_bytes = 1
    assert cache.evict() == [a.digest]
    assert (venv / "bin" / "python").exists() and cache.held() == [c.digest]
    cache.release(c.digest)
    assert cache.evict() == [c.digest]
    assert cache.held() == [] and sorted(p.name for p in root.iterdir()) == ["index.json", "tmp"]


def test_concurrent_callers_build_once(lock: str, index: IndexSettings, tmp_path: Path) -> None:
    cache = EnvCache(tmp_path / "cache", max_bytes=10**12)
    ref = python_ref(lock)
    lines: list[str] = []
    barrier = threading.Barrier(4)
    got: list[Path] = []

    def use() -> None:
        barrier.wait()
        got.append(cache.python(ref, index, lines.append))

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and len(set(got)) == 1
    assert sum(line.startswith("$ uv venv") for line in lines) == 1
    for _ in range(4):
        cache.release(ref.digest)
    cache.max_bytes = 0
    assert cache.evict() == [ref.digest]


def test_cache_takes_back_a_venv_its_index_lost(lock: str, index: IndexSettings, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    ref = python_ref(lock)
    EnvCache(root, max_bytes=10**12).python(ref, index, lambda _: None)
    (root / "index.json").write_text("{not json")
    assert EnvCache(root, max_bytes=10**12).held() == [ref.digest]


# --- saved image folders ---------------------------------------------------------------------------------


def tar_of(*members: tuple[tarfile.TarInfo, bytes]) -> list[bytes]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return [buf.getvalue()]


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize(
    "members",
    [
        [(member("/etc/x"), b"x")],
        [(member("a/../../x"), b"x")],
        [(member("link", tarfile.SYMTYPE, "../outside"), b"")],
        [(member("link", tarfile.SYMTYPE, "/etc"), b"")],
        [(member("link", tarfile.SYMTYPE, "."), b""), (member("link/x"), b"x")],
        # Each link stays inside by its text, but once y exists, z leads out.
        [(member("a/b/z", tarfile.SYMTYPE, "y/../../.."), b""), (member("a/b/y", tarfile.SYMTYPE, ".."), b"")],
        [(member("hard", tarfile.LNKTYPE, "a"), b"")],
        [(member("dev", tarfile.CHRTYPE), b"")],
        [(member("a"), b"1"), (member("a"), b"2")],
    ],
)
def test_extracting_refuses_what_could_escape_or_is_not_a_plain_member(
    members: list[tuple[tarfile.TarInfo, bytes]], tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    with pytest.raises(InvalidArgument):
        extract_tar(tar_of(*members), dest)
    assert not (tmp_path / "x").exists() and not (tmp_path / "outside").exists()


def test_extracting_keeps_files_folders_and_inner_links(tmp_path: Path) -> None:
    chunks = tar_of(
        (member("l1", tarfile.DIRTYPE), b""),
        (member("l1/layer.tar"), b"layer"),
        (member("l2/layer.tar", tarfile.SYMTYPE, "../l1/layer.tar"), b""),
        (member("manifest.json"), b"[]"),
    )
    dest = tmp_path / "dest"
    # One byte at a time: the reader must cope with any chunking of the stream.
    assert extract_tar([bytes([b]) for b in b"".join(chunks)], dest) == 7
    assert (dest / "l2" / "layer.tar").read_bytes() == b"layer" and (dest / "l2" / "layer.tar").is_symlink()


# --- Docker ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    from kiln.agent.runtimes.base import RuntimeUnavailable
    from kiln.agent.runtimes.docker import API_TIMEOUT_S, connect

    try:
        client = connect(API_TIMEOUT_S)
    except RuntimeUnavailable as e:
        need(False, f"a Docker engine ({e}); run scripts/setup-test-host")
    need(bool(client.images.list(name=BUSYBOX)), f"the image {BUSYBOX} (scripts/setup-test-host builds it)")
    yield client
    client.close()


@pytest.fixture(scope="module")
def built(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An image with a RUN step (no network needed) and a file from its context, and a fake python3 that
    answers as describe() would once it can read the SDK file bound into the container."""
    context = tmp_path_factory.mktemp("context")
    (context / "hello.txt").write_text("hello from the context\n")
    (context / "python3").write_text(
        '#!/bin/sh\ntest -r "$4" && echo \'{"python": "3.11.2", "packages": "kilntiny==1.0"}\'\n'
    )
    (context / "python3").chmod(0o755)
    dockerfile = f"FROM {BUSYBOX}\nRUN echo built > /built.txt\nCOPY hello.txt /hello.txt\nCOPY python3 /bin/python3\n"
    tag = f"kiln-test/env-build:{os.getpid()}"
    lines: list[str] = []
    started = time.monotonic()
    image_id = build_image(engine, context, dockerfile, tag, lines.append)
    print(f"image build: {time.monotonic() - started:.2f}s")
    assert any("RUN echo built" in line for line in lines)
    assert sorted(p.name for p in context.iterdir()) == ["hello.txt", "python3"]  # the context is untouched
    yield image_id
    engine.api.remove_image(tag, force=True)


def run_in(client: Any, image: str, *command: str) -> str:
    out = client.containers.run(image, list(command), network_mode="none", remove=True)
    return out.decode() if isinstance(out, bytes) else str(out)


def test_built_image_ran_its_steps(engine: Any, built: str) -> None:
    assert built.startswith("sha256:")
    assert run_in(engine, built, "cat", "/built.txt", "/hello.txt") == "built\nhello from the context\n"


def test_a_failing_dockerfile_raises_with_its_log(engine: Any, tmp_path: Path) -> None:
    with pytest.raises(BuildFailed) as e:
        build_image(engine, tmp_path, f"FROM {BUSYBOX}\nRUN echo about to fail && false\n", "kiln-test/fails:1", print)
    assert "the image build failed" in str(e.value)
    assert "about to fail" in str(e.value)


def test_describe_image_runs_its_python3_with_the_sdk_bound(engine: Any, built: str) -> None:
    owner = f"node-{uuid.uuid4().hex[:8]}"
    assert describe_image(engine, built, SDK_FILE, owner) == {"python": "3.11.2", "packages": "kilntiny==1.0"}
    assert describe_image(engine, BUSYBOX, SDK_FILE, owner) == {"packages_error": NO_PYTHON3}
    assert not engine.containers.list(all=True, filters={"label": f"kiln.describe={owner}"})


def test_describing_containers_an_agent_left_are_removed_and_only_its_own(engine: Any) -> None:
    mine, other = (f"node-{uuid.uuid4().hex[:8]}" for _ in range(2))
    left = [engine.containers.create(BUSYBOX, ["true"], labels={"kiln.describe": n}) for n in (mine, mine, other)]
    try:
        assert remove_describers(engine, mine) == 2
        assert [c.id for c in engine.containers.list(all=True, filters={"label": "kiln.describe"})] == [left[2].id]
        assert remove_describers(engine, mine) == 0
    finally:
        for c in left:
            with contextlib.suppress(Exception):
                c.remove(force=True)


@pytest.fixture(scope="module")
def saved(engine: Any, built: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("saved") / "image"
    started = time.monotonic()
    size = save_image(engine, built, folder)
    print(f"image save: {time.monotonic() - started:.2f}s, {size} bytes")
    assert (folder / "manifest.json").is_file() and size == folder_size(folder)
    return folder


@pytest.fixture(scope="module")
def second_engine() -> Iterator[Any]:
    """A second, independent engine on this machine: a node that never had the image."""
    with second_engine_running() as engine:
        yield engine.client


def test_a_saved_image_loads_into_an_engine_that_never_had_it(
    saved: Path, built: str, second_engine: Any, tmp_path: Path
) -> None:
    assert not second_engine.images.list()
    ref = EnvironmentRef(
        "img", 1, Definition(EnvKind.DOCKER, f"FROM {BUSYBOX}\n", context=""), image_id=built, image_snapshot="s"
    )
    cache = EnvCache(tmp_path / "cache", max_bytes=10**12)
    lines: list[str] = []
    started = time.monotonic()
    image_id = cache.docker(
        ref, second_engine, lambda folder: shutil.copytree(saved, folder, dirs_exist_ok=True), lines.append
    )
    print(f"image load into the second engine: {time.monotonic() - started:.2f}s")
    assert image_id == built
    assert run_in(second_engine, image_id, "cat", "/hello.txt") == "hello from the context\n"
    assert second_engine.images.get(image_tag(ref.digest)).id == built
    assert cache.held() == [ref.digest]
    # Present now: no fetch the second time.
    assert cache.docker(ref, second_engine, lambda _: pytest.fail("fetched again"), lines.append) == built
    cache.release(ref.digest)
    assert cache.evict(second_engine) == []  # still in use once
    cache.release(ref.digest)
    cache.max_bytes = 0
    assert cache.evict(second_engine) == [ref.digest]
    assert not second_engine.images.list()


def test_load_image_refuses_a_folder_without_an_image(engine: Any, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        load_image(engine, tmp_path)
