"""The gateway's ASGI application: authenticate, route by traffic weights, forward, record, answer.

The order of checks on `/endpoints/NAME/invocations` is chosen so that junk costs nothing: a request with
no token is refused before anything is looked up, a name not in the route table is refused without asking
the backend (a flood of made-up names would otherwise miss the token cache each time), and only then is the
token checked (cached) and the body read (bounded). Every answer carries a fresh prediction id; every
request that got past authentication is written to the spool before its answer leaves (failures always,
successes as the endpoint's sample rate says), and if the spool cannot take it the client gets 503 rather
than a prediction the ledger never heard of.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kiln.core import defaults
from kiln.core.deployments import (
    MAX_BODY_BYTES,
    MODEL_VERSION_HEADER,
    PREDICTION_ID_HEADER,
    EndpointRoute,
    PredictionRecord,
    ReplicaRoute,
    RouteTable,
    pick_version,
    sticky_bucket,
)

from .backend import AuthCache, Authorization, GatewayBackend
from .ledger import Spool, clip
from .proxy import BadAnswer, ReplicaTimeout, ReplicaUnreachable, Router

log = logging.getLogger("kiln.coordinator.gateway")

MAX_SHADOWS_IN_FLIGHT = 256  # beyond this, requests are not mirrored (a slow shadow must not pile up memory)
MAX_FEEDBACK_ROWS = 10_000
MAX_LABEL_BYTES = 1024  # one label, JSON-encoded
MAX_PREDICTION_ID = 128
_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_TOO_LARGE",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_PID = PREDICTION_ID_HEADER.lower().encode()
_VERSION = MODEL_VERSION_HEADER.lower().encode()


def new_prediction_id() -> str:
    return "p-" + secrets.token_hex(10)


def error(status: int, message: str, headers: dict[str, str] | None = None, code: str = "") -> Response:
    """Every refusal, in MLflow's error shape: what went wrong and what to do about it."""
    body = json.dumps({"error_code": code or _CODES.get(status, "ERROR"), "message": message})
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return Response(body, status, headers, media_type="application/json")


class _TooLarge(Exception):
    pass


class _BadLength(Exception):
    pass


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused from its Content-Length before a byte is read, and cut off at `limit` when it
    streams without one."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise _BadLength()
        if int(declared) > limit:
            raise _TooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@dataclass(frozen=True)
class _Call:
    """One request to an endpoint, as it goes through the gateway."""

    pid: str
    endpoint: EndpointRoute
    caller: str
    content_type: str
    arrived: float  # time.time(), for the ledger
    started: float  # perf_counter(), for the latency
    body: bytes = b""
    keep: bool = True  # the sample rate's draw: kept in the ledger even when it succeeds

    def headers(self, pid: str) -> list[tuple[str, str]]:
        sent = [("Content-Type", self.content_type)] if self.content_type else []
        return [*sent, (PREDICTION_ID_HEADER, pid)]

    def record(
        self, version: int, replica: ReplicaRoute | None, status: int, said: bytes, why: str, shadow: bool = False
    ) -> PredictionRecord:
        request, response, cut = clip(self.body, said)
        return PredictionRecord(
            id=self.pid + "-shadow" if shadow else self.pid,
            endpoint=self.endpoint.name,
            version=version,
            time=self.arrived,
            latency_ms=(time.perf_counter() - self.started) * 1000,
            status=status,
            replica=replica.run_id if replica else "",
            node=replica.node if replica else "",
            shadow=shadow,
            caller=self.caller,
            content_type=self.content_type,
            request=request,
            response=response,
            truncated=cut,
            error=why,
        )


@dataclass(frozen=True)
class _Served:
    """How a request went: the response to send (the replica's answer or a refusal), and who gave it."""

    response: Response
    version: int = 0
    replica: ReplicaRoute | None = None
    said: bytes | None = None  # the replica's answer, when it gave one
    error: str = ""


class Front:
    """The application's state: the route table (replaced whole by the poller), the token cache, the router
    and the spool. One per gateway process, on one event loop."""

    def __init__(
        self, backend: GatewayBackend, spool: Spool, router: Router, bucket: Callable[[], int] | None = None
    ) -> None:
        self.backend, self.spool, self.router = backend, spool, router
        self.table = RouteTable(0)
        self.auth = AuthCache(backend)
        self.bucket = bucket or (lambda: random.randrange(100))
        self.shadows: set[asyncio.Task[None]] = set()
        self.shadows_skipped = 0

    def set_table(self, table: RouteTable) -> None:
        self.table = table
        self.router.keep_only({r.address for e in table.endpoints.values() for v in e.versions for r in v.replicas})

    def app(self) -> Starlette:
        routes = [
            Route("/endpoints/{name}/invocations", self.invocations, methods=["POST"]),
            Route("/endpoints/{name}/feedback", self.feedback, methods=["POST"]),
            Route("/health", self.health, methods=["GET"]),
        ]
        handlers: Any = {HTTPException: _http_error, Exception: _internal_error}
        return Starlette(routes=routes, exception_handlers=handlers)

    async def health(self, request: Request) -> Response:
        body = json.dumps({"status": "ok", "generation": self.table.generation})
        return Response(body, media_type="application/json")

    async def _authorize(self, request: Request, name: str) -> Authorization | Response:
        token = bearer(request)
        if not token:
            return _no_token(name)
        try:
            auth = await self.auth.check(token, name)
        except Exception as e:
            log.warning("cannot check a token with the coordinator: %s", e)
            message = "the gateway cannot reach the coordinator to check the token; retry in a moment"
            return error(503, message, {"Retry-After": "1"})
        if auth.allowed:
            return auth
        status = auth.status if auth.status in (401, 403, 404) else 403
        return error(status, auth.message or f"the token may not call endpoint {name}")

    async def invocations(self, request: Request) -> Response:
        arrived, started = time.time(), time.perf_counter()
        pid = new_prediction_id()
        name = request.path_params["name"]
        endpoint = self.table.endpoints.get(name)
        auth: Authorization | Response
        if not bearer(request):
            response = _no_token(name)  # whether or not the endpoint exists: strangers learn nothing
        elif endpoint is None:
            response = error(404, f"endpoint {name} does not exist or is not deployed; check the name in the URL")
        elif isinstance(auth := await self._authorize(request, name), Response):
            response = auth
        else:
            content_type = request.headers.get("content-type", "")
            call = _Call(pid, endpoint, auth.caller, content_type, arrived, started)
            try:
                response = await self._invoke(request, call)
            except Exception as e:  # still an answer with its prediction id, so the client can report it
                response = await _internal_error(request, e)
        response.raw_headers.append((_PID, pid.encode()))
        return response

    async def _invoke(self, request: Request, call: _Call) -> Response:
        call = replace(call, keep=random.random() < call.endpoint.sample_rate)
        try:
            call = replace(call, body=await read_body(request))
        except _TooLarge:
            too_large = f"the request body is larger than {MAX_BODY_BYTES} bytes, the most an endpoint takes"
            served = _Served(error(413, too_large + "; send fewer rows per request"), error="request too large")
        except _BadLength:
            served = _Served(error(400, "the Content-Length header is not a number"), error="bad Content-Length")
        else:
            served = await self._forward(request, call)
        status = served.response.status_code
        said = served.said if served.said is not None else bytes(served.response.body)
        if call.keep or status >= 400 or served.error:
            try:
                self.spool.append(call.record(served.version, served.replica, status, said, served.error))
            except OSError as e:
                log.error("cannot write the prediction ledger: %s", e)
                message = f"the gateway cannot write its prediction ledger ({e}); an operator must free its spool"
                return error(503, message, {"Retry-After": "5"})
        if served.said is not None:
            self._mirror(call)
        return served.response

    async def _forward(self, request: Request, call: _Call) -> _Served:
        """Tries up to defaults.GATEWAY_TRIES replicas: the chosen version's first, then the other versions'."""
        endpoint = call.endpoint
        sticky = request.headers.get(endpoint.sticky_header) if endpoint.sticky_header else None
        version = pick_version(endpoint.versions, sticky_bucket(sticky) if sticky is not None else self.bucket())
        reasons = []
        for v, replica in self.router.candidates(endpoint, version, defaults.GATEWAY_TRIES):
            at = f"version {v.version} of endpoint {endpoint.name}"
            try:
                answer = await self.router.pool.request(
                    replica.address, "POST", "/invocations", call.body, call.headers(call.pid)
                )
            except ReplicaUnreachable as e:
                self.router.down(replica.address, str(e))
                reasons.append(str(e))
                continue
            except ReplicaTimeout as e:
                late = error(504, f"{at} did not answer in time; retry later or send less per request")
                return _Served(late, v.version, replica, error=str(e))
            except BadAnswer as e:
                return _Served(error(502, f"{at} answered badly: {e}"), v.version, replica, error=str(e))
            response = Response(answer.body, answer.status)
            response.raw_headers.extend(answer.headers)
            response.raw_headers.append((_VERSION, str(v.version).encode()))
            why = "" if answer.status < 400 else f"replica answered {answer.status}"
            return _Served(response, v.version, replica, answer.body, why)
        waiting = self.router.not_live(endpoint)
        if not reasons:
            why = f"{waiting} not answering probes" if waiting else "replicas are starting or being replaced"
            message = f"endpoint {endpoint.name} has no ready replica yet ({why}); retry in a second"
        else:
            message = (
                f"endpoint {endpoint.name}: {len(reasons)} replicas could not be reached ({reasons[-1]}); "
                f"{waiting} are not ready; retry in a second"
            )
        return _Served(error(503, message, {"Retry-After": "1"}), error="; ".join(reasons) or "no ready replica")

    def _mirror(self, call: _Call) -> None:
        """Sends a copy to the shadow version once the client's answer is settled; never awaited."""
        if not any(v.shadow for v in call.endpoint.versions):
            return
        if len(self.shadows) >= MAX_SHADOWS_IN_FLIGHT:
            self.shadows_skipped += 1
            return
        task = asyncio.create_task(self._shadow(replace(call, started=time.perf_counter())))
        self.shadows.add(task)
        task.add_done_callback(self.shadows.discard)

    async def _shadow(self, call: _Call) -> None:
        picked = self.router.shadow_replica(call.endpoint)
        version = next(v.version for v in call.endpoint.versions if v.shadow)
        status, said, why, replica = 503, b"", "no ready replica of the shadow version", None
        if picked is not None:
            replica = picked[1]
            try:
                got = await self.router.pool.request(
                    replica.address, "POST", "/invocations", call.body, call.headers(call.pid + "-shadow")
                )
                status, said, why = got.status, got.body, "" if got.status < 400 else f"replica answered {got.status}"
            except ReplicaUnreachable as e:
                self.router.down(replica.address, str(e))
                why = str(e)
            except (ReplicaTimeout, BadAnswer) as e:
                status, why = (504 if isinstance(e, ReplicaTimeout) else 502), str(e)
        if not (call.keep or why):
            return
        try:
            self.spool.append(call.record(version, replica, status, said, why, shadow=True))
        except OSError as e:
            log.error("cannot write a shadow prediction to the ledger: %s", e)

    async def feedback(self, request: Request) -> Response:
        """Ground truth for earlier predictions, joined by prediction id."""
        name = request.path_params["name"]
        auth = await self._authorize(request, name)
        if isinstance(auth, Response):
            return auth
        try:
            rows = parse_feedback(await read_body(request))
        except _TooLarge:
            return error(413, f"the feedback is larger than {MAX_BODY_BYTES} bytes; send it in several requests")
        except (_BadLength, ValueError) as e:
            return error(400, str(e) or "the Content-Length header is not a number", code="INVALID_PARAMETER_VALUE")
        try:
            joined = await self.backend.feedback(name, bearer(request), rows)
        except PermissionError as e:
            return error(403, str(e) or f"the token may not label predictions of endpoint {name}")
        except ValueError as e:
            return error(400, str(e) or "the labels were refused", code="INVALID_PARAMETER_VALUE")
        except Exception as e:
            log.warning("cannot send feedback to the coordinator: %s", e)
            return error(
                503,
                "the gateway cannot reach the coordinator to store the labels; send them again in a moment",
                {"Retry-After": "1"},
            )
        return Response(json.dumps({"joined": joined}), media_type="application/json")


def parse_feedback(body: bytes) -> list[tuple[str, str]]:
    """(prediction id, label) rows from `{"prediction_id", "label"}` or `{"labels": [...]}`. A label that is
    a string is kept as it is; any other JSON value as its JSON text. Raises ValueError saying what to fix."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f'the feedback is not JSON ({e}); send {{"prediction_id": ..., "label": ...}}') from e
    items = doc.get("labels") if isinstance(doc, dict) and "labels" in doc else [doc]
    if not isinstance(items, list) or not items:
        raise ValueError('send {"prediction_id": ..., "label": ...} or {"labels": [{...}, ...]}')
    if len(items) > MAX_FEEDBACK_ROWS:
        raise ValueError(f"{len(items)} labels in one request; at most {MAX_FEEDBACK_ROWS}: send several requests")
    rows = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "label" not in item:
            raise ValueError(f'label {i} needs a "prediction_id" and a "label"')
        pid = item.get("prediction_id")
        if not isinstance(pid, str) or not 0 < len(pid) <= MAX_PREDICTION_ID:
            raise ValueError(f'label {i}: "prediction_id" must be the X-Kiln-Prediction-Id of an answer')
        encoded = json.dumps(item["label"])
        if len(encoded.encode()) > MAX_LABEL_BYTES:
            raise ValueError(f"label {i} is longer than {MAX_LABEL_BYTES} bytes as JSON")
        label = item["label"]
        rows.append((pid, label if isinstance(label, str) else encoded))
    return rows


def _no_token(name: str) -> Response:
    return error(
        401,
        "no endpoint token: send the header 'Authorization: Bearer TOKEN' with a token that may "
        f"call endpoint {name} (its owner can make one)",
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"{request.method} is not allowed on {request.url.path}; use {allowed or 'another method'}"
    else:
        message = (
            f"nothing at {request.url.path}: predictions go to POST /endpoints/NAME/invocations, "
            "labels to POST /endpoints/NAME/feedback"
        )
    return error(exc.status_code, message, dict(exc.headers or {}))


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error answering %s %s", request.method, request.url.path, exc_info=exc)
    return error(500, "the gateway failed unexpectedly; retry, and tell an administrator if it persists")
