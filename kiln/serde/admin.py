"""admin.proto: users, tokens, sign-in, server info and the audit log."""

from __future__ import annotations

from kiln.core.audit import AuditRecord, ChainVerdict, Checkpoint, Finding, format_anchor
from kiln.core.models import ServerInfo, Token, User
from kiln.proto.v1 import admin_pb2


def user_to_proto(u: User) -> admin_pb2.User:
    return admin_pb2.User(name=u.name, is_admin=u.is_admin, disabled=u.disabled, created_at=u.created_at)


def user_from_proto(m: admin_pb2.User) -> User:
    return User(name=m.name, is_admin=m.is_admin, disabled=m.disabled, created_at=m.created_at)


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
    return Token(
        id=m.id,
        user=m.user,
        name=m.name,
        created_at=m.created_at,
        expires_at=m.expires_at,
        revoked_at=m.revoked_at,
        last_used_at=m.last_used_at,
    )


def server_info_to_proto(i: ServerInfo) -> admin_pb2.ServerInfoReply:
    return admin_pb2.ServerInfoReply(
        version=i.version, ca_fingerprint=i.ca_fingerprint, agent_port=i.agent_port, mlflow_port=i.mlflow_port
    )


def server_info_from_proto(m: admin_pb2.ServerInfoReply) -> ServerInfo:
    return ServerInfo(
        version=m.version, ca_fingerprint=m.ca_fingerprint, agent_port=m.agent_port, mlflow_port=m.mlflow_port
    )


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
        signature=r.signature,
        signed_by=r.signed_by,
    )


def audit_from_proto(m: admin_pb2.AuditRecord) -> AuditRecord:
    return AuditRecord(
        seq=m.seq,
        time=m.time,
        actor=m.actor,
        action=m.action,
        target=m.target,
        details_json=m.details_json,
        prev_hash=m.prev_hash,
        hash=m.hash,
        signature=m.signature,
        signed_by=m.signed_by,
    )


def verdict_to_proto(v: ChainVerdict) -> admin_pb2.AuditVerdict:
    return admin_pb2.AuditVerdict(
        ok=v.ok,
        records=v.records,
        first_broken_seq=v.first_broken_seq,
        reason=v.reason,
        findings=[admin_pb2.AuditFinding(check=f.check, seq=f.seq, message=f.message) for f in v.findings],
        signed_seq=v.signed_seq,
        key=v.key,
    )


def verdict_from_proto(m: admin_pb2.AuditVerdict) -> ChainVerdict:
    return ChainVerdict(
        ok=m.ok,
        records=m.records,
        first_broken_seq=m.first_broken_seq,
        reason=m.reason,
        findings=tuple(Finding(f.check, f.seq, f.message) for f in m.findings),
        signed_seq=m.signed_seq,
        key=m.key,
    )


def checkpoint_to_proto(c: Checkpoint) -> admin_pb2.AuditCheckpoint:
    return admin_pb2.AuditCheckpoint(
        seq=c.seq, hash=c.hash, time=c.time, key=c.key, signature=c.signature, anchor=format_anchor(c)
    )


def checkpoint_from_proto(m: admin_pb2.AuditCheckpoint) -> Checkpoint:
    return Checkpoint(seq=m.seq, hash=m.hash, time=m.time, key=m.key, signature=m.signature)
