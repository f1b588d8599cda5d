"""Tunnels (kiln run port): a local port reaching a port of a running run through the coordinator and the
agent's outbound link, beside a direct loopback connection to the same server, in the same run.

The coordinator and the agent are processes of their own, as deployed; the run is an echo server on the
node's loopback (process runtime, host network). Figures: the p50 round trip of 64 bytes (the tunnel's
added latency, target ≤ 2 ms), and the throughput of 256 MiB sent one way and read back (target ≥ 100 MB/s
on loopback, each way).

    .venv/bin/python bench/tunnels.py [--mib 256]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import agent_process, coordinator_process, print_table  # noqa: E402
from kiln.client.tunnels import Forwarder  # noqa: E402
from kiln.core.runs import Resources, RunSpec  # noqa: E402
from kiln.sync.push import push  # noqa: E402

ECHO = """\
import socketserver
class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(1 << 20):
            self.request.sendall(data)
server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
print("port", server.server_address[1], flush=True)
server.serve_forever()
"""


def round_trip_ms(port: int, n: int = 2000) -> float:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        times = []
        for _ in range(n):
            start = time.perf_counter()
            s.sendall(b"x" * 64)
            got = 0
            while got < 64:
                got += len(s.recv(65536))
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def throughput_mb_s(port: int, mib: int) -> float:
    """MB/s of `mib` MiB sent and, at the same time, read back (so each way carries that rate)."""
    block = b"\0" * (1 << 20)
    with socket.create_connection(("127.0.0.1", port)) as s:
        sender = threading.Thread(target=lambda: [s.sendall(block) for _ in range(mib)])
        start = time.perf_counter()
        sender.start()
        got = 0
        while got < mib << 20:
            got += len(s.recv(1 << 20))
        elapsed = time.perf_counter() - start
        sender.join()
    return (mib << 20) / elapsed / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=256)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kiln-bench-tunnels-"))
    with (
        coordinator_process(tmp / "coordinator") as client,
        agent_process(client, tmp / "agent", "--runtime", "process"),
    ):
        client.create_project("bench")
        (tmp / "src").mkdir()
        (tmp / "src" / "echo.py").write_text(ECHO)
        snap = push(client, tmp / "src", "bench", "", tmp / "cache").snapshot.id
        spec = RunSpec(
            "bench", (sys.executable, "echo.py"), snap, runtime="process", resources=Resources(0.5), network="host"
        )
        run = client.submit_run(spec)
        port = 0
        deadline = time.monotonic() + 60
        while not port and time.monotonic() < deadline:
            out = b"".join(c.data for c in client.read_logs(run.id) if c.stream == "stdout").decode()
            port = next((int(line.split()[1]) for line in out.splitlines() if line.startswith("port ")), 0)
            time.sleep(0.1)
        forwarder = Forwarder(client, run.id, port).start()
        try:
            direct_rtt, tunnel_rtt = round_trip_ms(port), round_trip_ms(forwarder.local_port)
            direct_mb, tunnel_mb = throughput_mb_s(port, args.mib), throughput_mb_s(forwarder.local_port, args.mib)
        finally:
            forwarder.stop()
            client.cancel_run(run.id)
    added = tunnel_rtt - direct_rtt
    print_table(
        "kiln run port: a run's echo server through the coordinator and the agent's link, vs a direct connection",
        ["figure", "tunnel", "direct", "target", "met"],
        [
            ["p50 round trip, 64 B", f"{tunnel_rtt:.3f} ms", f"{direct_rtt:.3f} ms", "≤ +2 ms", ""],
            ["added at p50", f"{added:.3f} ms", "", "≤ 2 ms", "yes" if added <= 2 else "no"],
            [f"throughput, {args.mib} MiB each way", f"{tunnel_mb:.0f} MB/s", f"{direct_mb:.0f} MB/s", "≥ 100 MB/s",
             "yes" if tunnel_mb >= 100 else "no"],
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
