"""`kiln gateway`: serve model endpoints from this machine, for a coordinator elsewhere. The gateway keeps
only a spool of records not yet in the ledger; it asks the coordinator for routes and tokens as the
signed-in admin, so any number of them can run against one coordinator."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kiln.cli.output import add_logging_options, setup_logging
from kiln.core import defaults
from kiln.core.errors import InvalidArgument, PermissionDenied
from kiln.core.netaddr import split_address

LIVENESS_CHECK_S = 1.0  # how often the waiting main thread looks whether the gateway still serves


def default_spool_dir() -> Path:
    return Path.home() / ".local" / "share" / "kiln" / "gateway-spool"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "gateway",
        help="serve model endpoints over HTTPS from this machine, for a coordinator",
        description="Serve the coordinator's model endpoints (/endpoints/NAME/invocations) from this machine. "
        "It calls the coordinator as the signed-in user, who must be an admin (kiln login). Several gateways "
        "can serve one coordinator; each keeps the records it has not shipped yet in its spool folder.",
    )
    p.set_defaults(func=serve)
    p.add_argument(
        "--listen",
        default=defaults.GATEWAY_LISTEN,
        metavar="HOST:PORT",
        help=f"address to serve on (default {defaults.GATEWAY_LISTEN}; port 0 picks a free one)",
    )
    p.add_argument(
        "--spool",
        type=Path,
        default=None,
        metavar="DIR",
        help="where records wait until the coordinator has them (default ~/.local/share/kiln/gateway-spool); "
        "a gateway started again on the same folder ships what the last one left",
    )
    p.add_argument("--certfile", default="", metavar="FILE", help="TLS certificate chain (PEM), with --keyfile")
    p.add_argument("--keyfile", default="", metavar="FILE", help="TLS private key (PEM), with --certfile")
    add_logging_options(p)


def serve(args: argparse.Namespace) -> int:
    import signal
    import threading

    from kiln.cli.session import connect
    from kiln.coordinator.gateway.remote import RemoteBackend
    from kiln.coordinator.gateway.serve import Gateway

    setup_logging(args.log_level, args.log_format)
    if bool(args.certfile) != bool(args.keyfile):
        raise InvalidArgument("TLS needs both --certfile and --keyfile (or neither, for plain HTTP)")
    for path in filter(None, (args.certfile, args.keyfile)):
        if not Path(path).is_file():
            raise InvalidArgument(f"no such file: {path}")
    host, port = split_address(args.listen)
    client = connect()
    try:
        client.get_routes(0)  # the sign-in is good and an admin's, before anything listens
    except PermissionDenied as e:
        raise PermissionDenied(
            f"the gateway calls the coordinator as the signed-in user, who must be an admin ({e}); "
            "sign in as an admin with kiln login"
        ) from None
    if not args.certfile:
        warning = "warning: no --certfile/--keyfile: serving plain HTTP (tokens and data travel unencrypted)"
        print(warning, file=sys.stderr, flush=True)
    gateway = Gateway(
        RemoteBackend(client),
        host,
        port,
        spool_dir=(args.spool or default_spool_dir()).expanduser(),
        ssl_certfile=args.certfile or None,
        ssl_keyfile=args.keyfile or None,
    )
    # Served on a thread of its own while this one waits for a signal: the gateway then stops the way
    # `Gateway.stop` says (requests in flight finish, what it can is shipped) and the command exits 0.
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        gateway.start_in_thread()
    except OSError as e:
        raise InvalidArgument(f"cannot serve on {args.listen}: {e}") from None
    endpoints = f"{gateway.url}/endpoints/NAME/invocations"
    print(f"Kiln gateway: serving endpoints at {endpoints} for coordinator {client.address}", flush=True)
    try:
        while not stopping.wait(LIVENESS_CHECK_S):
            if not any(t.name == "kiln-gateway" and t.is_alive() for t in threading.enumerate()):
                print("error: the gateway stopped (see the log above)", file=sys.stderr)
                return 1
    finally:
        gateway.stop()
        client.close()
    return 0
