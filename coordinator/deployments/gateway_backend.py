"""The gateway's backend inside the coordinator's own process: routes, tokens, the ledger and feedback
answered from the store directly (on worker threads, never the gateway's event loop). A gateway in a
process of its own would speak gRPC instead; see coordinator/gateway/backend.py for the interface."""

from __future__ import annotations

import asyncio

from kiln.coordinator.accounts import Authenticator
from kiln.coordinator.context import Coordinator
from kiln.coordinator.deployments import ledger, manage
from kiln.coordinator.deployments.controller import Routes
from kiln.coordinator.gateway.backend import Authorization
from kiln.coordinator.gateway.serve import Gateway
from kiln.core.deployments import PredictionRecord, RouteTable
from kiln.core.errors import InvalidArgument, KilnError
from kiln.core.netaddr import join_address, split_address


class LocalBackend:
    def __init__(self, ctx: Coordinator, authenticator: Authenticator) -> None:
        self.ctx = ctx
        self.authenticator = authenticator
        self._routes = Routes()

    async def routes(self, generation: int) -> RouteTable | None:
        table = await asyncio.to_thread(self._routes.table, self.ctx)
        return None if table.generation == generation else table

    async def authorize(self, token: str, endpoint: str) -> Authorization:
        return await asyncio.to_thread(manage.authorize, self.ctx, self.authenticator, token, endpoint)

    async def record(self, records: list[PredictionRecord]) -> None:
        await asyncio.to_thread(ledger.record, self.ctx, records)

    async def feedback(self, endpoint: str, caller_token: str, rows: list[tuple[str, str]]) -> int:
        allowed = await self.authorize(caller_token, endpoint)
        if not allowed.allowed:
            raise PermissionError(allowed.message)
        try:
            joined, _ = await asyncio.to_thread(ledger.join_labels, self.ctx, endpoint, rows, allowed.caller)
        except KilnError as e:
            raise ValueError(str(e)) from None
        return joined


def start_gateway(ctx: Coordinator, authenticator: Authenticator) -> Gateway:
    """The gateway on `gateway_listen`, over TLS with the coordinator's certificate (clients trust the
    installation's CA), its ledger spool in the data folder; `ctx.gateway_url` says where it is."""
    host, port = split_address(ctx.config.gateway_listen)
    pki = ctx.config.data_dir / "pki"
    gateway = Gateway(
        LocalBackend(ctx, authenticator),
        host,
        port,
        spool_dir=ctx.config.data_dir / "gateway" / "spool",
        ssl_certfile=str(pki / "server.pem"),
        ssl_keyfile=str(pki / "server.key"),
    )
    try:
        bound = gateway.start_in_thread()
    except OSError as e:
        raise InvalidArgument(
            f"cannot serve model endpoints on {ctx.config.gateway_listen}: {e.strerror or e}; choose another "
            "address with --gateway-listen HOST:PORT (the coordinator takes its port and the next one, for "
            "agents), or --gateway-listen '' for none"
        ) from None
    ctx.gateway_url = f"https://{join_address(host, bound)}"
    return gateway
