"""The gateway's backend in a process of its own (`kiln gateway`): each question to the coordinator is a
call of the signed-in admin's client (gateway.proto), on a worker thread so the event loop never waits on
the wire. The coordinator holds every piece of state, so any number of these gateways can run at once."""

from __future__ import annotations

import asyncio
from typing import Protocol

from kiln.coordinator.gateway.backend import Authorization
from kiln.core.deployments import PredictionRecord, RouteTable
from kiln.core.errors import InvalidArgument, PermissionDenied


class GatewayClient(Protocol):
    """What of `kiln.client.Client` the remote backend uses (its GatewayCalls)."""

    def get_routes(self, generation: int) -> RouteTable | None: ...

    def authorize(self, token: str, endpoint: str) -> tuple[bool, str, int, str]: ...

    def record_predictions(self, records: list[PredictionRecord]) -> int: ...

    def gateway_feedback(self, endpoint: str, token: str, rows: list[tuple[str, str]]) -> int: ...


class RemoteBackend:
    def __init__(self, client: GatewayClient) -> None:
        self.client = client

    async def routes(self, generation: int) -> RouteTable | None:
        return await asyncio.to_thread(self.client.get_routes, generation)

    async def authorize(self, token: str, endpoint: str) -> Authorization:
        allowed, caller, status, message = await asyncio.to_thread(self.client.authorize, token, endpoint)
        return Authorization(allowed, caller, status, message)

    async def record(self, records: list[PredictionRecord]) -> None:
        await asyncio.to_thread(self.client.record_predictions, records)

    async def feedback(self, endpoint: str, caller_token: str, rows: list[tuple[str, str]]) -> int:
        try:
            return await asyncio.to_thread(self.client.gateway_feedback, endpoint, caller_token, rows)
        except PermissionDenied as e:  # the client's token may not call the endpoint
            raise PermissionError(str(e)) from None
        except InvalidArgument as e:
            raise ValueError(str(e)) from None
