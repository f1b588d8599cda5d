#!/usr/bin/env python3
"""Snapshot sync against rsync, in one run: a generated project (10,000 small files + one 512 MiB file) is
pushed to a local coordinator and copied with `rsync -a` to a local folder; then both repeat with nothing
changed, and after changing one small file.

Targets: full push <= 2x rsync; no-op <= 0.5x rsync's no-op; one-file change <= 1x rsync's; bytes
uploaded on a re-push = the size of the changed file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import coordinator_process, median, print_table, timed  # noqa: E402
from kiln.sync.push import push  # noqa: E402


def generate(root: Path, small: int, small_bytes: int, big_mib: int) -> None:
    for i in range(small):
        d = root / f"dir{i // 100:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"file{i:05d}.dat").write_bytes(os.urandom(small_bytes))
    with open(root / "big.bin", "wb") as f:
        for _ in range(big_mib):
            f.write(os.urandom(1024 * 1024))


def rsync(src: Path, dst: Path) -> float:
    return timed(lambda: subprocess.run(["rsync", "-a", f"{src}/", f"{dst}/"], check=True))[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=10_000, help="number of small files")
    parser.add_argument("--small-bytes", type=int, default=4096)
    parser.add_argument("--big-mib", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of the no-op and one-file cases")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp folder)")
    args = parser.parse_args()
    if not shutil.which("rsync"):
        sys.exit("rsync is not installed (apt-get install rsync); it is the peer this benchmark compares with")

    work = Path(tempfile.mkdtemp(prefix="kiln-bench-sync-", dir=args.dir))
    try:
        src, dst = work / "src", work / "rsync-dst"
        generate(src, args.small, args.small_bytes, args.big_mib)
        with coordinator_process(work / "coordinator") as client:
            client.create_project("bench")
            cache = work / "client-cache"

            def kiln_push():
                return push(client, src, "bench", "", cache)

            rows = []
            t_rsync = rsync(src, dst)
            t_kiln, full = timed(kiln_push)
            rows.append(["full", t_kiln, t_rsync, full.bytes_uploaded, 2.0])

            noop_k, noop_r, noop_bytes = [], [], 0
            for _ in range(args.repeat):
                noop_r.append(rsync(src, dst))
                t, r = timed(kiln_push)
                noop_k.append(t)
                noop_bytes = max(noop_bytes, r.bytes_uploaded)
            rows.append(["no-op", median(noop_k), median(noop_r), noop_bytes, 0.5])

            one_k, one_r, one_bytes = [], [], set()
            changed = src / "dir000" / "file00000.dat"
            for _ in range(args.repeat):
                changed.write_bytes(os.urandom(args.small_bytes))
                t, r = timed(kiln_push)
                one_k.append(t)
                one_bytes.add(r.bytes_uploaded)
                one_r.append(rsync(src, dst))
            rows.append(["one file changed", median(one_k), median(one_r), max(one_bytes), 1.0])

        total = args.small * args.small_bytes + args.big_mib * 1024 * 1024
        print_table(
            f"snapshot sync: {args.small} x {args.small_bytes} B + {args.big_mib} MiB "
            f"({total / 1e6:.0f} MB), "
            f"{os.cpu_count()} cores; median of {args.repeat} for re-pushes",
            ["case", "kiln push s", "rsync -a s", "kiln/rsync", "target", "bytes uploaded"],
            [
                [
                    c,
                    f"{k:.3f}",
                    f"{r:.3f}",
                    f"{k / r:.2f}x",
                    f"<= {tgt}x {'ok' if k / r <= tgt else 'MISSED'}",
                    b,
                ]
                for c, k, r, b, tgt in rows
            ],
        )
        ok_bytes = max(one_bytes) == args.small_bytes == min(one_bytes) and noop_bytes == 0
        print(
            f"re-push uploads exactly the changed file ({args.small_bytes} B) and nothing when unchanged: "
            f"{'yes' if ok_bytes else 'NO'}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
