"""The one interceptor every call passes: authenticates the caller, and maps domain errors to statuses."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from kiln.coordinator.accounts import Authenticator
from kiln.core.errors import KilnError, Unauthenticated
from kiln.core.permissions import Principal

log = logging.getLogger("kiln.coordinator.rpc")

PUBLIC_METHODS = frozenset({"/kiln.v1.Auth/ServerInfo", "/kiln.v1.Auth/Login", "/kiln.v1.AgentGateway/Enroll"})

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("kiln_principal")


def principal() -> Principal:
    """The authenticated caller of the current call (set by the interceptor)."""
    return _principal.get()


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        public = details.method in PUBLIC_METHODS
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, public),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._unary(handler.stream_unary, public),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(handler.unary_stream, public),
                handler.request_deserializer,
                handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            self._streaming(handler.stream_stream, public),
            handler.request_deserializer,
            handler.response_serializer,
        )

    def _authenticate(self, context: grpc.aio.ServicerContext) -> None:
        names = context.auth_context().get("x509_common_name")
        if names:  # only the agent port asks for (and verifies) client certificates
            pem = context.auth_context()["x509_pem_cert"][0]
            _principal.set(self.authenticator.node(names[0].decode(), pem))
            return
        metadata = dict(context.invocation_metadata() or ())
        header = metadata.get("authorization", "")
        if not isinstance(header, str) or not header.startswith("Bearer "):
            raise Unauthenticated("this call needs a signed-in user: run kiln login (no token was sent)")
        _principal.set(self.authenticator.principal(header[7:].strip()))

    def _unary(self, behaviour: Callable[..., Awaitable[Any]], public: bool) -> Callable[..., Awaitable[Any]]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                if not public:
                    self._authenticate(context)
                return await behaviour(request, context)
            except KilnError as e:
                await context.abort(grpc.StatusCode[e.code], str(e))
            except Exception:
                log.exception("internal error")
                await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the coordinator's log")

        return wrapped

    def _streaming(
        self, behaviour: Callable[..., AsyncIterator[Any]], public: bool
    ) -> Callable[..., AsyncIterator[Any]]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                if not public:
                    self._authenticate(context)
                async for reply in behaviour(request, context):
                    yield reply
            except KilnError as e:
                await context.abort(grpc.StatusCode[e.code], str(e))
            except Exception:
                log.exception("internal error")
                await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the coordinator's log")

        return wrapped
