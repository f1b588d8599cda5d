"""The Docker runtime: each job is a container on the node's engine, driven through the docker SDK.

Containers are never auto-removed and carry the labels `kiln.run` / `kiln.attempt`, so a restarted agent
finds them with `running()` and re-attaches; the engine's log is the durable record of the
output, read from the start with the bytes already delivered skipped.

A container sees only what is bound into it: its working folder, the SDK and its socket, its datasets;
never the agent's data folder itself (`check_binds`). It runs as a user of its own where the agent is root
(`jobuser.py`: never as root, and never as another job's uid), else as the agent's user; either way its
files in /work are ones the agent can upload and delete.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import posixpath
import re
import threading
from pathlib import Path
from typing import Any

try:
    import docker
    import docker.errors
    import docker.types
    import requests
except ImportError:  # the agent extra is not installed: probe() says so
    docker = None  # type: ignore[assignment]  # checked before every use

from kiln.agent.runtimes import jobuser
from kiln.agent.runtimes.base import (
    WORKDIR_IN_JOB,
    JobEvents,
    JobHandle,
    JobSpec,
    Runtime,
    RuntimeUnavailable,
    register,
)
from kiln.core.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from kiln.core.paths import check_relpath

log = logging.getLogger(__name__)

LABEL_RUN = "kiln.run"
LABEL_ATTEMPT = "kiln.attempt"
LABEL_IMAGE = "kiln.image"  # the image as the run named it (the container is created from its id)
STREAMS = ("stdout", "stderr")
PROBE_TIMEOUT_S = 5
API_TIMEOUT_S = 60
# Each job holds two log streams open while it runs; the pool must not make jobs queue behind each other.
MAX_POOL_SIZE = 256
DEFAULT_ENGINE = "unix:///var/run/docker.sock"
# container_config's keys that belong to the container's host config in the engine's create call.
HOST_CONFIG_KEYS = (
    "mounts", "network_mode", "auto_remove", "log_config", "init",
    "nano_cpus", "mem_limit", "memswap_limit", "device_requests",
)  # fmt: skip


def engine_url() -> str:
    return os.environ.get("DOCKER_HOST", DEFAULT_ENGINE)


def container_name(spec: JobSpec) -> str:
    """One name per (run, attempt): the engine then refuses to start the same attempt twice."""
    return f"kiln-{re.sub(r'[^a-zA-Z0-9_.-]', '-', spec.run_id)}-{spec.attempt}"


def mount_target(target: str) -> str:
    """A relative target lands inside the working directory, as it does (by symlink) for processes."""
    if target.startswith("/"):
        if ".." in target.split("/"):
            raise InvalidArgument(f"mount target {target!r} contains '..'")
        return target
    return posixpath.join(WORKDIR_IN_JOB, check_relpath(target))


def container_env(spec: JobSpec) -> dict[str, str]:
    """What a container is given on top of its image's environment (the engine passes nothing of the
    agent's): Kiln's paths as a container sees them, the run's own variables, which win, and where each
    mount is (KILN_MOUNTS), the same set of KILN_* variables as a plain process gets."""
    mounts = json.dumps({m.target: mount_target(m.target) for m in spec.mounts})
    return {**spec.paths, **spec.env, "KILN_MOUNTS": mounts}


def check_binds(spec: JobSpec, private: tuple[Path, ...]) -> None:
    """No bind may hand a container the agent's data folder (or a folder holding it): only its parts that
    are the job's own (its working folder, its mounts) go in."""
    for host in [spec.workdir, *(m.host for m in spec.mounts)]:
        for folder in private:
            if folder == host or folder.is_relative_to(host):
                raise InvalidArgument(f"run {spec.run_id}: {host} would give the job the agent's data folder")


def container_config(spec: JobSpec, uid: int, gid: int) -> dict[str, Any]:
    """The keyword arguments for `containers.create`: a pure function of the spec, so what a job asks of
    the engine (GPUs, limits, mounts) is tested without an engine or a GPU."""
    if not spec.image:
        raise InvalidArgument(f"run {spec.run_id}: the docker runtime needs an image")
    mounts = [docker.types.Mount(WORKDIR_IN_JOB, str(spec.workdir), type="bind", read_only=False)]
    mounts += [
        docker.types.Mount(mount_target(m.target), str(m.host), type="bind", read_only=m.read_only) for m in spec.mounts
    ]
    config: dict[str, Any] = {
        "image": spec.image,
        "command": list(spec.command),
        "name": container_name(spec),
        "environment": container_env(spec),
        "working_dir": WORKDIR_IN_JOB,
        "mounts": mounts,
        "network_mode": spec.network,
        "labels": {**spec.labels, LABEL_RUN: spec.run_id, LABEL_ATTEMPT: str(spec.attempt), LABEL_IMAGE: spec.image},
        # The job's own user (the agent's where it is not root): its files in /work, which the agent uploads
        # and later deletes, are that user's.
        "user": f"{uid}:{gid}",
        # Kept after exit so a restarted agent can still read the exit code and the logs.
        "auto_remove": False,
        # Explicit, whatever the engine's default: logs must be readable back from the start. json-file
        # keeps every byte of valid UTF-8 text (the "local" driver of engine 20.10 drops a newline after
        # a long line); invalid UTF-8 comes back as U+FFFD.
        "log_config": docker.types.LogConfig(type="json-file"),
        # tini as PID 1 passes SIGTERM on to the job (PID 1 ignores signals it has no handler for).
        "init": True,
    }
    if spec.cpus > 0:
        config["nano_cpus"] = round(spec.cpus * 1e9)
    if spec.memory_bytes > 0:
        config["mem_limit"] = spec.memory_bytes
        config["memswap_limit"] = spec.memory_bytes  # no swap beyond the limit: the limit is the limit
    if spec.gpu_uuids:
        gpus = docker.types.DeviceRequest(driver="nvidia", device_ids=list(spec.gpu_uuids), capabilities=[["gpu"]])
        config["device_requests"] = [gpus]
    return config


def image_facts(asked: str, image: dict[str, Any]) -> dict[str, str]:
    """What a run's record says of its image: the name it asked for, the id that ran, its registry digests."""
    return {"image": asked, "image_id": str(image["Id"]), "image_digests": ",".join(image.get("RepoDigests") or [])}


def exit_reason(state: dict[str, Any], cancelled: bool) -> str:
    """Why a container ended, from its inspected State: a cancel we asked for wins over what it caused."""
    if cancelled:
        return "cancelled"
    if state.get("OOMKilled"):
        return "oom-killed"
    return ""


def connect(timeout: float) -> Any:
    """A client whose engine has answered a ping, or RuntimeUnavailable naming the reason."""
    if docker is None:
        raise RuntimeUnavailable("the docker Python package is not installed (pip install 'kiln[agent]')")
    try:
        client = docker.from_env(timeout=math.ceil(timeout), max_pool_size=MAX_POOL_SIZE)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as e:
        raise RuntimeUnavailable(f"no Docker engine answers at {engine_url()}: {e}") from e
    return client


class _OrderedEvents:
    """Serialises the two streams' callbacks (one thread each); nothing passes after the one `exited`."""

    def __init__(self, events: JobEvents) -> None:
        self._events = events
        self._lock = threading.Lock()
        self._ended = False

    def output(self, stream: str, data: bytes) -> None:
        with self._lock:
            if not self._ended:
                self._events.output(stream, data)

    def exited(self, exit_code: int, reason: str) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
            self._events.exited(exit_code, reason)


@register
class DockerRuntime(Runtime):
    name = "docker"

    def __init__(self, state_dir: Path, private: tuple[Path, ...] = ()) -> None:
        super().__init__(state_dir, private)
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._facts: dict[str, dict[str, str]] = {}  # container id -> its image, found when it started
        self.users: jobuser.JobUsers | None = None
        if os.geteuid() == 0:  # containers as users of their own, never root
            self.users = jobuser.JobUsers.of_host(os.environ)

    @classmethod
    def probe(cls) -> str:
        client = connect(PROBE_TIMEOUT_S)
        try:
            version = client.version().get("Version", "unknown version")
        finally:
            client.close()
        who = "users of their own" if os.geteuid() == 0 else "the agent's user"
        return f"Docker {version} (engine at {engine_url()}), containers run as {who}"

    def client(self) -> Any:
        """The engine's client, connected on first use so constructing a runtime needs no engine."""
        with self._client_lock:
            if self._client is None:
                self._client = connect(API_TIMEOUT_S)
            return self._client

    @property
    def api(self) -> Any:
        """The low-level API: log streams per stream, and container listings without an inspect each."""
        return self.client().api

    def start(self, spec: JobSpec, events: JobEvents) -> JobHandle:
        check_binds(spec, self.private)
        uid = None if self.users is None else self.users.take(f"{self.name} {self.state_dir} {container_name(spec)}")
        try:
            if uid is not None:
                jobuser.give([spec.workdir], uid, recursive=True)
                jobuser.give([m.host for m in spec.mounts if not m.read_only and m.host.exists()], uid)
            config = container_config(spec, *((os.getuid(), os.getgid()) if uid is None else (uid, uid)))
            image = self._image(spec)
            container_id = self._create(spec, {**config, "image": image["Id"]})
            try:
                self.api.start(container_id)
            except docker.errors.APIError as e:
                self.api.remove_container(container_id, force=True)
                raise FailedPrecondition(f"run {spec.run_id}: its container did not start: {e.explanation}") from e
        except BaseException:
            if uid is not None and self.users is not None:
                self.users.give_back(uid)
            raise
        self._facts[container_id] = image_facts(spec.image, image)
        handle = JobHandle(self.name, spec.run_id, spec.attempt, container_id)
        self._follow(handle, events, {})
        return handle

    def _image(self, spec: JobSpec) -> dict[str, Any]:
        """The image the spec names, inspected once: the container is created from its id, so the run's
        record names exactly the image that ran even if the tag moves meanwhile."""
        try:
            return dict(self.api.inspect_image(spec.image))
        except docker.errors.ImageNotFound as e:
            raise FailedPrecondition(
                f"image {spec.image!r} is not on this node; load it (docker load) or pull it there first"
            ) from e

    def _create(self, spec: JobSpec, config: dict[str, Any]) -> str:
        """The new container's id, from the low-level API (the SDK's `containers.create` inspects the
        container again just to hand back a model)."""
        host = {k: config.pop(k) for k in HOST_CONFIG_KEYS if k in config}
        try:
            return str(self.api.create_container(**config, host_config=self.api.create_host_config(**host))["Id"])
        except docker.errors.APIError as e:
            if e.status_code == 409:
                raise AlreadyExists(
                    f"run {spec.run_id} attempt {spec.attempt} already has a container ({config['name']}); "
                    "reap it first"
                ) from e
            raise

    def running(self) -> list[JobHandle]:
        found = self.api.containers(all=True, filters={"label": LABEL_RUN})
        handles = [
            JobHandle(self.name, c["Labels"][LABEL_RUN], int(c["Labels"].get(LABEL_ATTEMPT, "0")), c["Id"])
            for c in found
        ]
        return sorted(handles, key=lambda h: (h.run_id, h.attempt))

    def attach(self, handle: JobHandle, events: JobEvents, skip: dict[str, int]) -> None:
        uid = self._job_user(handle)
        if uid is not None:  # a restarted agent made the SDK's socket anew: the job's again
            with contextlib.suppress(docker.errors.NotFound):
                for m in self.api.inspect_container(handle.ref).get("Mounts") or []:
                    if m.get("RW") and m.get("Destination") != WORKDIR_IN_JOB and Path(m["Source"]).exists():
                        jobuser.give([Path(m["Source"])], uid)
        self._follow(handle, events, skip)

    def _job_user(self, handle: JobHandle) -> int | None:
        """The job user a container runs as (None where the agent is not root, or it is gone)."""
        if self.users is None:
            return None
        try:
            user = str(self.api.inspect_container(handle.ref)["Config"].get("User") or "")
        except docker.errors.NotFound:
            return None
        uid = user.partition(":")[0]
        return int(uid) if uid.isdigit() and int(uid) >= self.users.base else None

    def cancel(self, handle: JobHandle, grace_s: float) -> None:
        # The mark outlives this process, so an exit seen after an agent restart is still "cancelled".
        marker = self._cancel_marker(handle)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        with contextlib.suppress(docker.errors.NotFound):
            self.api.stop(handle.ref, timeout=max(0, math.ceil(grace_s)))

    def environment(self, handle: JobHandle) -> dict[str, str]:
        known = self._facts.get(handle.ref)
        if known is not None:  # found when it started: no call to the engine on the way to RUNNING
            return {"runtime": self.name, **known}
        found = {"runtime": self.name}
        try:  # a job this agent re-attached to after a restart
            container = self.api.inspect_container(handle.ref)
            asked = (container.get("Config", {}).get("Labels") or {}).get(LABEL_IMAGE, "")
            found.update(image_facts(asked, self.api.inspect_image(container["Image"])))
        except Exception as e:  # the record is best effort; the run goes on
            found["image_error"] = str(e)[:200]
        return found

    def reap(self, handle: JobHandle) -> None:
        uid = self._job_user(handle)
        with contextlib.suppress(docker.errors.NotFound):
            self.api.remove_container(handle.ref, force=True)
        self._facts.pop(handle.ref, None)
        self._cancel_marker(handle).unlink(missing_ok=True)
        if uid is not None and self.users is not None:
            self.users.give_back(uid)

    def _cancel_marker(self, handle: JobHandle) -> Path:
        return self.state_dir / "cancelled" / handle.ref

    def _follow(self, handle: JobHandle, events: JobEvents, skip: dict[str, int]) -> None:
        offsets = {s: skip.get(s, 0) for s in STREAMS}
        thread = threading.Thread(
            target=self._stream_job,
            args=(handle, _OrderedEvents(events), offsets),
            name=f"docker-{handle.run_id}.{handle.attempt}",
            daemon=True,
        )
        thread.start()

    def _stream_job(self, handle: JobHandle, events: _OrderedEvents, offsets: dict[str, int]) -> None:
        """Streams until the container ends, then reports its exit: the job thread's whole life."""
        try:
            ends = self._pump_streams(handle.ref, events, offsets, follow=True)
            code = self.api.wait(handle.ref, timeout=None)["StatusCode"]
            # A follow stream can end a little before the log is complete; read on from where it stopped.
            self._pump_streams(handle.ref, events, ends, follow=False)
            state = self.api.inspect_container(handle.ref)["State"]
            events.exited(code, exit_reason(state, self._cancel_marker(handle).exists()))
        except Exception as e:  # the container was removed or the engine went away: say so, once
            log.warning("lost track of run %s attempt %s: %s", handle.run_id, handle.attempt, e)
            events.exited(-1, f"lost: {e}")

    def _pump_streams(self, ref: str, events: _OrderedEvents, starts: dict[str, int], follow: bool) -> dict[str, int]:
        """Both streams at once (stderr on a helper thread); returns how far each one was read."""
        ends = dict(starts)
        errors: list[BaseException] = []

        def pump_stderr() -> None:
            try:
                ends["stderr"] = self._pump(ref, "stderr", starts["stderr"], events, follow)
            except BaseException as e:
                errors.append(e)

        helper = threading.Thread(target=pump_stderr, name=f"docker-stderr-{ref[:12]}", daemon=True)
        helper.start()
        ends["stdout"] = self._pump(ref, "stdout", starts["stdout"], events, follow)
        helper.join()
        if errors:
            raise errors[0]
        return ends

    def _pump(self, ref: str, stream: str, start: int, events: _OrderedEvents, follow: bool) -> int:
        """Delivers one stream's bytes from offset `start` on; returns the offset reached."""
        chunks = self.api.logs(ref, stdout=stream == "stdout", stderr=stream == "stderr", stream=True, follow=follow)
        pos = 0
        for chunk in chunks:
            end = pos + len(chunk)
            if end > start:
                events.output(stream, chunk[max(0, start - pos) :])
            pos = end
        return max(pos, start)
