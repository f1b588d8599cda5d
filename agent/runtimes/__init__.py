"""Runtimes: how a node runs a job. A name -> class registry; each runtime reports through callbacks."""

from kiln.agent.runtimes.base import (
    REGISTRY,
    WORKDIR_IN_JOB,
    JobEvents,
    JobHandle,
    JobSpec,
    Mount,
    Runtime,
    RuntimeUnavailable,
    available_runtimes,
    get_runtime,
    register,
)

__all__ = [
    "REGISTRY",
    "WORKDIR_IN_JOB",
    "JobEvents",
    "JobHandle",
    "JobSpec",
    "Mount",
    "Runtime",
    "RuntimeUnavailable",
    "available_runtimes",
    "get_runtime",
    "register",
]
