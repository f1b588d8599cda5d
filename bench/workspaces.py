"""Workspaces: from `kiln workspace start` to the tool answering through the tunnel, with its environment
already on the node (a real jupyter_server, the one scripts/setup-test-host builds; target under 15 s).
The coordinator and the agent are processes of their own. The tunnel's own figures (added latency,
throughput) are bench/tunnels.py's.

    .venv/bin/python bench/workspaces.py [--times 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import agent_process, coordinator_process, print_table  # noqa: E402
from kiln.client.tunnels import Forwarder  # noqa: E402
from kiln.core.runs import Resources, RunSpec  # noqa: E402
from kiln.sync.push import push  # noqa: E402

JUPYTER = Path(os.environ.get("KILN_TEST_JUPYTER", "/var/tmp/kiln-test/jupyter")) / "bin" / "python"


def answered(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return "started" in json.loads(r.read())
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--times", type=int, default=3)
    args = parser.parse_args()
    if not JUPYTER.is_file():
        sys.exit(f"no Jupyter environment at {JUPYTER.parent.parent}: run scripts/setup-test-host")
    tmp = Path(tempfile.mkdtemp(prefix="kiln-bench-workspaces-"))
    took = []
    with (
        coordinator_process(tmp / "coordinator") as client,
        agent_process(client, tmp / "agent", "--runtime", "process"),
    ):
        client.create_project("bench")
        (tmp / "src").mkdir()
        (tmp / "src" / "README.md").write_text("bench\n")
        push(client, tmp / "src", "bench", "", tmp / "cache")
        for i in range(args.times):
            name = f"nb{i}"
            start = time.perf_counter()
            spec = RunSpec("bench", (), runtime="process", resources=Resources(0.5))
            client.start_workspace("bench", name, spec, python=str(JUPYTER))
            while not (w := client.get_workspace("bench", name)).port:
                time.sleep(0.05)
            forwarder = Forwarder(client, w.run_id, w.port).start()
            url = f"http://127.0.0.1:{forwarder.local_port}{w.path}"
            while not answered(url):
                time.sleep(0.05)
            took.append(time.perf_counter() - start)
            forwarder.stop()
            client.stop_workspace("bench", name)
            while client.get_workspace("bench", name).state not in ("cancelled", "succeeded", "failed"):
                time.sleep(0.1)
    p50 = statistics.median(took)
    print_table(
        "kiln workspace start -> jupyter_server answering through the tunnel (environment on the node)",
        ["figure", "kiln", "target", "met"],
        [[f"p50 of {args.times}", f"{p50:.2f} s", "< 15 s", "yes" if p50 < 15 else "no"],
         ["each", ", ".join(f"{t:.2f} s" for t in took), "", ""]],
    )  # fmt: skip


if __name__ == "__main__":
    main()
