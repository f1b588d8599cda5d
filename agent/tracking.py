"""The agent's end of the in-run tracking SDK (`kiln.track`): a Unix socket server that takes the SDK's
newline-delimited JSON batches (the format is documented in kiln/track/__init__.py), hands each new batch
to `on_batch` (which makes it durable) and only then acknowledges it. A batch sent again after a dropped
connection is recognised by (pid, proc, seq) and acknowledged without being delivered twice. It also
answers the SDK's questions (a line with "ask" instead of "seq"), which `on_question` decides.

Also here: the SDK's folder for runs (`prepare_sdk`), which holds `kiln/__init__.py`, `kiln/track/` and
`kiln/serve/` (the model replica and batch scorer, run in a model's own environment) and nothing else of
kiln, so a run sees only the stdlib-only SDK.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import select
import socket
import stat
import struct
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import kiln
from kiln.core.atomic import building
from kiln.core.errors import InvalidArgument
from kiln.core.paths import check_relpath

log = logging.getLogger("kiln.agent.tracking")

# The longest line (one batch) accepted; the SDK keeps its batches far below it.
MAX_LINE_BYTES = 64 * 1024 * 1024
# What a Unix socket address can hold (sun_path is 108 bytes on Linux, NUL included).
MAX_SOCKET_PATH_BYTES = 107
JOIN_TIMEOUT_S = 30.0
# The questions an SDK may ask, with the string fields each must carry.
QUESTIONS = {"dataset": ("name",)}

# (pid, proc): a sending process. pid is the SDK's own "pid" field (its view of os.getpid(), so inside a
# container it is the container's pid), or SO_PEERCRED's pid for a client that sends none; proc is the
# SDK's random per-process token, which keeps a reused pid from being mistaken for its predecessor.
Sender = tuple[int, str]


class BadBatch(ValueError):
    """A line that is not a well-formed batch; the message says what is wrong."""


class TrackingServer:
    """Serves one Unix socket; `on_batch` is called for each new batch, one call at a time (never
    concurrently, even across connections), and the batch is acknowledged once it returns. If it
    raises, the batch is answered with an error and its connection closed, so the SDK sends it again.
    `on_question` answers a question (any number at once, beside the batches) with the fields to send
    back: {} for yes, {"error": why} for no, {"unchecked": why} when it cannot tell; without it every
    question is answered yes (nothing to check against).

    `delivered` restores what an earlier server on the same run delivered ((pid, proc) -> highest seq),
    so batches it stored but could not acknowledge before it stopped are not delivered twice; the
    current state is `self.delivered()` (each delivered batch also carries its pid, proc and seq)."""

    def __init__(
        self,
        socket_path: Path,
        on_batch: Callable[[dict[str, Any]], None],
        *,
        delivered: Mapping[Sender, int] | None = None,
        max_line: int = MAX_LINE_BYTES,
        on_question: Callable[[dict[str, Any]], dict[str, str]] | None = None,
    ) -> None:
        if len(os.fsencode(socket_path)) > MAX_SOCKET_PATH_BYTES:
            raise ValueError(
                f"socket path {str(socket_path)!r} is longer than {MAX_SOCKET_PATH_BYTES} bytes, "
                "the most a Unix socket address holds; choose a shorter folder"
            )
        self.socket_path = socket_path
        self.on_batch = on_batch
        self.on_question = on_question
        self.max_line = max_line
        self._delivered: dict[Sender, int] = dict(delivered or {})
        self._deliver_lock = threading.Lock()
        self._lock = threading.Lock()  # guards _conns and _threads
        self._conns: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._listener: socket.socket | None = None
        self._inode: tuple[int, int] | None = None
        self._stop_r, self._stop_w = -1, -1
        self._accepter: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> TrackingServer:
        path = self.socket_path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise FileExistsError(f"{path} exists and is not a socket; refusing to replace it")
            path.unlink()  # left by an earlier agent on this node
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(path))
            os.chmod(path, 0o600)
            listener.listen(64)
        except BaseException:
            listener.close()
            raise
        st = path.lstat()
        self._inode = (st.st_dev, st.st_ino)
        self._listener = listener
        self._stop_r, self._stop_w = os.pipe()
        self._accepter = threading.Thread(target=self._accept_loop, name="tracking-accept", daemon=True)
        self._accepter.start()
        log.debug("tracking socket listening at %s", path)
        return self

    def stop(self) -> None:
        """Stops accepting, closes every connection, removes the socket file and joins the threads. A
        batch being delivered finishes delivering (its acknowledgement may be lost: see `delivered`)."""
        if self._listener is None:
            return
        os.write(self._stop_w, b"x")
        if self._accepter is not None:
            self._accepter.join(JOIN_TIMEOUT_S)
        self._listener.close()
        self._listener = None
        with contextlib.suppress(FileNotFoundError):
            st = self.socket_path.lstat()
            if (st.st_dev, st.st_ino) == self._inode:  # not a newer server's socket on the same path
                self.socket_path.unlink()
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)
            if thread.is_alive():
                log.warning("tracking connection thread %s did not stop in %ss", thread.name, JOIN_TIMEOUT_S)
        os.close(self._stop_r)
        os.close(self._stop_w)

    def __enter__(self) -> TrackingServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def delivered(self) -> dict[Sender, int]:
        with self._deliver_lock:
            return dict(self._delivered)

    # -- connections ------------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while True:
            watch: list[socket.socket | int] = [self._listener, self._stop_r]
            ready, _, _ = select.select(watch, [], [])
            if self._stop_r in ready:
                return
            try:
                conn, _ = self._listener.accept()
            except OSError as e:
                log.warning("tracking socket %s: accept failed: %s", self.socket_path, e)
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), name="tracking-conn", daemon=True)
            with self._lock:
                self._conns.add(conn)
                self._threads.add(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        peer_pid = _peer_pid(conn)
        try:
            with conn, conn.makefile("rb") as stream:
                while self._serve_line(conn, stream, peer_pid):
                    pass
        except OSError as e:  # the SDK went away mid-line, or stop() shut the connection
            log.debug("tracking connection from pid %s ended: %s", peer_pid, e)
        finally:
            with self._lock:
                self._conns.discard(conn)
                self._threads.discard(threading.current_thread())

    def _serve_line(self, conn: socket.socket, stream: Any, peer_pid: int) -> bool:
        """Handles one line; False when the connection is done."""
        line = stream.readline(self.max_line + 1)
        if not line:
            return False
        if not line.endswith(b"\n"):
            if len(line) > self.max_line:
                return _refuse(conn, f"line longer than {self.max_line} bytes", peer_pid)
            log.debug("tracking connection from pid %s closed mid-line; the SDK resends it", peer_pid)
            return False
        try:
            message = _decode(line)
            if "ask" in message:
                return self._answer(conn, check_question(message))
            batch = check_batch(message)
        except BadBatch as e:
            return _refuse(conn, str(e), peer_pid)
        sender = (batch.get("pid", peer_pid), batch.get("proc", ""))
        seq = batch["seq"]
        try:
            self._deliver(sender, batch)
        except Exception as e:
            log.exception("could not store tracking batch %s from pid %s", seq, sender[0])
            return _refuse(conn, f"could not store batch {seq}: {e}", peer_pid)
        conn.sendall(b'{"ack": %d}\n' % seq)
        return True

    def _answer(self, conn: socket.socket, question: dict[str, Any]) -> bool:
        answer: dict[str, str] = {}
        if self.on_question is not None:
            try:
                answer = self.on_question(question)
            except Exception as e:  # a bug here must not cost the run its tracking: say so, go on
                log.exception("could not answer the question %s", question)
                answer = {"unchecked": f"the agent could not answer: {e}"}
        conn.sendall(json.dumps({"answer": question["ask"], **answer}).encode() + b"\n")
        return True

    def _deliver(self, sender: Sender, batch: dict[str, Any]) -> None:
        with self._deliver_lock:
            if batch["seq"] <= self._delivered.get(sender, 0):
                log.debug("tracking batch %s from %s already delivered", batch["seq"], sender)
                return
            self.on_batch(batch)
            self._delivered[sender] = batch["seq"]


def _refuse(conn: socket.socket, why: str, peer_pid: int) -> bool:
    log.warning("tracking: refused a line from pid %s: %s", peer_pid, why)
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps({"error": why}).encode() + b"\n")
    return False


def _peer_pid(conn: socket.socket) -> int:
    """The connecting process's pid as this agent sees it (SO_PEERCRED; Linux), or 0 where unknown."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return 0
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    except OSError:
        return 0
    return int(struct.unpack("3i", creds)[0])


# -- the batch format ----------------------------------------------------------------------------------


def parse_batch(line: bytes) -> dict[str, Any]:
    """Checks one line against the wire format and returns the batch, metric values as floats ("nan"
    back to NaN). Unknown fields are kept; wrong types, bad paths and non-finite numbers are refused."""
    return check_batch(_decode(line))


def _decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadBatch(f"invalid JSON: {e}") from None
    if not isinstance(message, dict):
        raise BadBatch("a batch must be a JSON object")
    return message


def check_question(question: dict[str, Any]) -> dict[str, Any]:
    """A question is {"ask": KIND, FIELD: "text", ...} with the fields QUESTIONS names for KIND."""
    kind = question["ask"]
    fields = QUESTIONS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise BadBatch(f"unknown question {kind!r}; this agent answers {', '.join(sorted(QUESTIONS))}")
    for name in fields:
        if not isinstance(question.get(name), str) or not question[name]:
            raise BadBatch(f"question {kind!r} needs a non-empty string {name!r}")
    return question


def check_batch(batch: dict[str, Any]) -> dict[str, Any]:
    """The batch checked in place (see parse_batch)."""
    seq = batch.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise BadBatch("a batch needs an integer seq >= 1")
    if "pid" in batch and (not _is_int(batch["pid"]) or batch["pid"] < 0):
        raise BadBatch("pid must be a non-negative integer")
    if not isinstance(batch.get("proc", ""), str):
        raise BadBatch("proc must be a string")
    for field in ("params", "tags", "environment"):
        _check_str_map(batch, field)
    if "metrics" in batch:
        batch["metrics"] = [_metric(m) for m in _list(batch, "metrics")]
    for field in ("artifacts", "datasets"):
        if not all(isinstance(item, str) and item for item in _list(batch, field)):
            raise BadBatch(f"{field} must hold non-empty strings")
    for path in batch.get("artifacts", []):
        _check_path(path)
    for model in _list(batch, "models"):
        if not isinstance(model, dict) or not isinstance(model.get("path"), str):
            raise BadBatch("each model must be an object with a path")
        _check_path(model["path"])
        for key in ("name", "flavor"):
            if model.get(key) is not None and not isinstance(model[key], str):
                raise BadBatch(f"model {key} must be a string or null")
    return batch


def _metric(item: object) -> list[Any]:
    if not isinstance(item, list) or len(item) != 4:
        raise BadBatch("a metric must be [key, value, step, timestamp_ms]")
    key, value, step, timestamp = item
    if not isinstance(key, str) or not key:
        raise BadBatch("a metric key must be a non-empty string")
    if value == "nan":
        value = math.nan
    elif not isinstance(value, (int, float)) or isinstance(value, bool):
        raise BadBatch(f'metric {key!r}: the value must be a number or "nan"')
    if not _is_int(step) or not _is_int(timestamp):
        raise BadBatch(f"metric {key!r}: step and timestamp must be integers")
    return [key, float(value), step, timestamp]


def _no_constant(name: str) -> float:
    raise ValueError(f'{name} is not JSON (send NaN as the string "nan")')


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _list(batch: dict[str, Any], field: str) -> list[Any]:
    value = batch.get(field, [])
    if not isinstance(value, list):
        raise BadBatch(f"{field} must be a list")
    return value


def _check_str_map(batch: dict[str, Any], field: str) -> None:
    value = batch.get(field, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise BadBatch(f"{field} must be an object of strings")


def _check_path(path: str) -> None:
    try:
        check_relpath(path)
    except InvalidArgument as e:
        raise BadBatch(f"bad path: {e}") from None


# -- the SDK's folder for runs ---------------------------------------------------------------------------


def sdk_files() -> dict[str, Path]:
    """Relative path -> source: kiln/__init__.py and the modules of kiln.track, kiln.serve and kiln.workspace
    (the workspace launcher), nothing else."""
    package = Path(kiln.__file__).parent
    files = {"kiln/__init__.py": package / "__init__.py"}
    for part in ("track", "serve", "workspace"):
        for source in sorted((package / part).rglob("*.py")):
            files[f"kiln/{source.relative_to(package).as_posix()}"] = source
    return files


def prepare_sdk(dest: Path, extra: dict[str, bytes] | None = None) -> Path:
    """Returns a folder under `dest` holding only the SDK (`kiln/__init__.py`, `kiln/track/…`,
    `kiln/serve/…`), to mount read-only into runs and put on their PYTHONPATH. The folder is named by a
    digest of its contents, so it is built once per SDK version (atomically: a half-built folder is never
    used) and a run that is still going keeps the files it started with when the agent is upgraded."""
    files = {rel: source.read_bytes() for rel, source in sdk_files().items()} | (extra or {})
    digest = hashlib.sha256()
    for rel, data in sorted(files.items()):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    root = dest / f"sdk-{digest.hexdigest()[:16]}"
    if root.is_dir():
        return root
    with building(root, exist_ok=True) as tree:  # another thread or agent may build it too: same content
        for rel, data in files.items():
            target = tree / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            target.chmod(0o644)
        for folder in [tree, *(p for p in tree.rglob("*") if p.is_dir())]:
            folder.chmod(0o755)
    return root


def sdk_root(cache: Path | None = None) -> Path:
    """The SDK folder in `cache` (default: $XDG_CACHE_HOME/kiln, else ~/.cache/kiln), built on first use."""
    if cache is None:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        cache = Path(base) / "kiln"
    return prepare_sdk(cache)
