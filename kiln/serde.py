"""Conversions between wire messages (kiln.proto) and domain values (kiln.core): x_to_proto / x_from_proto.

Shared by both ends of the wire, the coordinator's servicers and the client, so a field is mapped once.
"""

from __future__ import annotations

from kiln.core.audit import AuditRecord
from kiln.core.blobparts import BlobPart
from kiln.core.manifest import Entry
from kiln.core.models import Project, Snapshot, Token, User
from kiln.core.permissions import Role
from kiln.proto.v1 import admin_pb2, common_pb2, projects_pb2


def user_to_proto(u: User) -> admin_pb2.User:
    return admin_pb2.User(name=u.name, is_admin=u.is_admin, disabled=u.disabled, created_at=u.created_at)


def user_from_proto(m: admin_pb2.User) -> User:
    return User(m.name, m.is_admin, m.disabled, m.created_at)


def token_to_proto(t: Token) -> admin_pb2.Token:
    return admin_pb2.Token(
        id=t.id,
        user=t.user,
        name=t.name,
        created_at=t.created_at,
        expires_at=t.expires_at,
        revoked_at=t.revoked_at,
        last_used_at=t.last_used_at,
    )


def token_from_proto(m: admin_pb2.Token) -> Token:
    return Token(m.id, m.user, m.name, m.created_at, m.expires_at, m.revoked_at, m.last_used_at)


def audit_to_proto(r: AuditRecord) -> admin_pb2.AuditRecord:
    return admin_pb2.AuditRecord(
        seq=r.seq,
        time=r.time,
        actor=r.actor,
        action=r.action,
        target=r.target,
        details_json=r.details_json,
        prev_hash=r.prev_hash,
        hash=r.hash,
    )


def audit_from_proto(m: admin_pb2.AuditRecord) -> AuditRecord:
    return AuditRecord(m.seq, m.time, m.actor, m.action, m.target, m.details_json, m.prev_hash, m.hash)


def project_to_proto(p: Project) -> projects_pb2.Project:
    return projects_pb2.Project(
        name=p.name,
        description=p.description,
        created_by=p.created_by,
        created_at=p.created_at,
        archived_at=p.archived_at,
        my_role=p.my_role,
        members=[projects_pb2.Member(user=u, role=str(r)) for u, r in sorted(p.members.items())],
    )


def project_from_proto(m: projects_pb2.Project) -> Project:
    return Project(
        m.name,
        m.description,
        m.created_by,
        m.created_at,
        m.archived_at,
        {x.user: Role.parse(x.role) for x in m.members},
        m.my_role,
    )


def snapshot_to_proto(s: Snapshot) -> projects_pb2.Snapshot:
    return projects_pb2.Snapshot(
        id=s.id,
        project=s.project,
        parent=s.parent,
        message=s.message,
        author=s.author,
        created_at=s.created_at,
        files=s.files,
        bytes=s.bytes,
    )


def snapshot_from_proto(m: projects_pb2.Snapshot) -> Snapshot:
    return Snapshot(m.id, m.project, m.parent, m.message, m.author, m.created_at, m.files, m.bytes)


def entry_to_proto(e: Entry) -> common_pb2.ManifestEntry:
    return common_pb2.ManifestEntry(path=e.path, mode=e.mode, size=e.size, digest=e.digest)


def entry_from_proto(m: common_pb2.ManifestEntry) -> Entry:
    return Entry(m.path, m.mode, m.size, m.digest)


def part_to_proto(p: BlobPart) -> common_pb2.BlobPart:
    return common_pb2.BlobPart(digest=p.digest, offset=p.offset, data=p.data, last=p.last)


def part_from_proto(m: common_pb2.BlobPart) -> BlobPart:
    return BlobPart(m.digest, m.offset, m.data, m.last)
