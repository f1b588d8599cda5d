#!/usr/bin/env python3
"""A run's output at disk speed: a job printing N bytes (default 1 GiB) as fast as it can, read by a
`kiln logs -f RUN` process writing to /dev/null, through a real coordinator and a real agent (process
runtime), each its own process.

Figures: end-to-end MB/s (from the moment the agent reported the run running to the moment the reader had
read all of it and exited), the coordinator's CPU seconds per MB of output, and how much the coordinator's
database grew beside the log's size. The peer is `cat FILE > /dev/null` of the same bytes, in the same
run. Targets: >= 100 MB/s end to end; the database grows by less than 1 % of the log's size.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import agent_process, coordinator_process, print_table  # noqa: E402
from kiln.config import Profile, save_profile  # noqa: E402
from kiln.core.limits import MiB  # noqa: E402
from kiln.core.runs import RunSpec  # noqa: E402
from kiln.pinning import presented_ca  # noqa: E402
from kiln.sync.push import push  # noqa: E402

TARGET_MBPS = 100.0
TARGET_DB_GROWTH = 0.01
# The job: lines like a training loop's, 1 MiB of them built once, written as fast as the pipe takes them.
JOB = """
import sys
lines = b"".join(b"step %08d loss %.6f lr 0.000300 tokens/s 123456 grad_norm 1.2345\\n" % (i, 1 / (i + 1))
                 for i in range(16384))
block = (lines * (1 + (1 << 20) // len(lines)))[: 1 << 20]
w = sys.stdout.buffer.write
for _ in range({mib}):
    w(block)
sys.stdout.buffer.flush()
"""


def coordinator_pid() -> psutil.Process:
    for child in psutil.Process().children(recursive=True):
        if "coordinator" in child.cmdline():
            return child
    raise RuntimeError("the coordinator's process is not among this one's children")


def db_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in data.glob("kiln.db*"))


def cat_peer(mib: int, work: Path) -> float:
    """`cat FILE > /dev/null` of the same bytes, the file written first (so it is in the page cache)."""
    path = work / "same-bytes.txt"
    with open(path, "wb") as f:
        subprocess.run([sys.executable, "-c", JOB.format(mib=mib)], stdout=f, check=True)
    start = time.perf_counter()
    subprocess.run(f"cat {path} > /dev/null", shell=True, check=True)
    took = time.perf_counter() - start
    path.unlink()
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=1024, help="MiB the job prints (default 1024)")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp folder)")
    args = parser.parse_args()
    size = args.mib * MiB
    work = Path(tempfile.mkdtemp(prefix="kiln-bench-logs-", dir=args.dir))
    home = work / "home"
    with coordinator_process(work / "coordinator") as client:
        coordinator = coordinator_pid()
        client.create_project("bench")
        (work / "src").mkdir()
        (work / "src" / "job.py").write_text(JOB.format(mib=args.mib))
        snapshot = push(client, work / "src", "bench", "", work / "cache").snapshot.id
        info = client.server_info()
        ca = presented_ca(client.address).pem.decode()
        save_profile(Profile(client.address, info.ca_fingerprint, ca, "admin"), home)
        token = client.create_token("bench", 3600)[0]
        env = {**os.environ, "KILN_HOME": str(home), "KILN_TOKEN": token}
        with agent_process(client, work / "agent", "--runtime", "process") as agent_proc:
            agent = psutil.Process(agent_proc.pid)
            db_before = db_bytes(work / "coordinator")
            cpu_before = sum(coordinator.cpu_times()[:2])
            agent_before = sum(agent.cpu_times()[:2])
            reader_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            run = client.submit_run(RunSpec("bench", (sys.executable, "job.py"), snapshot, "", "process"))
            with open(os.devnull, "wb") as null:
                reader = subprocess.Popen([sys.executable, "-m", "kiln", "logs", "-f", run.id], stdout=null, env=env)
                reader.wait()
            read_at = time.time()
            cpu = sum(coordinator.cpu_times()[:2]) - cpu_before
            agent_cpu = sum(agent.cpu_times()[:2]) - agent_before
            reader_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            reader_cpu = sum(getattr(reader_after, f) - getattr(reader_before, f) for f in ("ru_utime", "ru_stime"))
            final = client.get_run(run.id)
            if str(final.state) != "succeeded" or reader.returncode != 0:
                raise SystemExit(f"run {run.id} {final.state}: {final.reason} (reader exit {reader.returncode})")
            logged = client_log_bytes(client, run.id)
            db_growth = db_bytes(work / "coordinator") - db_before
    took = read_at - final.started_at
    cat_took = cat_peer(args.mib, work)
    mbps, cat_mbps = size / took / 1e6, size / cat_took / 1e6
    growth = db_growth / size
    print_table(
        f"{args.mib} MiB of output, job -> kiln logs -f, {os.cpu_count()} cores",
        ["", "figure", "peer (cat > /dev/null)", "ratio", "target"],
        [
            [
                "end to end",
                f"{mbps:.0f} MB/s",
                f"{cat_mbps:.0f} MB/s",
                f"{mbps / cat_mbps:.3f}",
                f">= {TARGET_MBPS:.0f} MB/s {'ok' if mbps >= TARGET_MBPS else 'MISSED'}",
            ],
            ["coordinator CPU", f"{cpu / (size / 1e6) * 1000:.2f} ms/MB", "", "", ""],
            ["agent CPU", f"{agent_cpu / (size / 1e6) * 1000:.2f} ms/MB", "", "", ""],
            ["kiln logs -f CPU", f"{reader_cpu / (size / 1e6) * 1000:.2f} ms/MB", "", "", ""],
            [
                "database growth",
                f"{db_growth / 1e6:.2f} MB ({growth:.3%} of the log)",
                "",
                "",
                f"< {TARGET_DB_GROWTH:.0%} {'ok' if growth < TARGET_DB_GROWTH else 'MISSED'}",
            ],
            ["bytes logged", f"{logged:,}", f"{size:,}", f"{logged / size:.3f}", "all of it"],
        ],
    )
    return 0


def client_log_bytes(client, run_id: str) -> int:
    """The bytes the coordinator holds for the run, from the offset of its last chunk (a tail read)."""
    last = None
    for chunk in client.read_logs(run_id, tail_bytes=1):
        last = chunk
    return last.offset + len(last.data) if last else 0


if __name__ == "__main__":
    sys.exit(main())
