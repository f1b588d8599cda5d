"""environments.proto: environment versions, their definitions, and what a node is told of one."""

from __future__ import annotations

from kiln.core.environments import BuildState, Definition, EnvironmentRef, EnvKind, check_definition
from kiln.core.environments import Environment as Env
from kiln.core.errors import InvalidArgument
from kiln.proto.v1 import environments_pb2


def definition_to_proto(d: Definition) -> environments_pb2.EnvironmentDefinition:
    return environments_pb2.EnvironmentDefinition(kind=str(d.kind), text=d.text, python=d.python, context=d.context)


def definition_from_proto(m: environments_pb2.EnvironmentDefinition) -> Definition:
    """A definition from outside: its kind known, its fields within bounds (check_definition)."""
    try:
        kind = EnvKind(m.kind)
    except ValueError:
        raise InvalidArgument(f"environment kind must be one of {', '.join(EnvKind)}, not {m.kind[:20]!r}") from None
    return check_definition(Definition(kind, m.text, m.python, m.context))


def environment_to_proto(e: Env) -> environments_pb2.Environment:
    return environments_pb2.Environment(
        project=e.project,
        name=e.name,
        version=e.version,
        definition=definition_to_proto(e.definition),
        digest=e.digest,
        state=str(e.state),
        created_by=e.created_by,
        created_at=e.created_at,
        build_run=e.build_run,
        reason=e.reason,
        source=e.source,
        python_version=e.python_version,
        packages=list(e.packages),
        image_id=e.image_id,
        image_snapshot=e.image_snapshot,
        size_bytes=e.size_bytes,
        cached_on=list(e.cached_on),
    )


def environment_from_proto(m: environments_pb2.Environment) -> Env:
    d = m.definition
    return Env(
        project=m.project,
        name=m.name,
        version=m.version,
        definition=Definition(EnvKind(d.kind), d.text, d.python, d.context),
        state=BuildState(m.state),
        created_by=m.created_by,
        created_at=m.created_at,
        build_run=m.build_run,
        reason=m.reason,
        source=m.source,
        python_version=m.python_version,
        packages=tuple(m.packages),
        image_id=m.image_id,
        image_snapshot=m.image_snapshot,
        size_bytes=m.size_bytes,
        cached_on=tuple(m.cached_on),
    )


def environment_ref_to_proto(r: EnvironmentRef) -> environments_pb2.EnvironmentRef:
    return environments_pb2.EnvironmentRef(
        name=r.name,
        version=r.version,
        definition=definition_to_proto(r.definition),
        image_id=r.image_id,
        image_snapshot=r.image_snapshot,
        build=r.build,
    )


def environment_ref_from_proto(m: environments_pb2.EnvironmentRef) -> EnvironmentRef:
    return EnvironmentRef(
        name=m.name,
        version=m.version,
        definition=definition_from_proto(m.definition),
        image_id=m.image_id,
        image_snapshot=m.image_snapshot,
        build=m.build,
    )
