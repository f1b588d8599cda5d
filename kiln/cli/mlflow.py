"""`kiln mlflow env`: the variables that point the unmodified mlflow client at a project of this
coordinator (its tracking URI, the installation's CA, an API token), for `eval "$(kiln mlflow env -p P)"`."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from kiln.cli.common import add_json, add_project, command, group, project_of
from kiln.cli.output import emit_json
from kiln.cli.session import connect
from kiln.core.errors import FailedPrecondition
from kiln.core.netaddr import join_address, split_address


def register(sub: Any) -> None:
    g = group(sub, "mlflow", "point existing MLflow code at a project (Kiln serves MLflow's API)")
    p = command(
        g,
        "env",
        'print the MLFLOW_* variables for a project: eval "$(kiln mlflow env -p P)" (mints an API token)',
        env,
    )
    add_project(p)
    p.add_argument("--token-name", default="mlflow", help="the name of the API token it mints (default mlflow)")
    add_json(p)


def env(args: argparse.Namespace) -> int:
    from kiln.config import kiln_home, load_profile

    project = project_of(args)
    profile = load_profile()
    with connect() as client:
        info = client.server_info()
        if not info.mlflow_port:
            raise FailedPrecondition(
                "this coordinator does not serve the MLflow API; start it with --mlflow-listen HOST:PORT "
                "(kiln up serves it by default)"
            )
        client.get_project(project)  # a project one cannot read is said now, not at the first MLflow call
        secret, _ = client.create_token(args.token_name, 0, "")
    host, _ = split_address(profile.server)
    ca = kiln_home() / "ca.pem"
    ca.parent.mkdir(parents=True, exist_ok=True)
    ca.write_text(profile.ca_pem)
    values = {
        "MLFLOW_TRACKING_URI": f"https://{join_address(host, info.mlflow_port)}/projects/{project}",
        "MLFLOW_TRACKING_SERVER_CERT_PATH": str(ca),
        "MLFLOW_TRACKING_TOKEN": secret,
    }
    if args.json:
        emit_json(values)
    else:
        for name, value in values.items():
            print(f"export {name}={shlex.quote(value)}")
    return 0
