"""`kiln up`: the embedded default. A coordinator and one local agent in this process, the admin's
credentials shown once, and this KILN_HOME's CLI left signed in, so `kiln run` works at once."""

from __future__ import annotations

import argparse
import signal
import socket
import threading
from pathlib import Path
from typing import Any

from kiln.cli.common import command
from kiln.cli.coordinator import default_data_dir, up_coordinator_dir
from kiln.cli.output import add_logging_options, info, setup_logging, warn
from kiln.core import defaults
from kiln.core.errors import KilnError
from kiln.core.permissions import Principal

SYSTEM = Principal("system", is_admin=True)


def register(sub: Any) -> None:
    p = command(sub, "up", "run Kiln on this machine: coordinator + local agent, signed in", up)
    p.add_argument("--data", type=Path, default=None, help="data folder (default $KILN_DATA or ~/.local/share/kiln)")
    p.add_argument("--listen", default=defaults.LISTEN, metavar="HOST:PORT")
    p.add_argument(
        "--gateway-listen",
        default=defaults.GATEWAY_LISTEN,
        metavar="HOST:PORT",
        help=f"where model endpoints are served over HTTPS (default {defaults.GATEWAY_LISTEN}; '' for none)",
    )
    p.add_argument(
        "--mlflow-listen",
        default=defaults.MLFLOW_LISTEN,
        metavar="HOST:PORT",
        help=f"where the MLflow-compatible API is served over HTTPS (default {defaults.MLFLOW_LISTEN}; '' for none)",
    )
    p.add_argument(
        "--runtime",
        action="append",
        default=[],
        choices=["docker", "process"],
        help="runtimes for the local agent (default: Docker when an engine answers, and process)",
    )
    add_logging_options(p, "WARNING")


def _sign_in(address: str, ca_pem: bytes, fingerprint: str, password: str | None) -> None:
    """Leaves this KILN_HOME's CLI signed in as the admin (first start) or checks it still is."""
    from kiln.client import Client
    from kiln.config import load_profile, load_token, save_profile, signed_in_profile, store_token

    if password is not None:
        with Client(address, ca_pem) as anonymous:
            token = anonymous.login(defaults.BOOTSTRAP_ADMIN, password, "kiln-up")[0]
        profile = signed_in_profile(address, fingerprint, ca_pem.decode(), defaults.BOOTSTRAP_ADMIN)
        save_profile(profile)
        warning = store_token(profile, token)
        if warning:
            warn(warning)
        return
    try:
        profile = load_profile()
        if profile.server == address and profile.fingerprint == fingerprint:
            with Client(address, ca_pem, load_token(profile)) as client:
                client.whoami()
            return
    except KilnError:
        pass
    info(f"this CLI is not signed in to it: kiln login {address} --user {defaults.BOOTSTRAP_ADMIN}")


def up(args: argparse.Namespace) -> int:
    from kiln.agent import identity
    from kiln.agent.daemon import Agent, AgentConfig
    from kiln.coordinator.context import CoordinatorConfig
    from kiln.coordinator.nodes import create_join_token
    from kiln.coordinator.server import start_in_thread

    setup_logging(args.log_level, args.log_format)
    data = (args.data or default_data_dir()).expanduser()
    config = CoordinatorConfig(
        up_coordinator_dir(data),
        listen=args.listen,
        gateway_listen=args.gateway_listen,
        mlflow_listen=args.mlflow_listen,
    )
    running = start_in_thread(config)
    try:
        address, tls = running.address, running.ctx.tls
        password = running.ctx.bootstrap_password
        _sign_in(address, tls.ca_pem, tls.ca_fingerprint, password)
        token = "" if identity.load(data / "agent") else create_join_token(running.ctx, SYSTEM, 1, 600).token
        agent = Agent(
            AgentConfig(
                address,
                data / "agent",
                token,
                socket.gethostname().lower() or "local",
                runtimes=tuple(args.runtime),
            )
        )
        failure: list[BaseException] = []
        worker = threading.Thread(target=_run, args=(agent, failure), name="kiln-agent")
        worker.start()
        print(
            f"Kiln is up: coordinator {address}, agent {agent.name} ({', '.join(sorted(agent.runtimes))}), data {data}"
        )
        print(f"CA fingerprint: {tls.ca_fingerprint}")
        if running.ctx.gateway_url:
            print(f"Model endpoints: {running.ctx.gateway_url}/endpoints/NAME/invocations (kiln deploy create)")
        if running.ctx.mlflow_url:
            print(f"MLflow tracking URI: {running.ctx.mlflow_url}/projects/NAME")
        if password:
            print(
                f"Admin: user {defaults.BOOTSTRAP_ADMIN!r}, password {password!r} (shown once; this CLI is signed in)"
            )
        print(
            "Try: kiln project create demo && kiln run -p demo --follow -- echo hello.  Ctrl-C stops.",
            flush=True,
        )
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.wait(0.5) and worker.is_alive():
            pass
        agent.stop()
        worker.join(30)
        if failure:
            raise failure[0]
    finally:
        running.stop()
    print("Kiln stopped; `kiln up` again resumes where it was.")
    return 0


def _run(agent: Any, failure: list[BaseException]) -> None:
    try:
        agent.run()
    except BaseException as e:
        failure.append(e)
