"""`kiln coordinator`: serve, and print the CA fingerprint clients pin."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from kiln.cli.common import command
from kiln.cli.ops import register_coordinator_commands  # [ops]
from kiln.cli.output import add_logging_options, setup_logging
from kiln.core import defaults
from kiln.core.errors import FailedPrecondition, InvalidArgument
from kiln.core.netaddr import join_address, split_address
from kiln.core.units import parse_duration, parse_size


def default_data_dir() -> Path:
    return Path(os.environ.get("KILN_DATA") or Path.home() / ".local" / "share" / "kiln").expanduser()


def up_coordinator_dir(data: Path) -> Path:
    """Where `kiln up --data DATA` keeps its coordinator's data (beside its agent's, DATA/agent)."""
    return data / "coordinator"


def coordinator_data(data: Path) -> Path:
    """The coordinator's data folder that `data` names: the folder itself, or, for the folder of `kiln up`,
    its coordinator's, so `kiln coordinator fingerprint` (backup, gc) find it with the same --data."""
    if not (data / "pki").exists() and not (data / "kiln.db").exists() and (up_coordinator_dir(data) / "pki").exists():
        return up_coordinator_dir(data)
    return data


def register(sub: Any) -> None:
    p = sub.add_parser(
        "coordinator",
        help="run the coordinator (the system of record)",
        description="Run the coordinator. On first start it creates the data folder: database, "
        "blob store, a private CA, and a bootstrap admin.",
    )
    p.set_defaults(func=serve, group_parser=p)
    _data(p)
    p.add_argument(
        "--listen",
        default=defaults.LISTEN,
        metavar="HOST:PORT",
        help=f"address to serve on (default {defaults.LISTEN}; port 0 picks a free one)",
    )
    p.add_argument(
        "--admin-password-file",
        type=Path,
        metavar="FILE",
        help="set the bootstrap admin's password from FILE instead of printing a generated one",
    )
    p.add_argument(
        "--max-upload-bytes",
        default=str(defaults.MAX_UPLOAD_BYTES),
        metavar="SIZE",
        help="largest file a push may upload, e.g. 2G (default 20G)",
    )
    p.add_argument(
        "--log-cap-bytes",
        default="4G",
        metavar="SIZE",
        help="most of one run's output kept, e.g. 500M (default 4G, at least 1M): beyond it the first and last "
        "halves are kept and the middle is dropped, and the run's record says how much",
    )
    p.add_argument(
        "--agent-listen",
        default="",
        metavar="HOST:PORT",
        help="where agents connect with their certificates (default: the listen port + 1)",
    )
    p.add_argument(
        "--max-token-lifetime",
        default=f"{defaults.MAX_TOKEN_TTL_S // 86400}d",
        metavar="DURATION",
        help="longest a sign-in session or API token may live, e.g. 90d or 12h (default 365d); "
        "longer tokens are refused and existing ones end at it",
    )
    p.add_argument(
        "--gateway-listen",
        default="",
        metavar="HOST:PORT",
        help=f"serve model endpoints (HTTPS, /endpoints/NAME/invocations) here, e.g. {defaults.GATEWAY_LISTEN} "
        "(default: no gateway)",
    )
    p.add_argument(
        "--workspace-idle",
        default="8h",
        metavar="DURATION",
        help="stop (after saving) a workspace idle this long (default 8h; --workspace-idle-gpu for one with GPUs)",
    )
    p.add_argument("--workspace-idle-gpu", default="2h", metavar="DURATION", help="the same for GPUs (default 2h)")
    p.add_argument(
        "--mlflow-listen",
        default="",
        metavar="HOST:PORT",
        help=f"serve the MLflow-compatible API (HTTPS; tracking URI https://HOST:PORT/projects/NAME) here, e.g. "
        f"{defaults.MLFLOW_LISTEN} (default: none)",
    )
    p.add_argument(
        "--metrics-listen",
        default="",
        metavar="HOST:PORT",
        help="serve Prometheus /metrics here (plain HTTP: keep it on a management network)",
    )
    add_logging_options(p)
    sub2 = p.add_subparsers(title="commands", metavar="COMMAND")
    fp = command(sub2, "fingerprint", "print the CA fingerprint clients pin (kiln login --fingerprint)", fingerprint)
    _data(fp)
    register_coordinator_commands(sub2)  # [ops] backup, restore


def _data(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        metavar="DIR",
        help="data folder (default $KILN_DATA or ~/.local/share/kiln; kiln up's folder is found too)",
    )


def fingerprint(args: argparse.Namespace) -> int:
    from kiln.coordinator.pki import ca_fingerprint

    given = (args.data or default_data_dir()).expanduser()
    data = coordinator_data(given)
    if not (data / "pki" / "ca.pem").exists():
        raise FailedPrecondition(
            f"{given} holds no coordinator CA (nor does {up_coordinator_dir(given)}, where kiln up keeps it); "
            "start the coordinator there first, or pass its folder with --data DIR"
        )
    print(ca_fingerprint(data / "pki"))
    return 0


def serve(args: argparse.Namespace) -> int:
    import asyncio

    from kiln.coordinator.context import CoordinatorConfig, open_coordinator
    from kiln.coordinator.server import Serving, serve_until_signalled

    setup_logging(args.log_level, args.log_format)
    password = None
    if args.admin_password_file:
        try:
            password = args.admin_password_file.read_text().strip()
        except OSError as e:
            raise InvalidArgument(f"cannot read --admin-password-file: {e}") from None
    try:
        max_upload = parse_size(args.max_upload_bytes)
    except ValueError as e:
        raise InvalidArgument(str(e)) from None
    try:
        log_cap = parse_size(args.log_cap_bytes)
    except ValueError as e:
        raise InvalidArgument(f"--log-cap-bytes: {e}") from None
    try:
        max_token_lifetime = parse_duration(args.max_token_lifetime)
    except ValueError as e:
        raise InvalidArgument(f"--max-token-lifetime: {e}") from None
    try:
        idle, idle_gpu = parse_duration(args.workspace_idle), parse_duration(args.workspace_idle_gpu)
    except ValueError as e:
        raise InvalidArgument(f"--workspace-idle: {e}") from None
    for address in filter(
        None, (args.listen, args.agent_listen, args.metrics_listen, args.gateway_listen, args.mlflow_listen)
    ):
        split_address(address)  # refuse a bad address before creating anything
    config = CoordinatorConfig(
        args.data or default_data_dir(),
        args.listen,
        max_upload,
        password,
        agent_listen=args.agent_listen,
        metrics_listen=args.metrics_listen,
        gateway_listen=args.gateway_listen,
        mlflow_listen=args.mlflow_listen,
        workspace_idle_s=idle,
        workspace_idle_gpu_s=idle_gpu,
        max_token_lifetime_s=max_token_lifetime,
        log_cap_bytes=log_cap,
    )
    ctx = open_coordinator(config)

    def ready(serving: Serving) -> None:
        host, port = split_address(config.listen)[0], serving.port
        print(f"Kiln coordinator listening on {join_address(host, port)} (agents: port {serving.agent_port})")
        print(f"CA fingerprint: {ctx.tls.ca_fingerprint}")
        if serving.metrics is not None:
            print(f"Metrics: http://{join_address(host, serving.metrics.port)}/metrics")
        if ctx.gateway_url:
            print(f"Model endpoints: {ctx.gateway_url}/endpoints/NAME/invocations (kiln deploy create)")
        if ctx.mlflow_url:
            print(f"MLflow tracking URI: {ctx.mlflow_url}/projects/NAME")
        if ctx.bootstrap_password:
            print(
                f"Bootstrap admin: user {defaults.BOOTSTRAP_ADMIN!r}, password {ctx.bootstrap_password!r} "
                "(shown once; change it with kiln user passwd)"
            )
        print(
            f"Sign in: kiln login {join_address(host, port)} --user {defaults.BOOTSTRAP_ADMIN} "
            f"--fingerprint {ctx.tls.ca_fingerprint}",
            flush=True,
        )

    try:
        asyncio.run(serve_until_signalled(ctx, ready))
    finally:
        ctx.close()
    return 0
