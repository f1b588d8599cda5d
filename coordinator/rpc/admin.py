"""admin.proto: sign-in, users, tokens and the audit log."""

from __future__ import annotations

from typing import TypeAlias

import grpc

import kiln
from kiln.coordinator import accounts, audit
from kiln.coordinator.context import Coordinator
from kiln.coordinator.rpc.interceptor import principal, source
from kiln.coordinator.rpc.paging import encoded
from kiln.coordinator.rpc.workers import Workers, heavy
from kiln.core import paging
from kiln.core.models import ServerInfo
from kiln.proto.v1 import admin_pb2, admin_pb2_grpc, common_pb2
from kiln.serde import admin as wire

Ctx: TypeAlias = grpc.aio.ServicerContext


class AuthServicer(admin_pb2_grpc.AuthServicer):
    def __init__(self, ctx: Coordinator, agent_port: int, workers: Workers) -> None:
        self.ctx = ctx
        self.agent_port = agent_port
        self.workers = workers

    def ServerInfo(self, request: common_pb2.Empty, context: Ctx) -> admin_pb2.ServerInfoReply:
        mlflow_port = int(self.ctx.mlflow_url.rsplit(":", 1)[1]) if self.ctx.mlflow_url else 0
        info = ServerInfo(
            version=kiln.__version__,
            ca_fingerprint=self.ctx.tls.ca_fingerprint,
            agent_port=self.agent_port,
            mlflow_port=mlflow_port,
        )
        return wire.server_info_to_proto(info)

    async def Login(self, request: admin_pb2.LoginRequest, context: Ctx) -> admin_pb2.LoginReply:
        # The throttle is asked here, on the loop: a refused guess costs no hashing and takes no place in
        # the heavy lane, where other users' sign-ins wait.
        with self.ctx.signins.begin(request.user, source()) as attempt:
            secret, token, user = await self.workers.run(
                "heavy",
                accounts.login,
                self.ctx.store,
                request.user,
                request.password,
                request.token_name,
                attempt,
                self.ctx.config.max_token_lifetime_s,
            )
        return admin_pb2.LoginReply(token=secret, user=wire.user_to_proto(user), expires_at=token.expires_at)

    def WhoAmI(self, request: common_pb2.Empty, context: Ctx) -> admin_pb2.WhoAmIReply:
        user, token = accounts.whoami(self.ctx.store, principal())
        return admin_pb2.WhoAmIReply(user=wire.user_to_proto(user), token=wire.token_to_proto(token))

    def Logout(self, request: common_pb2.Empty, context: Ctx) -> common_pb2.Empty:
        accounts.logout(self.ctx.store, principal())
        return common_pb2.Empty()


class UsersServicer(admin_pb2_grpc.UsersServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    @heavy
    def CreateUser(self, request: admin_pb2.CreateUserRequest, context: Ctx) -> admin_pb2.User:
        user = accounts.create_user(self.ctx.store, principal(), request.name, request.password, request.is_admin)
        return wire.user_to_proto(user)

    def ListUsers(self, request: admin_pb2.ListUsersRequest, context: Ctx) -> admin_pb2.UserList:
        page = paging.request("ListUsers", request.page_size, request.page_token)
        rows, token = encoded("ListUsers", accounts.list_users(self.ctx.store, principal(), page), wire.user_to_proto)
        return admin_pb2.UserList(users=rows, next_page_token=token)

    @heavy
    def SetPassword(self, request: admin_pb2.SetPasswordRequest, context: Ctx) -> common_pb2.Empty:
        accounts.set_password(
            self.ctx.store,
            principal(),
            request.user,
            request.old_password,
            request.new_password,
            self.ctx.signins,
            source(),
        )
        return common_pb2.Empty()

    def SetUserDisabled(self, request: admin_pb2.SetUserDisabledRequest, context: Ctx) -> admin_pb2.User:
        user = accounts.set_user_disabled(self.ctx.store, principal(), request.user, request.disabled)
        return wire.user_to_proto(user)

    def CreateToken(self, request: admin_pb2.CreateTokenRequest, context: Ctx) -> admin_pb2.CreatedToken:
        secret, token = accounts.create_token(
            self.ctx.store,
            principal(),
            request.name,
            request.ttl_seconds,
            request.user,
            self.ctx.config.max_token_lifetime_s,
        )
        return admin_pb2.CreatedToken(token=wire.token_to_proto(token), secret=secret)

    def ListTokens(self, request: admin_pb2.ListTokensRequest, context: Ctx) -> admin_pb2.TokenList:
        page = paging.request("ListTokens", request.page_size, request.page_token)
        found = accounts.list_tokens(self.ctx.store, principal(), request.user, page)
        rows, token = encoded("ListTokens", found, wire.token_to_proto)
        return admin_pb2.TokenList(tokens=rows, next_page_token=token)

    def RevokeToken(self, request: admin_pb2.RevokeTokenRequest, context: Ctx) -> admin_pb2.Token:
        return wire.token_to_proto(accounts.revoke_token(self.ctx.store, principal(), request.id))


class AuditServicer(admin_pb2_grpc.AuditServicer):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx

    def ListAudit(self, request: admin_pb2.ListAuditRequest, context: Ctx) -> admin_pb2.AuditList:
        page = paging.request("ListAudit", request.page_size or request.limit, request.page_token)
        records = audit.list_audit(
            self.ctx.store, principal(), request.after_seq, request.actor, request.action_prefix, page
        )
        rows, token = encoded("ListAudit", records, wire.audit_to_proto)
        return admin_pb2.AuditList(records=rows, next_page_token=token)

    @heavy
    def VerifyAudit(self, request: admin_pb2.VerifyAuditRequest, context: Ctx) -> admin_pb2.AuditVerdict:
        return wire.verdict_to_proto(audit.verify(self.ctx.store, principal(), request.anchor))

    @heavy
    def AnchorAudit(self, request: common_pb2.Empty, context: Ctx) -> admin_pb2.AuditCheckpoint:
        return wire.checkpoint_to_proto(audit.anchor(self.ctx.store, principal()))
