"""The one interceptor every call passes: authenticates the caller, runs the servicer's blocking work off
the event loop, maps domain errors to statuses, and reports each call to the metrics when they are on.

Servicer methods with a single request and reply are plain functions (`def`): they run on a worker lane
(`kiln.coordinator.rpc.workers`), authentication included, and never block the loop. Streaming methods
are async and hand their own blocking steps to the workers.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import grpc

from kiln.coordinator.access import require_node_call
from kiln.coordinator.accounts import Authenticator
from kiln.coordinator.ops.metrics import RpcMetrics
from kiln.coordinator.rpc.workers import Lane, Workers, lane_of
from kiln.core.errors import KilnError, Unauthenticated
from kiln.core.permissions import Principal

log = logging.getLogger("kiln.coordinator.rpc")

PUBLIC_METHODS = frozenset({"/kiln.v1.Auth/ServerInfo", "/kiln.v1.Auth/Login", "/kiln.v1.AgentGateway/Enroll"})

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("kiln_principal")
# The caller's address without its port ("" when not over TCP), for the sign-in throttle; read on the
# loop, it travels to the workers with the rest of the call's context.
_source: contextvars.ContextVar[str] = contextvars.ContextVar("kiln_source", default="")

# What a caller presented: ("node", common name, certificate PEM) or ("token", secret).
Credentials = tuple[str, ...]
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic in the stubs only
Unary = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
Streaming = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]


def principal() -> Principal:
    """The authenticated caller of the current call (set by the interceptor)."""
    return _principal.get()


def source() -> str:
    """The address the current call came from (set by the interceptor, for every call, public ones too)."""
    return _source.get()


def _source_of(peer: str) -> str:
    """The host of a gRPC peer: "ipv4:10.0.0.5:51234" → "10.0.0.5", "ipv6:%5B::1%5D:51234" → "::1"."""
    scheme, _, rest = urllib.parse.unquote(peer or "").partition(":")
    if scheme not in ("ipv4", "ipv6"):
        return ""
    return rest.rpartition(":")[0].strip("[]")


REFUSAL_TEXT = 300  # characters of a refusal's message kept in the log line


def _refused(method: str, error: KilnError, who: Principal | None) -> None:
    """A call refused because of what its caller sent or may do (a domain error): one WARNING line, so an
    operator sees who tried what and why it was refused; never a traceback, which would read as a bug."""
    if not error.logged:
        return
    caller = (f"node {who.node}" if who.node else who.user) if who else "an unauthenticated caller"
    text = " ".join(str(error).split())
    log.warning("refused %s for %s: %s", method, caller, text[:REFUSAL_TEXT])


class _RefusedOnWorker(Exception):
    """A domain error raised on a worker lane, with the caller it was raised for: the worker's context,
    where the principal was set, is not the one the reply is sent from."""

    def __init__(self, error: KilnError, who: Principal | None) -> None:
        super().__init__(str(error))
        self.error, self.who = error, who


def rewrap(
    handler: Handler,
    unary: Callable[[Callable[..., Any]], Unary],
    streaming: Callable[[Callable[..., Any]], Streaming],
) -> Handler:
    """The same kind of handler (the four gRPC call shapes) with its behaviour wrapped: `unary` for the
    shapes with one reply, `streaming` for those that stream replies."""
    io = (handler.request_deserializer, handler.response_serializer)
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), *io)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), *io)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), *io)
    assert handler.stream_stream is not None
    return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), *io)


def _credentials(context: grpc.aio.ServicerContext) -> Credentials:
    """What the caller presented, read on the loop (cheap); checking it is the workers' job."""
    auth = context.auth_context()
    names = auth.get("x509_common_name")
    if names:  # only the agent port asks for (and verifies) client certificates
        return ("node", next(iter(names)).decode(), next(iter(auth["x509_pem_cert"])).decode())
    metadata = dict(context.invocation_metadata() or ())
    header = metadata.get("authorization", "")
    if not isinstance(header, str) or not header.startswith("Bearer "):
        raise Unauthenticated("this call needs a signed-in user: run kiln login (no token was sent)")
    return ("token", header[7:].strip())


def _agent_only(method: str, credentials: Credentials) -> Credentials:
    """Node certificates serve the agent link only (kiln.core.permissions.AGENT_CALLS): any other call with
    one is refused here, on the loop, before it costs a worker anything."""
    if credentials[0] == "node":
        who = Principal.for_node(credentials[1])
        try:
            require_node_call(who, method)
        except KilnError:
            _principal.set(who)  # for the refusal's log line: which certificate tried what
            raise
    return credentials


class ServerInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, authenticator: Authenticator, workers: Workers, metrics: RpcMetrics | None = None) -> None:
        self.authenticator = authenticator
        self.workers = workers
        self.metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        public = method in PUBLIC_METHODS
        return rewrap(
            handler,
            lambda behaviour: self._unary(behaviour, method, public),
            lambda behaviour: self._streaming(behaviour, method, public),
        )

    def _authenticate(self, credentials: Credentials | None) -> None:
        """Checks what the caller presented against the store (on a worker) and makes it the principal."""
        if credentials is None:
            return
        if credentials[0] == "node":
            _principal.set(self.authenticator.node(credentials[1], credentials[2].encode()))
        else:
            _principal.set(self.authenticator.principal(credentials[1]))

    def _call(self, credentials: Credentials | None, behaviour: Callable[..., Any], *args: Any) -> Any:
        try:
            self._authenticate(credentials)
            return behaviour(*args)
        except KilnError as e:
            raise _RefusedOnWorker(e, _principal.get(None)) from None

    async def _signed_in(self, credentials: Credentials | None) -> None:
        """Authenticates on a worker, then sets the principal in this call's own context."""
        if credentials is not None:
            self._admit("quick", credentials)
            found = await self.workers.run_admitted("quick", self._checked, credentials)
            _principal.set(found)

    def _admit(self, lane: Lane, credentials: Credentials | None) -> None:
        if credentials is None or credentials[0] != "node":
            self.workers.admit(lane)

    def _checked(self, credentials: Credentials) -> Principal:
        self._authenticate(credentials)
        return principal()

    def _unary(self, behaviour: Callable[..., Any], method: str, public: bool) -> Unary:
        lane = lane_of(behaviour)
        blocking = not inspect.iscoroutinefunction(behaviour)

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started, code = time.perf_counter(), "OK"
            _source.set(_source_of(context.peer()))
            try:
                credentials = None if public else _agent_only(method, _credentials(context))
                if blocking:
                    self._admit(lane, credentials)
                    return await self.workers.run_admitted(lane, self._call, credentials, behaviour, request, context)
                await self._signed_in(credentials)
                return await behaviour(request, context)
            except grpc.aio.AbortError:
                raise
            except _RefusedOnWorker as r:
                code = r.error.code
                _refused(method, r.error, r.who)
                await context.abort(grpc.StatusCode[code], str(r.error))
            except KilnError as e:
                code = e.code
                _refused(method, e, _principal.get(None))
                await context.abort(grpc.StatusCode[e.code], str(e))
            except Exception:
                code = "INTERNAL"
                log.exception("internal error in %s", method)
                await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the coordinator's log")
            finally:
                if self.metrics is not None:
                    self.metrics.answered(method, code, time.perf_counter() - started)

        return wrapped

    def _streaming(self, behaviour: Callable[..., AsyncIterator[Any]], method: str, public: bool) -> Streaming:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            code = "OK"
            _source.set(_source_of(context.peer()))
            try:
                await self._signed_in(None if public else _agent_only(method, _credentials(context)))
                async for reply in behaviour(request, context):
                    yield reply
            except grpc.aio.AbortError:
                raise
            except KilnError as e:
                code = e.code
                _refused(method, e, _principal.get(None))
                await context.abort(grpc.StatusCode[e.code], str(e))
            except Exception:
                code = "INTERNAL"
                log.exception("internal error in %s", method)
                await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the coordinator's log")
            finally:
                if self.metrics is not None:
                    self.metrics.answered(method, code, None)

        return wrapped
