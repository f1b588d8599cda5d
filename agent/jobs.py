"""One job on this node, from its assignment to its final report: prepare the run folder, start it in its
runtime, ship its output in numbered chunks, collect its output snapshot, and report how it ended. Every
report goes through the spool, in the same transaction as the journal change it implies."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kiln.agent import envjobs, liveness
from kiln.agent.environments import EnvCache, describe_python
from kiln.agent.inventory import nvml_gpus
from kiln.agent.runenv import RunEnvironment, sender_id
from kiln.agent.runtimes import JobHandle, JobSpec, Runtime, RuntimeUnavailable
from kiln.agent.spool import JobRecord, Spool
from kiln.agent.workspace import BlobCache, collect_outputs, materialize
from kiln.client import Client
from kiln.core import backoff, clock, defaults, limits
from kiln.core.deployments import ADDRESS_TAG
from kiln.core.environments import EnvironmentRef
from kiln.core.errors import FailedPrecondition, KilnError, Unavailable
from kiln.core.link import Assignment, RunUpdate, TrackBatch
from kiln.core.models import DatasetVersion
from kiln.core.runs import RunState
from kiln.core.units import format_bytes
from kiln.core.workspaces import SAVED_TAG
from kiln.sync.locks import BuildFailed, IndexSettings
from kiln.sync.push import OutputsTooLarge, push

log = logging.getLogger("kiln.agent.jobs")
T = TypeVar("T")

CHUNK_BYTES = 64 * 1024
# Output is shipped once this much is buffered (else by the agent's flusher, every LOG_FLUSH_S): one report
# of up to 64 chunks, so a fast job costs a spool commit and a link message per 4 MiB, not per chunk.
FLUSH_BYTES = 64 * CHUNK_BYTES
# How long an SDK question waits out a coordinator outage before it is answered "unchecked".
QUESTION_PATIENCE_S = 15.0
DESCRIBE_PATIENCE_S = 30.0  # how long a run's end waits for the description of what it ran in
SAVE_PATIENCE_S = 120.0  # a workspace's save waits out a coordinator outage this long
HUNG_GRACE_S = 2.0  # a hung replica's SIGTERM goes unanswered: SIGKILL follows this soon
LOGGED_FILE = "logged.jsonl"  # in the job's folder: [kind, path] a line, for every path the run logged


@dataclass
class JobContext:
    """What jobs need of the agent: its node's name, spool, cache, runtimes, a client, whether it is
    stopping, its built environments and where their packages come from, and the most a run's outputs may
    hold (what it created or changed; None: no cap)."""

    name: str
    data: Path
    spool: Spool
    cache: BlobCache
    runtimes: dict[str, Runtime]
    client: Callable[[], Client]
    stopping: threading.Event
    envs: EnvCache
    index: IndexSettings
    max_output_bytes: int | None = defaults.MAX_OUTPUT_BYTES
    serve_host: str = defaults.SERVE_HOST  # where this node's model replicas listen ($KILN_SERVE_HOST in jobs)
    ca_pem: bytes = b""  # the installation's CA (runs' MLflow clients trust it)
    # how the model replicas it started are probed
    liveness_probe: liveness.Probe = field(default_factory=liveness.Probe)


class Job:
    def __init__(self, node: JobContext, assignment: Assignment) -> None:
        self.node = node
        self.assignment = assignment
        self.run_id, self.attempt = assignment.run_id, assignment.attempt
        self.spec = assignment.spec
        self.runtime_name = assignment.runtime
        uses_mlflow = "MLFLOW_TRACKING_URI" in assignment.spec.env  # the coordinator serves MLflow: trust its CA
        self.env = RunEnvironment(node.data, node.spool, self.run_id, self.attempt, node.ca_pem if uses_mlflow else b"")
        self.dir = node.data / "runs" / f"{self.run_id}.{self.attempt}"
        self.handle: JobHandle | None = None
        self.cancelled = threading.Event()
        self._cancel_grace_s = 10.0
        self._cancel_lock = threading.Lock()  # a cancel and the start that makes `handle` do not cross
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._buffer: list[tuple[str, bytes]] = []
        self._buffered = 0
        self._datasets_seen: set[str] = set()  # names the coordinator confirmed for the SDK
        self._prepared = envjobs.Prepared()
        self._described: dict[str, str] = {}  # what the job runs in, found while it ran (no environment named)
        self._describing: threading.Thread | None = None
        self.ended = threading.Event()  # its final report is made
        self._hung = ""  # why the liveness probe killed it (a model replica that stopped answering)
        self._probed: liveness.Watch | None = None

    @property
    def workdir(self) -> Path:
        return self.dir / "work"

    @property
    def runtime(self) -> Runtime:
        found = self.node.runtimes.get(self.runtime_name)
        if found is None:
            raise FailedPrecondition(f"this node has no {self.runtime_name!r} runtime")
        return found

    # -- lifecycle --------------------------------------------------------------------------------------

    def begin(self) -> None:
        threading.Thread(target=self._prepare_and_start, name=f"job-{self.run_id}", daemon=True).start()

    def resume(self, record: JobRecord) -> None:
        """After an agent restart: re-attach to the job if its runtime still has it."""
        if record.state in (RunState.ASSIGNED, RunState.PREPARING):
            self.begin()
            return
        found = next((h for h in self.runtime.running() if (h.run_id, h.attempt) == (self.run_id, self.attempt)), None)
        if found is None:
            self._final(RunState.FAILED, None, "the job disappeared while the agent was down", outputs=False)
            return
        self.handle = found
        if address := liveness.remembered(self.dir):
            self._probe(address)
        self._start_tracking()  # the run's SDK reconnects and resends what was not acknowledged
        self.runtime.attach(found, self, {"stdout": record.stdout_bytes, "stderr": record.stderr_bytes})

    def _prepare_and_start(self) -> None:
        try:
            self._report(RunState.PREPARING)
            shutil.rmtree(self.dir, ignore_errors=True)
            self.workdir.mkdir(parents=True)
            if self.spec.snapshot:
                self.retrying(
                    lambda c: materialize(
                        c,
                        self.node.cache,
                        self.spec.project,
                        self.spec.snapshot,
                        self.workdir,
                        self.dir / "statcache",
                    )
                )
            if self.assignment.datasets:
                self.retrying(lambda c: self.env.prepare_datasets(c, self.spec.project, self.assignment.datasets))
            ref = self.assignment.environment
            if ref is not None and ref.build:
                self._build(ref)
                return
            prepared = envjobs.prepare(self, ref) if ref is not None else envjobs.Prepared()
            self._prepared = prepared
            if self.cancelled.is_set():
                self._final(RunState.CANCELLED, None, "cancelled before it started", outputs=False)
                return
            self._start_tracking()
            handle = self.runtime.start(envjobs.with_environment(self._job_spec(), prepared), self)
            with self._cancel_lock:
                self.handle = handle
                late = self.cancelled.is_set()
            if late:  # cancelled while it started: it was past the check above, so stop it now
                threading.Thread(target=self.runtime.cancel, args=(handle, self._cancel_grace_s), daemon=True).start()
            self._report(RunState.RUNNING, ref=self.handle.ref, environment=self._environment())
            if prepared.facts is None:  # no environment named: describe what it runs in meanwhile
                self._describing = threading.Thread(target=self._describe, name=f"describe-{self.run_id}", daemon=True)
                self._describing.start()
        except BuildFailed as e:  # the environment could not be made here: its build log says why
            log.warning("run %s could not start: %s", self.run_id, e)
            self._final(RunState.FAILED, None, f"could not start: {e}", outputs=False)
        except (KilnError, RuntimeUnavailable) as e:  # the run's mistake (an unknown image…): one line
            log.warning("run %s could not start: %s", self.run_id, e)
            self._final(RunState.FAILED, None, f"could not start: {e}", outputs=False)
        except Exception as e:  # a bug or the node's trouble: the traceback is worth having
            log.exception("run %s could not start", self.run_id)
            self._final(RunState.FAILED, None, f"could not start: {e}", outputs=False)

    def _build(self, ref: EnvironmentRef) -> None:
        """A build run: the environment built here, its facts reported with the run's success."""
        self._report(RunState.RUNNING, environment={"runtime": self.runtime_name, "node": self.node.name})
        try:
            facts = envjobs.build(self, ref)
        except (BuildFailed, KilnError) as e:
            self.output("stderr", f"build failed: {e}\n".encode())
            self.flush_logs()
            self._final(RunState.FAILED, 1, build_failure(e), outputs=False)
            return
        self.flush_logs()
        self._final(RunState.SUCCEEDED, 0, "", outputs=False, environment=facts)

    def progress(self, reason: str) -> None:
        """A line of what preparing the run is doing, as one of its events."""
        self._report(RunState.PREPARING, reason=reason)

    def _describe(self) -> None:
        """What a run that names no environment runs in, from the interpreter or image itself; sent with its
        end, beside (never over) what its SDK recorded."""
        assert self.handle is not None
        try:
            if self.runtime_name == "docker":  # by image id: a tag may name another image tomorrow
                found = envjobs.described_image(self, self.runtime.environment(self.handle)["image_id"])
            else:  # a node's interpreter can have packages installed any time: described each run
                python = envjobs.job_python(self._job_spec())
                found = describe_python(Path(python)) if python else {}
        except Exception as e:  # the record is a nicety; the run goes on
            found = {"packages_error": f"{type(e).__name__}: {e}"[:500]}
        self._described = found

    def _environment(self) -> dict[str, str]:
        assert self.handle is not None
        found = {**self.runtime.environment(self.handle), **(self._prepared.facts or {}), "node": self.node.name}
        if self.assignment.gpu_uuids:
            _, driver, cuda = nvml_gpus()
            found.update(gpus=",".join(self.assignment.gpu_uuids), driver_version=driver, cuda_version=cuda)
        if self.assignment.datasets:
            found["datasets"] = ",".join(f"{d.name}:{d.version}" for d in self.assignment.datasets)
        return found

    def _job_spec(self) -> JobSpec:
        s = self.spec
        mounts, paths = self.env.mounts_and_paths()
        return JobSpec(
            run_id=self.run_id,
            attempt=self.attempt,
            command=list(s.command),
            workdir=self.workdir,
            image=s.image,
            env={
                **s.env,
                "KILN_RUN_ID": self.run_id,
                "KILN_PROJECT": s.project,
                defaults.SERVE_HOST_ENV: self.node.serve_host,  # where a model replica listens (kiln.serve)
            },
            paths=paths,
            mounts=mounts,
            protect=(self.node.data / "datasets", self.node.data / "cache", self.node.data / "envs"),
            cpus=s.resources.cpus,
            memory_bytes=s.resources.memory_bytes,
            gpu_uuids=tuple(self.assignment.gpu_uuids),
            network=s.network,
            labels={"kiln.node": self.node.name},
        )

    def cancel(self, grace_s: float) -> None:
        """SIGTERM now, SIGKILL after `grace_s`; a job still preparing does not start."""
        with self._cancel_lock:
            self.cancelled.set()
            self._cancel_grace_s = grace_s
            handle = self.handle
        if handle is not None:
            threading.Thread(target=self.runtime.cancel, args=(handle, grace_s), daemon=True).start()

    # -- runtime callbacks (JobEvents) ------------------------------------------------------------------

    def output(self, stream: str, data: bytes) -> None:
        with self._lock:
            self._buffer.append((stream, data))
            self._buffered += len(data)
            full = self._buffered >= FLUSH_BYTES
        if full:
            self.flush_logs(everything=False)

    def exited(self, exit_code: int, reason: str) -> None:
        self.flush_logs()
        if self._hung:
            state, reason = RunState.FAILED, self._hung
        elif reason == "cancelled" or self.cancelled.is_set():
            state = RunState.CANCELLED
        else:
            state = RunState.SUCCEEDED if exit_code == 0 else RunState.FAILED
        self._final(state, exit_code, reason, outputs=True)

    # -- reporting --------------------------------------------------------------------------------------

    def flush_logs(self, everything: bool = True) -> None:
        """Ships buffered output as numbered chunks (the spool moves the journal's offsets with them). Not
        `everything` (the buffer is full): a last chunk short of CHUNK_BYTES waits for more, so a fast job's
        output goes in whole chunks. One flush at a time, so chunks are numbered in the order they came."""
        with self._flushing:
            with self._lock:
                parts = _coalesce(self._buffer)
                keep = [] if everything or not parts or len(parts[-1][1]) >= CHUNK_BYTES else [parts.pop()]
                self._buffer, self._buffered = keep, sum(len(d) for _, d in keep)
            if parts:
                self.node.spool.report_output(self.run_id, self.attempt, parts, clock.now())

    def _report(
        self, state: RunState, ref: str = "", environment: dict[str, str] | None = None, reason: str = ""
    ) -> None:
        update = RunUpdate(
            run_id=self.run_id,
            attempt=self.attempt,
            state=state,
            time=clock.now(),
            environment=environment or {},
            reason=reason,
        )
        self.node.spool.report_state(update, ref)

    def _final(
        self,
        state: RunState,
        exit_code: int | None,
        reason: str,
        outputs: bool,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.ended.set()
        self.env.stop()  # the job has ended: what its SDK sent is in the spool already
        ref = self.assignment.environment
        if ref is not None and not ref.build and self._prepared.facts is not None:
            envjobs.release(self, ref)
        if self._describing is not None:  # what it ran in is part of its record: worth a short wait
            self._describing.join(DESCRIBE_PATIENCE_S)
        output = ""
        if outputs and self.workdir.exists():
            output, problems = self._outputs()
            reason = "; ".join(filter(None, [reason, *problems]))
        update = RunUpdate(
            run_id=self.run_id,
            attempt=self.attempt,
            state=state,
            time=clock.now(),
            exit_code=exit_code,
            reason=reason,
            output_snapshot=output,
            environment=environment or self._described,
        )
        self.node.spool.report_final(update)
        if self.handle is not None:
            try:
                self.runtime.reap(self.handle)
            except Exception:
                log.exception("could not clean up after run %s", self.run_id)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _outputs(self) -> tuple[str, list[str]]:
        """The output snapshot ("" for none), and what to add to the run's reason: logged paths that are
        gone, and why the outputs were not saved. A run keeps the state it ended in either way: the state
        says how its program ended, the reason and the missing output say what was lost."""
        logged = self._logged()
        gone = [(kind, path) for kind, path in logged if not os.path.lexists(self.workdir / path)]
        problems = [_gone(kind, [p for k, p in gone if k == kind]) for kind in sorted({k for k, _ in gone})]
        message = f"output of run {self.run_id} (attempt {self.attempt})"
        try:
            output, left_out = self.retrying(
                lambda c: collect_outputs(
                    c,
                    self.spec.project,
                    self.workdir,
                    self.dir / "statcache",
                    message,
                    started_from=self.spec.snapshot,
                    logged=[p for _, p in logged],
                    max_bytes=self.node.max_output_bytes,
                )
            )
        except OutputsTooLarge as e:
            problems.append(
                f"outputs not saved: the run created or changed {format_bytes(e.size)} of files in its folder, "
                f"over this node's cap of {format_bytes(e.cap)}; leave out what need not be kept with a "
                ".kilnoutputignore file, or ask IT to raise the agent's --max-output-bytes"
            )
            return "", problems
        except (KilnError, OSError) as e:
            problems.append(f"outputs not saved: {e}")
            return "", problems
        if left_out:
            shown = ", ".join(f"{path} ({why})" for path, why in left_out[:5])
            more = f" and {len(left_out) - 5} more" if len(left_out) > 5 else ""
            problems.append(f"left out of the outputs, which a snapshot cannot hold: {shown}{more}")
        return output, problems

    # -- what the run's SDK logs and asks ---------------------------------------------------------------

    def _start_tracking(self) -> None:
        self.env.start_tracking(answer=self._answer, stored=self._note_logged)

    def _note_logged(self, report: TrackBatch) -> None:
        """Keeps the paths the run logged, in the job's folder (so an agent restart keeps them too): they
        are always in its outputs, and one gone at the end is named in its reason. A model replica telling
        its address is probed from then on."""
        if address := report.tags.get(ADDRESS_TAG, ""):
            liveness.remember(self.dir, address)
            self._probe(address)
        lines = [["artifact", p] for p in report.artifacts] + [["model", m[0]] for m in report.models]
        if not lines:
            return
        try:
            with open(self.dir / LOGGED_FILE, "a") as f:
                f.writelines(json.dumps(line) + "\n" for line in lines)
        except OSError as e:  # the batch is stored: losing this costs only the check at the end
            log.warning("run %s: could not keep the paths it logged: %s", self.run_id, e)

    def _logged(self) -> list[tuple[str, str]]:
        try:
            text = (self.dir / LOGGED_FILE).read_text()
        except FileNotFoundError:
            return []
        found: dict[tuple[str, str], None] = {}
        for line in text.splitlines():
            try:
                kind, path = json.loads(line)
            except (ValueError, TypeError):
                continue  # a line cut short by a crash
            found[(str(kind), str(path))] = None
        return list(found)

    def _probe(self, address: str) -> None:
        """Starts the liveness probe of a replica serving at `address` (a new address replaces the old)."""
        with self._lock:
            if self._probed is not None and self._probed.address == address:
                return
            watch = liveness.Watch(
                address, self.node.liveness_probe, lambda: False, self._kill_hung, self.node.stopping
            )
            watch.alive = lambda: self._probed is watch and not self.ended.is_set()
            self._probed = watch
        watch.start()

    def save_folder(self, request_id: str, message: str) -> None:
        """Snapshots the job's folder into its project as a push does (its ignore rules, its stat cache),
        and reports the snapshot (or why there is none) as the run's tag kiln.workspace.saved.REQUEST."""
        try:
            result = self.retrying(
                lambda c: push(c, self.workdir, self.spec.project, message, self.dir / "savecache"),
                patience_s=SAVE_PATIENCE_S,
            )
            said = result.snapshot.id
        except (KilnError, OSError) as e:
            said = f"error: {e}"
        batch = TrackBatch(
            self.run_id, self.attempt, sender_id(0, "kiln-agent"), time.time_ns() // 1000,
            tags={f"{SAVED_TAG}{request_id}": said[: limits.TRACK_VALUE.most]},
        )  # fmt: skip
        self.node.spool.report_tracking(batch, 0, "kiln-agent")

    def _kill_hung(self, why: str) -> None:
        """The replica stopped answering its probe: killed (SIGTERM, then SIGKILL soon after), its run failed."""
        with self._cancel_lock:
            if self.cancelled.is_set():
                return
            self._hung = why
            handle = self.handle
        if handle is not None:
            self.runtime.cancel(handle, HUNG_GRACE_S)

    def _answer(self, question: dict[str, Any]) -> dict[str, str]:
        """The SDK's questions (kiln/track/__init__.py): does the run's project have this dataset?"""
        name = question["name"]
        if name in self._datasets_seen:
            return {}
        try:
            versions = self.retrying(lambda c: c.list_datasets(self.spec.project), patience_s=QUESTION_PATIENCE_S)
        except KilnError as e:
            return {"unchecked": f"the coordinator could not be asked: {e}"}
        problem = dataset_problem(self.spec.project, versions, name)
        if problem:
            return {"error": problem}
        self._datasets_seen.add(name)
        return {}

    def retrying(self, call: Callable[[Client], T], patience_s: float | None = None) -> T:
        """Calls the coordinator, waiting out outages: a run's inputs and outputs are worth the wait (an
        SDK's question only `patience_s`, then Unavailable)."""
        deadline = None if patience_s is None else time.monotonic() + patience_s
        for delay in backoff.delays(first=0.5, cap=15):
            try:
                with self.node.client() as client:
                    return call(client)
            except Unavailable:
                if deadline is not None and time.monotonic() + delay > deadline:
                    raise
                if self.node.stopping.wait(delay):
                    raise
        raise AssertionError("unreachable")


def build_failure(e: Exception) -> str:
    """A failed build in a line or two (the build log has the whole of it): what failed, and the lines of its
    log that say why (uv's and the engine's own "error" lines), else its last line."""
    if not isinstance(e, BuildFailed):
        return f"build failed: {e}"
    said = [line.strip() for line in e.tail if line.strip() and not line.startswith("$ ")]
    why = [line for line in said if "error" in line.lower() or "cause" in line.lower() or "mismatch" in line.lower()]
    return f"build failed: {e.what}: {' / '.join((why or said[-1:])[-3:])}"[: limits.REASON]


def dataset_problem(project: str, versions: list[DatasetVersion], text: str) -> str:
    """Why `text` (NAME, NAME:VERSION or NAME@VERSION, as coordinator/datasets.find_version reads it)
    names no dataset version of `project`, or "" when it names one."""
    name, _, version = text.replace("@", ":").partition(":")
    have = sorted(v.version for v in versions if v.name == name)
    if not have:
        names = sorted({v.name for v in versions})
        there = f"it has {', '.join(names)}" if names else "it has none yet (kiln dataset create makes one)"
        return f"project {project} has no dataset {name!r}; {there}"
    if version and version not in {str(v) for v in have}:
        listed = ", ".join(str(v) for v in have)
        return f"dataset {name} has no version {version} in project {project}; it has versions {listed}"
    return ""


def _gone(kind: str, paths: list[str]) -> str:
    if len(paths) == 1:
        return f"logged {kind} {paths[0]} is gone at the end of the run"
    return f"logged {kind}s {', '.join(paths)} are gone at the end of the run"


def _coalesce(parts: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Joins consecutive output of the same stream, in pieces of CHUNK_BYTES (the last of a stream's run
    of output shorter)."""
    joined: list[tuple[str, bytearray]] = []
    for stream, data in parts:
        view = memoryview(data)
        if joined and joined[-1][0] == stream and len(joined[-1][1]) < CHUNK_BYTES:
            room = CHUNK_BYTES - len(joined[-1][1])
            joined[-1][1].extend(view[:room])
            view = view[room:]
        for i in range(0, len(view), CHUNK_BYTES):
            joined.append((stream, bytearray(view[i : i + CHUNK_BYTES])))
    return [(s, bytes(d)) for s, d in joined]
