"""kiln.track: record what a run does — params, metrics, tags, artifacts, datasets, models.

    import kiln.track as kt
    kt.log_params({"lr": 0.01, "epochs": 10})
    for epoch in range(10):
        kt.log_metric("loss", loss)          # step 0, 1, 2, ... per key unless given
    kt.log_artifact("plots/loss.png")
    kt.log_model("out/model", name="classifier", flavor="pytorch")

The agent mounts this package into every run (standard library only, Python 3.8+). Calls return at once:
they append to an in-memory buffer that a daemon thread sends to the agent every 100 ms, or as soon as
10,000 items are waiting, and at exit. `flush()` waits until the agent has stored everything logged so
far. Outside a Kiln run (no KILN_TRACK_SOCKET) calls are validated, then discarded after one warning.

Wire protocol (Unix stream socket at $KILN_TRACK_SOCKET, newline-delimited UTF-8 JSON, one object a line):

    SDK -> agent  {"seq": 1, "pid": 4242, "proc": "9f2c...",
                   "environment": {"python": "3.11.7", "implementation": "CPython",
                                   "platform": "Linux-...", "executable": "/usr/bin/python3",
                                   "packages": "numpy==2.1.0\\ntorch==2.5.1"},
                   "params": {"lr": "0.01"}, "tags": {"team": "vision"},
                   "metrics": [["loss", 0.25, 0, 1718000000000], ["loss", "nan", 1, 1718000000100]],
                   "artifacts": ["plots/loss.png"], "datasets": ["mnist@3"],
                   "models": [{"path": "models/classifier", "name": "classifier", "flavor": "pytorch"}]}
    agent -> SDK  {"ack": 1}                  once batch 1 is durably stored
                  {"error": "..."}            the line was refused; the agent then closes the connection

- `seq` starts at 1 in each process and grows by one per batch; `pid` (os.getpid()) and `proc` (random,
  new per process and after fork) name the sending process. Empty fields are left out.
- `environment` rides on a process's first batch only; `packages` is one `name==version` a line, sorted.
- A metric is [key, value, step, timestamp in ms since the epoch]; NaN travels as the string "nan"
  (JSON has no NaN); infinities are refused when logged. Params and tags are strings.
- Artifact and model paths are POSIX paths relative to the run's working directory, which travels as the
  run's output snapshot. A path must exist when it is logged; what was logged is always in the output
  snapshot (whatever .kilnoutputignore says), and one that is gone when the run ends is named in its
  reason.
- A batch is forgotten only once acknowledged. After a dropped connection the SDK reconnects and resends
  every unacknowledged batch in order; the agent drops those it already stored (by pid, proc and seq)
  and acknowledges them again, so resending is safe.

Questions: what must be checked before a call returns is asked on a connection of its own, one line
each way, with "ask" instead of "seq" (batches are unchanged, so an SDK that never asks still works):

    SDK -> agent  {"ask": "dataset", "name": "images:3"}     before log_dataset records it
    agent -> SDK  {"answer": "dataset"}                                     the run's project has it
                  {"answer": "dataset", "error": "dataset images has no version 3 in project demo;
                                                  it has versions 1, 2"}   it has not: log_dataset raises
                  {"answer": "dataset", "unchecked": "..."}  the agent could not tell (the coordinator
                                                  is unreachable): recorded as given, with a warning
                  {"error": "..."}                           an agent that does not know the question
                                                  (an older one): recorded as given

The agent answers from the coordinator's list of the project's datasets; a name without a version
("images") asks only that the dataset exists (the coordinator records its latest version).
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Mapping
from typing import Any, Union

from kiln.track import _files, _link
from kiln.track._link import TrackingError
from kiln.track._recorder import Recorder, check_key

__all__ = [
    "TrackingError",
    "flush",
    "log_artifact",
    "log_dataset",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "run_id",
    "set_tag",
    "set_tags",
]

# How long the exit hook waits for the agent before giving up (with a message on stderr).
EXIT_FLUSH_TIMEOUT_S = 60.0
# How long a question waits for the agent's answer (the agent gives up on the coordinator sooner).
ASK_TIMEOUT_S = 60.0

PathLike = Union[str, "os.PathLike[str]"]

_recorder = Recorder()


def log_param(key: str, value: Any) -> None:
    """Records a parameter; the value is kept as str(value) (at most 6,000 characters)."""
    _recorder.log_params({key: value})


def log_params(params: Mapping[str, Any]) -> None:
    """Records several parameters at once; nothing is recorded if any of them is invalid."""
    _recorder.log_params(params)


def log_metric(key: str, value: float, step: int | None = None, timestamp: int | None = None) -> None:
    """Records one point of a metric. `step` defaults to 0, 1, 2, ... per key (an explicit step moves the
    counter to step + 1); `timestamp` defaults to now, in milliseconds since the epoch. The value must be a
    finite number or nan."""
    _recorder.log_metric(key, value, step, timestamp)


def log_metrics(metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None) -> None:
    """Records one point for each metric in `metrics`, all at the same timestamp (and `step`, if given;
    else each key takes its own next step). Nothing is recorded if any of them is invalid."""
    _recorder.log_metrics(metrics, step, timestamp)


def set_tag(key: str, value: Any) -> None:
    """Sets a tag on the run; the value is kept as str(value) (at most 6,000 characters)."""
    _recorder.log_params({key: value}, what="tag")


def set_tags(tags: Mapping[str, Any]) -> None:
    _recorder.log_params(tags, what="tag")


def log_artifact(path: PathLike, name: str | None = None) -> None:
    """Records a file or folder as an artifact of the run. Inside the working directory it is recorded by
    its relative path; elsewhere it is first copied (now) to `artifacts/<name or basename>` there."""
    _recorder.add("artifacts", _files.place(path, name, "artifacts", "artifact"))


def log_dataset(name_or_id: str) -> None:
    """Records a dataset version the run read: "images:3" (or "images@3"), or "images" for its latest.
    Inside a run it is checked first: a dataset or version the run's project lacks raises ValueError,
    naming the versions there are."""
    name = check_key(name_or_id, "dataset")
    _check_dataset(name)
    _recorder.add("datasets", name)


def _check_dataset(name: str) -> None:
    path = os.environ.get("KILN_TRACK_SOCKET")
    if not path:
        return  # outside a run: nothing to check against (and nothing is recorded)
    answer, why = _link.ask(path, {"ask": "dataset", "name": name}, ASK_TIMEOUT_S)
    if answer is not None and answer.get("answer") != "dataset":
        return  # an agent from before questions: it records what it is given
    if answer is not None and "error" in answer:
        raise ValueError(f"kiln.track: {answer['error']}")
    if answer is None or "unchecked" in answer:
        why = why or str(answer.get("unchecked") if answer else "")
        sys.stderr.write(f"kiln.track: dataset {name!r} could not be checked ({why}); recorded as given\n")


def log_model(path: PathLike, name: str | None = None, flavor: str | None = None) -> None:
    """Records a model the run produced (a file or folder). Inside the working directory it is recorded by
    its relative path; elsewhere it is first copied (now) to `models/<name or basename>` there."""
    if flavor is not None:
        check_key(flavor, "model flavor")
    if name is not None:
        check_key(name, "model name")
    where = _files.place(path, name, "models", "model")
    _recorder.add("models", {"path": where, "name": name or os.path.basename(where), "flavor": flavor})


def flush(timeout: float = 60) -> None:
    """Blocks until everything logged so far is stored by the agent; raises TrackingError after `timeout`
    seconds (what is unacknowledged stays queued and is still sent while the process lives)."""
    _recorder.flush(timeout)


def run_id() -> str | None:
    """The id of the Kiln run this process belongs to; None outside a run."""
    return os.environ.get("KILN_RUN_ID") or None


def _flush_at_exit() -> None:
    try:
        _recorder.flush(EXIT_FLUSH_TIMEOUT_S)
    except TrackingError as e:
        sys.stderr.write(f"{e}\n")
    except Exception as e:  # an exit hook must not turn a finished run into a traceback
        sys.stderr.write(f"kiln.track: could not flush at exit: {type(e).__name__}: {e}\n")


atexit.register(_flush_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_recorder.after_fork_in_child)
