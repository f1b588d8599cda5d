"""The ASGI app of the MLflow-compatible API: routes under each project's tracking URI, the caller's
credentials, the request's fields, and every answer or error in MLflow's JSON shapes.

Handlers are plain functions (protocol.Endpoint) run on worker threads, so the event loop only parses and
answers. A path MLflow has and Kiln does not answers ENDPOINT_NOT_FOUND naming it, never a bare 404.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import html
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from kiln.coordinator import accounts
from kiln.coordinator.accounts import Authenticator
from kiln.coordinator.context import Coordinator
from kiln.core import defaults
from kiln.core.errors import InvalidArgument, KilnError, Unauthenticated
from kiln.core.permissions import Principal

from . import inrun
from .protocol import MAX_BODY_BYTES, Call, Endpoint, error_of

log = logging.getLogger("kiln.coordinator.mlflow")

BASIC_FOR_S = 60.0  # a user name and password checked once are trusted this long (hashing is slow on purpose)
# A token checked once is trusted this long: a revoked token, a disabled user or an ended run stops
# working within it (as at the gateway, kiln.core.defaults.GATEWAY_TOKEN_ALLOWED_FOR_S).
TOKEN_TRUSTED_FOR_S = defaults.GATEWAY_TOKEN_ALLOWED_FOR_S
MAX_CACHED = 10_000
Raw = Callable[[Request, Principal, str], Awaitable[Response]]  # a handler that reads the request itself


def answer(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, media_type="application/json")


def refusal(e: KilnError) -> Response:
    status, body = error_of(e)
    headers = {"WWW-Authenticate": 'Bearer, Basic realm="kiln"'} if status == 401 else None
    return Response(json.dumps(body), status, headers, media_type="application/json")


class MlflowApi:
    """The app over one coordinator: `endpoints` are the JSON handlers, `raw` the ones that stream bodies
    (artifacts), as (method, path under the tracking URI, handler)."""

    def __init__(
        self,
        ctx: Coordinator,
        authenticator: Authenticator,
        endpoints: Iterable[Endpoint],
        raw: Iterable[tuple[str, str, Raw]] = (),
    ) -> None:
        self.ctx = ctx
        self.authenticator = authenticator
        self.endpoints = list(endpoints)
        self.raw = list(raw)
        self._basic: dict[bytes, tuple[float, Principal]] = {}
        self._bearers: dict[bytes, tuple[float, Principal]] = {}

    def app(self) -> Starlette:
        routes: list[BaseRoute] = [Route(e.full_path, self._json(e), methods=[e.method]) for e in self.endpoints]
        routes += [Route(path, self._streamed(handler), methods=[method]) for method, path, handler in self.raw]
        routes.append(Route("/", self._home, methods=["GET"]))
        routes.append(Route("/{rest:path}", self._unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
        app = Starlette(
            routes=[
                Mount("/projects/{project}", routes=routes),
                Route("/health", self._health, methods=["GET"]),
                Route("/{rest:path}", self._no_project, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            ],
            exception_handlers={HTTPException: self._http_error},
        )
        app.state.ctx = self.ctx  # the streaming handlers' coordinator
        return app

    # -- the parts of every call ------------------------------------------------------------------------

    def _json(self, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            who = await self.caller(request)
            fields = await _fields(request)
            fields.update({k: v for k, v in request.path_params.items() if k != "project"})
            call = Call(self.ctx, who, request.path_params["project"], fields)
            return answer(await asyncio.to_thread(endpoint.handler, call))

        return _guarded(handle)

    def _streamed(self, handler: Raw) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            who = await self.caller(request)
            return await handler(request, who, request.path_params["project"])

        return _guarded(handle)

    async def caller(self, request: Request) -> Principal:
        """Who calls: a Kiln API token as a bearer token, or a Kiln user's name and password (Basic)."""
        header = request.headers.get("authorization", "")
        kind, _, credential = header.partition(" ")
        credential = credential.strip()
        if kind.lower() == "bearer" and credential:
            return await self._bearer_caller(credential)
        if kind.lower() == "basic" and credential:
            return await self._basic_caller(credential, request.client.host if request.client else "")
        raise Unauthenticated(
            "no credentials: set MLFLOW_TRACKING_TOKEN to a Kiln API token (kiln token create --name mlflow), or "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to a Kiln user's"
        )

    async def _bearer_caller(self, token: str) -> Principal:
        """A Kiln API token's (or a run's own token's) caller, remembered TOKEN_TRUSTED_FOR_S: MLflow's
        clients make a call per logged value, and each would otherwise look the token up again."""
        key = hashlib.sha256(token.encode()).digest()
        now = time.monotonic()
        hit = self._bearers.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        if token.startswith(inrun.PREFIX):
            who = await asyncio.to_thread(inrun.run_principal, self.ctx, token)
        else:
            who = await asyncio.to_thread(self.authenticator.principal, token)
        if len(self._bearers) >= MAX_CACHED:
            self._bearers.clear()
        self._bearers[key] = (now + TOKEN_TRUSTED_FOR_S, who)
        return who

    async def _basic_caller(self, credential: str, source: str) -> Principal:
        try:
            user, sep, password = base64.b64decode(credential, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidArgument("the Basic credentials are not base64 of USER:PASSWORD") from None
        if not sep or not user:
            raise InvalidArgument("the Basic credentials are not base64 of USER:PASSWORD")
        key = hashlib.sha256(credential.encode()).digest()
        now = time.monotonic()
        hit = self._basic.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.ctx.signins.begin(user, source) as attempt:
            found = await asyncio.to_thread(accounts.check_password, self.ctx.store, user, password, attempt)
        who = Principal(found.name, found.is_admin)
        if len(self._basic) >= MAX_CACHED:
            self._basic.clear()
        self._basic[key] = (now + BASIC_FOR_S, who)
        return who

    # -- what is not an endpoint ------------------------------------------------------------------------

    async def _health(self, request: Request) -> Response:
        return Response("OK", media_type="text/plain")

    async def _home(self, request: Request) -> Response:
        """Where the MLflow client's "View run at …" links land: Kiln has no MLflow UI, and says where to look."""
        project = html.escape(request.path_params["project"])
        body = (
            f"<!doctype html><title>Kiln: {project}</title><h1>Project {project}</h1><p>This is Kiln's MLflow API, "
            "not MLflow's web UI. See the runs with <code>kiln runs -p "
            f"{project}</code>, one with <code>kiln run show RUN</code>, or in the Kiln desktop app.</p>"
        )
        return Response(body, media_type="text/html")

    async def _unknown(self, request: Request) -> Response:
        return answer(
            {
                "error_code": "ENDPOINT_NOT_FOUND",
                "message": f"{request.method} {request.url.path}: Kiln's MLflow API does not offer this call",
            },
            404,
        )

    async def _no_project(self, request: Request) -> Response:
        return answer(
            {
                "error_code": "ENDPOINT_NOT_FOUND",
                "message": f"{request.url.path}: Kiln serves MLflow per project; set MLFLOW_TRACKING_URI to "
                f'{request.base_url}projects/PROJECT (eval "$(kiln mlflow env -p PROJECT)" sets it)',
            },
            404,
        )

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code = "ENDPOINT_NOT_FOUND" if status in (404, 405) else "BAD_REQUEST"
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        return answer({"error_code": code, "message": f"{request.method} {request.url.path}: {detail}"}, status)


def _guarded(handle: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """A caller's mistake answered in MLflow's error shape; anything else logged and answered INTERNAL_ERROR."""

    async def guarded(request: Request) -> Response:
        try:
            return await handle(request)
        except KilnError as e:
            return refusal(e)
        except Exception:
            log.exception("MLflow API %s %s failed", request.method, request.url.path)
            return answer({"error_code": "INTERNAL_ERROR", "message": "internal error; see the coordinator's log"}, 500)

    return guarded


async def _fields(request: Request) -> dict[str, Any]:
    """The request's fields: for GET the query string (a repeated key as a list), else the JSON body."""
    if request.method == "GET":
        fields: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            if key in fields:
                old = fields[key]
                fields[key] = [*old, value] if isinstance(old, list) else [old, value]
            else:
                fields[key] = value
        return fields
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        raise InvalidArgument(f"the request body is over {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise InvalidArgument(f"the request body is over {MAX_BODY_BYTES} bytes")
    if not body.strip():
        return {}
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"the request body is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("the request body must be a JSON object")
    return doc
