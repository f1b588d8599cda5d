"""The MLflow-compatible API's HTTPS server, run by the coordinator on `mlflow_listen` (kiln coordinator
--mlflow-listen; on by default under `kiln up`), over TLS with the coordinator's certificate, so clients
trust the installation's CA (MLFLOW_TRACKING_SERVER_CERT_PATH). uvicorn on its own thread and event loop;
the handlers run on worker threads against the store."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import uvicorn

from kiln.coordinator.accounts import Authenticator
from kiln.coordinator.context import Coordinator
from kiln.coordinator.gateway.serve import bound_socket, listening_server, loop_factory
from kiln.core import defaults
from kiln.core.errors import InvalidArgument
from kiln.core.netaddr import join_address, split_address

from . import artifacts, experiments, logged_models, registry, runs
from .app import MlflowApi
from .protocol import Endpoint

log = logging.getLogger("kiln.coordinator.mlflow")


def server_info(call: Any) -> dict[str, Any]:
    return {"store_type": "SqlStore", "workspaces_enabled": False}


def endpoints() -> tuple[list[Endpoint], list[Any]]:
    """Every JSON call and every streamed one (artifacts' bodies), as the app mounts them."""
    json_ones: list[Endpoint] = [
        *experiments.ENDPOINTS,
        *runs.ENDPOINTS,
        *artifacts.ENDPOINTS,
        *logged_models.ENDPOINTS,
        *registry.ENDPOINTS,
        Endpoint("GET", "/api/3.0/mlflow/server-info", server_info),
        Endpoint("GET", "server-info", server_info),
    ]
    return json_ones, list(artifacts.RAW)


class MlflowServer:
    def __init__(self, ctx: Coordinator, authenticator: Authenticator) -> None:
        self.ctx = ctx
        self.api = MlflowApi(ctx, authenticator, *endpoints())
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Serves on a thread of its own; returns https://HOST:PORT once it accepts connections."""
        host, port = split_address(self.ctx.config.mlflow_listen)
        pki = self.ctx.config.data_dir / "pki"
        try:
            sock = bound_socket(host, port)
        except OSError as e:
            raise InvalidArgument(
                f"cannot serve the MLflow API on {self.ctx.config.mlflow_listen}: {e.strerror or e}; choose another "
                "address with --mlflow-listen HOST:PORT, or --mlflow-listen '' for none"
            ) from None
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.api.app(),
            lifespan="off",
            http="httptools",
            access_log=False,
            log_config=None,
            log_level="warning",
            server_header=False,
            timeout_keep_alive=defaults.GATEWAY_KEEP_ALIVE_S,
            timeout_graceful_shutdown=5,
            ssl_certfile=str(pki / "server.pem"),
            ssl_keyfile=str(pki / "server.key"),
        )
        started = threading.Event()
        self._server = listening_server(config, started.set)
        failed: list[BaseException] = []

        def main() -> None:
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                self._loop = runner.get_loop()
                try:
                    assert self._server is not None
                    runner.run(self._server.serve(sockets=[sock]))
                except BaseException as e:
                    failed.append(e)
                    log.exception("the MLflow API stopped")
                finally:
                    sock.close()
                    started.set()

        self._thread = threading.Thread(target=main, name="kiln-mlflow", daemon=True)
        self._thread.start()
        started.wait()
        if failed:
            raise failed[0]
        url = f"https://{join_address(host, self.port)}"
        self.ctx.mlflow_url = url
        return url

    def stop(self, timeout_s: float = 10.0) -> None:
        server, loop = self._server, self._loop
        if server is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(setattr, server, "should_exit", True)
        if self._thread is not None:
            self._thread.join(timeout_s)
