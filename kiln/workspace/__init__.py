"""The workspace launcher, run inside a workspace (`python -m kiln.workspace --tool jupyter-server`): it
starts the tool on the node's loopback with a fresh token, tells its port and token through kiln.track
(tags `kiln.workspace.port`, `kiln.workspace.token`, `kiln.workspace.path`), then watches what makes the
workspace busy and tells that too (`kiln.workspace.active_at`, ms since the epoch): a kernel executing
code, the tool's processes using CPU, or its GPUs computing (nvidia-smi). The coordinator adds tunnel
traffic, and stops an idle one.

Standard library and kiln.track only: it runs in the workspace's own environment, mounted with the SDK.
SIGTERM is passed to the tool, whose exit is the workspace's.
"""

from __future__ import annotations

# Copies of kiln.core.workspaces' names (the SDK imports nothing of kiln but kiln.track; a test compares them)
PORT_TAG = "kiln.workspace.port"
TOKEN_TAG = "kiln.workspace.token"
PATH_TAG = "kiln.workspace.path"  # where the browser opens, token included
ACTIVE_TAG = "kiln.workspace.active_at"
CHECK_S_ENV = "KILN_WORKSPACE_CHECK_S"  # how often activity is sampled (default CHECK_S)
CHECK_S = 30.0
BUSY_CPU = 0.05  # of one core, averaged over a sample: the tool's processes are working
BUSY_GPU_PERCENT = 5  # utilisation of one of the workspace's GPUs, as nvidia-smi samples it

TOOLS = {
    # tool -> (module run with the workspace's interpreter, its options; {port} {token} {root} filled in)
    "jupyter-server": (
        "jupyter_server",
        "--ServerApp.ip=127.0.0.1 --ServerApp.port={port} --ServerApp.port_retries=0 --ServerApp.open_browser=False "
        "--IdentityProvider.token={token} --ServerApp.root_dir={root}",
        "/api/status?token={token}",
    ),
    "jupyterlab": (
        "jupyterlab",
        "--ServerApp.ip=127.0.0.1 --ServerApp.port={port} --ServerApp.port_retries=0 --ServerApp.open_browser=False "
        "--IdentityProvider.token={token} --ServerApp.root_dir={root}",
        "/lab?token={token}",
    ),
}
