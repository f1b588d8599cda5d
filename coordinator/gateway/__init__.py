"""The HTTP gateway for model endpoints: the one stable, authenticated URL clients call.

A client posts to `/endpoints/NAME/invocations` with a bearer token; the gateway checks the token (through
the backend, cached for a few seconds so the hot path asks nobody), picks a version by the endpoint's
traffic weights (or its sticky header), forwards the body unchanged to a live replica of that version over
a keep-alive pool, retries another replica when one cannot be reached, mirrors the request to a shadow
version in the background, and writes every request to a local spool before answering, so the prediction
ledger loses nothing a client was told about even when the gateway is killed.

It is stateless: routes, tokens and the ledger live with the coordinator, reached through the small async
interface in `backend.py`, so several gateways can run side by side and any of them can be restarted. Its
third-party parts (Starlette, uvicorn, httptools, uvloop) live here and nowhere else in Kiln.

Modules: `backend` (what the gateway asks the coordinator), `app` (the ASGI application), `proxy` (the
replica pool and liveness probes), `ledger` (the spool and its shipper), `serve` (`Gateway`: the server).
"""
