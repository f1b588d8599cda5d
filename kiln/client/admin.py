"""The client's calls of admin.proto: sign-in, users, tokens, the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from kiln.client.base import Connection

if TYPE_CHECKING:
    from kiln.core.audit import AuditRecord, ChainVerdict, Checkpoint
    from kiln.core.models import (
        ServerInfo,
        Token,
        User,
    )
    from kiln.proto.v1 import (
        admin_pb2,
        admin_pb2_grpc,
        common_pb2,
    )
    from kiln.serde import admin as admin_wire
else:
    from kiln.client.base import (
        admin_pb2,
        admin_pb2_grpc,
        admin_wire,
        common_pb2,
    )


class AdminCalls(Connection):
    # -- identity ---------------------------------------------------------------------------------------

    def server_info(self) -> ServerInfo:
        return admin_wire.server_info_from_proto(
            self._call(self._stub(admin_pb2_grpc.AuthStub).ServerInfo, common_pb2.Empty(), timeout=10)
        )

    def login(self, user: str, password: str, token_name: str = "") -> tuple[str, User, float]:
        req = admin_pb2.LoginRequest(user=user, password=password, token_name=token_name)
        reply = self._call(self._stub(admin_pb2_grpc.AuthStub).Login, req)
        return reply.token, admin_wire.user_from_proto(reply.user), reply.expires_at

    def whoami(self) -> tuple[User, Token]:
        reply = self._call(self._stub(admin_pb2_grpc.AuthStub).WhoAmI, common_pb2.Empty())
        return admin_wire.user_from_proto(reply.user), admin_wire.token_from_proto(reply.token)

    def logout(self) -> None:
        self._call(self._stub(admin_pb2_grpc.AuthStub).Logout, common_pb2.Empty())

    def create_user(self, name: str, password: str, is_admin: bool = False) -> User:
        req = admin_pb2.CreateUserRequest(name=name, password=password, is_admin=is_admin)
        return admin_wire.user_from_proto(self._call(self._stub(admin_pb2_grpc.UsersStub).CreateUser, req))

    def list_users(self) -> list[User]:
        stub = self._stub(admin_pb2_grpc.UsersStub)
        return self._listing(stub.ListUsers, admin_pb2.ListUsersRequest(), "users", admin_wire.user_from_proto)

    def set_password(self, new: str, old: str = "", user: str = "") -> None:
        req = admin_pb2.SetPasswordRequest(user=user, old_password=old, new_password=new)
        self._call(self._stub(admin_pb2_grpc.UsersStub).SetPassword, req)

    def set_user_disabled(self, user: str, disabled: bool) -> User:
        req = admin_pb2.SetUserDisabledRequest(user=user, disabled=disabled)
        return admin_wire.user_from_proto(self._call(self._stub(admin_pb2_grpc.UsersStub).SetUserDisabled, req))

    def create_token(self, name: str = "", ttl_seconds: float = 0, user: str = "") -> tuple[str, Token]:
        req = admin_pb2.CreateTokenRequest(name=name, ttl_seconds=ttl_seconds, user=user)
        reply = self._call(self._stub(admin_pb2_grpc.UsersStub).CreateToken, req)
        return reply.secret, admin_wire.token_from_proto(reply.token)

    def list_tokens(self, user: str = "") -> list[Token]:
        stub = self._stub(admin_pb2_grpc.UsersStub)
        return self._listing(
            stub.ListTokens, admin_pb2.ListTokensRequest(user=user), "tokens", admin_wire.token_from_proto
        )

    def revoke_token(self, token_id: str) -> Token:
        reply = self._call(self._stub(admin_pb2_grpc.UsersStub).RevokeToken, admin_pb2.RevokeTokenRequest(id=token_id))
        return admin_wire.token_from_proto(reply)

    def list_audit(
        self, after_seq: int = 0, limit: int = 0, actor: str = "", action_prefix: str = ""
    ) -> list[AuditRecord]:
        """The records after `after_seq`, oldest first: `limit` of them (0: every one)."""
        return [r for page in self.audit_pages(after_seq, limit, actor, action_prefix) for r in page]

    def audit_pages(
        self, after_seq: int = 0, limit: int = 0, actor: str = "", action_prefix: str = ""
    ) -> Iterator[list[AuditRecord]]:
        req = admin_pb2.ListAuditRequest(after_seq=after_seq, limit=limit, actor=actor, action_prefix=action_prefix)
        return self._pages(
            self._stub(admin_pb2_grpc.AuditStub).ListAudit,
            req,
            lambda r: [admin_wire.audit_from_proto(a) for a in r.records],
            limit,
        )

    def verify_audit(self, anchor: str = "") -> ChainVerdict:
        """The chain, its signatures and checkpoints, and (given one `audit_anchor` made) that anchor."""
        request = admin_pb2.VerifyAuditRequest(anchor=anchor)
        return admin_wire.verdict_from_proto(
            self._call(self._stub(admin_pb2_grpc.AuditStub).VerifyAudit, request, timeout=600)
        )

    def audit_anchor(self) -> Checkpoint:
        """A signed checkpoint of the audit log's head, to keep off the host (format_anchor gives its line)."""
        reply = self._call(self._stub(admin_pb2_grpc.AuditStub).AnchorAudit, common_pb2.Empty())
        return admin_wire.checkpoint_from_proto(reply)
