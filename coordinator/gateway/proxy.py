"""The replicas' side of the gateway: a keep-alive connection pool, liveness from probes and forwards, and
the choice of a replica for a request.

The pool holds a few connections per replica, each an asyncio Protocol whose answers httptools parses
(llhttp, the C parser uvicorn already uses for the gateway's own side). It replaced h11 on streams, which
was the fastest of h11, httpx.AsyncClient and aiohttp when first measured, but spent more per forward
than the replica took to score one row (see the gateway's report in the README). Owning the pool lets the
gateway tell "could not reach the replica" (retry elsewhere) from "the replica answered" (pass it
through) exactly, which the retry rules hinge on.

A replica is routed to unless it is down: down after a forward could not reach it or after
`defaults.GATEWAY_PROBE_FAILURES` probes in a row failed, up again as soon as one probe passes.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import httptools

from kiln.core import defaults
from kiln.core.deployments import EndpointRoute, ReplicaRoute, VersionRoute

log = logging.getLogger("kiln.coordinator.gateway")

MAX_IDLE_PER_REPLICA = 64
MAX_ANSWER_BYTES = 64 * 1024 * 1024
# Headers of a replica's answer the gateway sets itself (framing is redone; date and server are uvicorn's).
_DROPPED = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"date", b"server"})
_UNSENDABLE = frozenset("\r\n\0")


class ReplicaUnreachable(Exception):
    """The replica could not be reached: refused, reset, closed before a whole answer, or slow to connect.
    The request may go to another replica."""


class ReplicaTimeout(Exception):
    """The replica took the request but did not answer in time (not retried: it may still be working)."""


class BadAnswer(Exception):
    """The replica answered something that is not HTTP/1.1, or an answer too large to pass on."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]  # as the replica sent them, less the hop-by-hop ones
    body: bytes

    def header(self, name: bytes) -> bytes:
        return next((v for k, v in self.headers if k == name), b"")


class _NoAnswer(Exception):
    """Nothing at all came back on a connection (what a stale keep-alive connection looks like)."""


class _Conn(asyncio.Protocol):
    """One keep-alive connection to a replica, one exchange at a time. The parser's callbacks gather the
    answer; `answer` is resolved when it is whole, or failed when the connection breaks first."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.parser = httptools.HttpResponseParser(self)
        self.answer: asyncio.Future[Answer] | None = None
        self._got_any = False
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._keep = False

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        if self.answer is None or self.answer.done():
            self.close()  # bytes nobody asked for: the connection is out of step
            return
        self._got_any = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._fail(BadAnswer(f"{self.address} answered malformed HTTP: {e}"))
        except BadAnswer as e:  # raised by on_body past the size limit
            self._fail(e)

    def eof_received(self) -> bool:
        self.connection_lost(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.answer is not None and not self.answer.done():
            if not self._got_any:
                self.answer.set_exception(_NoAnswer())
            else:
                why = f"{self.address} closed the connection in the middle of its answer"
                self.answer.set_exception(ReplicaUnreachable(why))

    # -- httptools' callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.lower()
        if key not in _DROPPED:
            self._headers.append((key, value))

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_ANSWER_BYTES:
            raise BadAnswer(f"{self.address} answered more than {MAX_ANSWER_BYTES} bytes")
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._keep = self.parser.should_keep_alive()
        if self.answer is not None and not self.answer.done():
            body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
            self.answer.set_result(Answer(self.parser.get_status_code(), self._headers, body))

    # -- the pool's side
    def send(self, request: bytes, body: bytes) -> asyncio.Future[Answer]:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self._got_any, self._headers, self._body, self._size, self._keep = False, [], [], 0, False
        try:
            self.transport.write(request + body if len(body) < 65536 else request)
            if len(body) >= 65536:
                self.transport.write(body)
        except RuntimeError as e:  # uvloop's word for a transport the replica closed meanwhile
            self.closed = True
            self.answer.set_exception(_NoAnswer())
            log.debug("%s: write on a closed transport: %s", self.address, e)
        return self.answer

    def reusable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    def done_cleanly(self) -> bool:
        """Whether the last exchange ended so that the connection can carry the next one."""
        return self._keep and self.reusable()

    def _fail(self, error: Exception) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(error)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _request_head(method: str, path: str, address: str, length: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {address}", f"Content-Length: {length}"]
    for name, value in headers:
        if _UNSENDABLE.intersection(name) or _UNSENDABLE.intersection(value):
            raise BadAnswer(f"the request cannot be sent on as HTTP/1.1: header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Pool:
    """Keep-alive connections per replica address ("host:port")."""

    def __init__(
        self,
        connect_timeout_s: float = defaults.GATEWAY_CONNECT_TIMEOUT_S,
        answer_timeout_s: float = defaults.GATEWAY_ANSWER_TIMEOUT_S,
    ):
        self.connect_timeout_s = connect_timeout_s
        self.answer_timeout_s = answer_timeout_s
        self._idle: dict[str, list[_Conn]] = {}
        self._open: set[_Conn] = set()

    async def request(
        self,
        address: str,
        method: str,
        path: str,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        timeout_s: float | None = None,
    ) -> Answer:
        """One exchange. A reused connection that turns out to be closed is replaced by a fresh one at once
        (a replica closing idle connections, or restarted, is no sign of trouble; its other idle connections
        are dropped too, so a request is sent at most twice); a fresh one failing is."""
        try:
            head = _request_head(method, path, address, len(body), headers or [])
        except UnicodeEncodeError as e:  # a header value HTTP/1.1 cannot carry (the client's Content-Type)
            raise BadAnswer(f"the request cannot be sent on as HTTP/1.1: {e}") from e
        idle = self._idle.get(address)
        while idle:
            conn = idle.pop()
            if not conn.reusable():
                conn.close()
                continue
            try:
                return await self._exchange(conn, head, body, timeout_s)
            except _NoAnswer:
                self.keep_only(set(self._idle) - {address})
                break
        conn = await self._connect(address)
        try:
            return await self._exchange(conn, head, body, timeout_s)
        except _NoAnswer as e:
            raise ReplicaUnreachable(f"{address} closed the connection without answering") from e

    async def _connect(self, address: str) -> _Conn:
        host, _, port = address.rpartition(":")
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Conn(address), host.strip("[]"), int(port)), self.connect_timeout_s
            )
        except (OSError, TimeoutError, ValueError) as e:
            raise ReplicaUnreachable(f"cannot connect to {address}: {e or type(e).__name__}") from e
        return conn

    async def _exchange(self, conn: _Conn, head: bytes, body: bytes, timeout_s: float | None) -> Answer:
        limit = timeout_s if timeout_s is not None else self.answer_timeout_s
        self._open.add(conn)
        try:
            async with asyncio.timeout(limit):
                answer = await conn.send(head, body)
        except TimeoutError as e:
            conn.close()
            raise ReplicaTimeout(f"{conn.address} did not answer within {limit:g} s") from e
        except BaseException:
            conn.close()  # broken, or cancelled mid-exchange: the connection is in an unknown state
            raise
        finally:
            self._open.discard(conn)
        self._reuse(conn)
        return answer

    def _reuse(self, conn: _Conn) -> None:
        idle = self._idle.setdefault(conn.address, [])
        if conn.done_cleanly() and len(idle) < MAX_IDLE_PER_REPLICA:
            idle.append(conn)
        else:
            conn.close()

    def keep_only(self, addresses: set[str]) -> None:
        """Closes the idle connections of replicas no longer in the route table."""
        for address in set(self._idle) - addresses:
            for conn in self._idle.pop(address):
                conn.close()

    async def close(self) -> None:
        """Closes every connection and lets the loop finish closing them."""
        self.keep_only(set())
        for conn in list(self._open):
            conn.close()
        await asyncio.sleep(0)


@dataclass
class _Health:
    failures: int = 0  # probes failed in a row
    down: bool = False


class Router:
    """Which replica takes a request: live ones of the chosen version round-robin, then the other live
    versions (most weight first), `tries` in all. Also runs the probes that bring replicas back."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._health: dict[str, _Health] = {}
        self._turn: dict[tuple[str, int], Iterator[int]] = {}

    def live(self, replica: ReplicaRoute) -> bool:
        health = self._health.get(replica.address)
        return bool(replica.address) and (health is None or not health.down)

    def down(self, address: str, why: str) -> None:
        health = self._health.setdefault(address, _Health())
        if not health.down:
            log.warning("replica %s is down: %s", address, why)
        health.down = True

    def not_live(self, endpoint: EndpointRoute) -> int:
        """How many replicas of the endpoint's serving versions cannot take requests now."""
        return sum(1 for v in endpoint.versions if not v.shadow for r in v.replicas if not self.live(r))

    def candidates(
        self, endpoint: EndpointRoute, version: int, tries: int = 3
    ) -> list[tuple[VersionRoute, ReplicaRoute]]:
        """Up to `tries` (version, replica) pairs, in the order to try them."""
        serving = [v for v in endpoint.versions if not v.shadow]
        first = [v for v in serving if v.version == version]
        others = sorted((v for v in serving if v.version != version and v.weight > 0), key=lambda v: -v.weight)
        picked: list[tuple[VersionRoute, ReplicaRoute]] = []
        for v in first + others:
            picked.extend((v, r) for r in self._in_turn(endpoint.name, v))
            if len(picked) >= tries:
                break
        return picked[:tries]

    def shadow_replica(self, endpoint: EndpointRoute) -> tuple[VersionRoute, ReplicaRoute] | None:
        for v in endpoint.versions:
            if v.shadow:
                replicas = self._in_turn(endpoint.name, v)
                return (v, replicas[0]) if replicas else None
        return None

    def _in_turn(self, endpoint: str, version: VersionRoute) -> list[ReplicaRoute]:
        """The version's live replicas, starting from the next one in turn."""
        live = [r for r in version.replicas if self.live(r)]
        if not live:
            return []
        turn = self._turn.setdefault((endpoint, version.version), itertools.count())
        start = next(turn) % len(live)
        return live[start:] + live[:start]

    def keep_only(self, addresses: set[str]) -> None:
        """Forgets replicas gone from the route table (their health and their connections)."""
        for address in set(self._health) - addresses:
            del self._health[address]
        self.pool.keep_only(addresses)

    async def probe(self, addresses: set[str]) -> None:
        """One round of `GET /ping` to every replica at once."""
        await asyncio.gather(*(self._probe_one(a) for a in addresses))

    async def _probe_one(self, address: str) -> None:
        try:
            async with asyncio.timeout(defaults.GATEWAY_PROBE_TIMEOUT_S):  # connecting included: a black hole fails too
                answer = await self.pool.request(address, "GET", "/ping", timeout_s=defaults.GATEWAY_PROBE_TIMEOUT_S)
            ok, why = answer.status == 200, f"/ping answered {answer.status}"
        except (ReplicaUnreachable, ReplicaTimeout, BadAnswer) as e:
            ok, why = False, str(e)
        except TimeoutError:
            ok, why = False, f"no answer to /ping within {defaults.GATEWAY_PROBE_TIMEOUT_S:g} s"
        health = self._health.setdefault(address, _Health())
        if ok:
            if health.down:
                log.info("replica %s is back", address)
            health.failures, health.down = 0, False
            return
        health.failures += 1
        if health.failures >= defaults.GATEWAY_PROBE_FAILURES:
            self.down(address, f"{health.failures} probes failed ({why})")
