"""Servicers for sign-in, users, tokens and the audit log."""

from __future__ import annotations

from typing import TypeAlias

import grpc

import kiln
from kiln import serde
from kiln.coordinator import accounts, audit
from kiln.coordinator.context import Coordinator
from kiln.coordinator.rpc.interceptor import principal
from kiln.proto.v1 import admin_pb2, admin_pb2_grpc, common_pb2

Ctx: TypeAlias = grpc.aio.ServicerContext


class AuthServicer(admin_pb2_grpc.AuthServicer):
    def __init__(self, ctx: Coordinator, agent_port: int) -> None:
        self.ctx = ctx
        self.agent_port = agent_port

    async def ServerInfo(self, request: common_pb2.Empty, context: Ctx) -> admin_pb2.ServerInfoReply:
        return admin_pb2.ServerInfoReply(
            version=kiln.__version__, ca_fingerprint=self.ctx.tls.ca_fingerprint, agent_port=self.agent_port
        )

    async def Login(self, request: admin_pb2.LoginRequest, context: Ctx) -> admin_pb2.LoginReply:
        secret, token, user = accounts.login(self.ctx.store, request.user, request.password, request.token_name)
        return admin_pb2.LoginReply(token=secret, user=serde.user_to_proto(user), expires_at=token.expires_at)

    async def WhoAmI(self, request: common_pb2.Empty, context: Ctx) -> admin_pb2.WhoAmIReply:
        who = principal()
        user = self.ctx.store.user(who.user)
        token = self.ctx.store.token(who.token_id)
        assert user is not None and token is not None
        return admin_pb2.WhoAmIReply(user=serde.user_to_proto(user), token=serde.token_to_proto(token))

    async def Logout(self, request: common_pb2.Empty, context: Ctx) -> common_pb2.Empty:
        accounts.logout(self.ctx.store, principal())
        return common_pb2.Empty()


class UsersServicer(admin_pb2_grpc.UsersServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    async def CreateUser(self, request: admin_pb2.CreateUserRequest, context: Ctx) -> admin_pb2.User:
        user = accounts.create_user(self.ctx.store, principal(), request.name, request.password, request.is_admin)
        return serde.user_to_proto(user)

    async def ListUsers(self, request: common_pb2.Empty, context: Ctx) -> admin_pb2.UserList:
        users = accounts.list_users(self.ctx.store, principal())
        return admin_pb2.UserList(users=[serde.user_to_proto(u) for u in users])

    async def SetPassword(self, request: admin_pb2.SetPasswordRequest, context: Ctx) -> common_pb2.Empty:
        accounts.set_password(self.ctx.store, principal(), request.user, request.old_password, request.new_password)
        return common_pb2.Empty()

    async def SetUserDisabled(self, request: admin_pb2.SetUserDisabledRequest, context: Ctx) -> admin_pb2.User:
        user = accounts.set_user_disabled(self.ctx.store, principal(), request.user, request.disabled)
        return serde.user_to_proto(user)

    async def CreateToken(self, request: admin_pb2.CreateTokenRequest, context: Ctx) -> admin_pb2.CreatedToken:
        secret, token = accounts.create_token(
            self.ctx.store, principal(), request.name, request.ttl_seconds, request.user
        )
        return admin_pb2.CreatedToken(token=serde.token_to_proto(token), secret=secret)

    async def ListTokens(self, request: admin_pb2.ListTokensRequest, context: Ctx) -> admin_pb2.TokenList:
        tokens = accounts.list_tokens(self.ctx.store, principal(), request.user)
        return admin_pb2.TokenList(tokens=[serde.token_to_proto(t) for t in tokens])

    async def RevokeToken(self, request: admin_pb2.RevokeTokenRequest, context: Ctx) -> admin_pb2.Token:
        return serde.token_to_proto(accounts.revoke_token(self.ctx.store, principal(), request.id))


class AuditServicer(admin_pb2_grpc.AuditServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    async def ListAudit(self, request: admin_pb2.ListAuditRequest, context: Ctx) -> admin_pb2.AuditList:
        records = audit.list_audit(
            self.ctx.store,
            principal(),
            request.after_seq,
            request.limit,
            request.actor,
            request.action_prefix,
        )
        return admin_pb2.AuditList(records=[serde.audit_to_proto(r) for r in records])

    async def VerifyAudit(self, request: common_pb2.Empty, context: Ctx) -> admin_pb2.AuditVerdict:
        v = audit.verify(self.ctx.store, principal())
        return admin_pb2.AuditVerdict(ok=v.ok, records=v.records, first_broken_seq=v.first_broken_seq, reason=v.reason)
