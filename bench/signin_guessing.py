#!/usr/bin/env python3
"""Password guessing against a running coordinator: how much slower a signed-in user's calls get while
clients guess passwords as fast as they can.

0.1 went from ~2 ms to ~100 ms with a handful of guessers: scrypt ran on the server loop and nothing slowed
the guessers. Now the throttle refuses a guess before any hashing, so guessing should cost the user no more
than any flood of calls as cheap as a call can be. The peer, in the same run, is that flood: as many
clients calling ServerInfo (public, no work) as fast as they can. Target: the user's median call while
guessing ≤ 1.25× while flooded. The quiet figure (no one else calling) is printed too.

The coordinator runs as its own process, as deployed; the callers (threads of one process of their own)
and the user share this machine's cores with it, which is harder on the user than callers elsewhere
would be. Guessers use wrong passwords for the signed-in user and for names that do not exist, from one
address (loopback): the throttle lets the first few be hashed (off the loop, on the bounded pool), then
refuses the rest, saying how long to wait. The script counts what the guessers got.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import coordinator_process, print_table  # noqa: E402
from kiln.client import Client  # noqa: E402
from kiln.core.errors import KilnError, ResourceExhausted  # noqa: E402
from kiln.pinning import presented_ca  # noqa: E402

PASSWORD = "alice-password-1"
TARGET = 1.25


def call_times(client: Client, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        client.list_projects()
        times.append(time.perf_counter() - start)
    return times


def one_call(kind: str, client: Client, n: int, names: itertools.cycle[str]) -> str:
    """One call of a flooding client, and what it got."""
    if kind == "flood":
        client.server_info()
        return "answered"
    try:
        client.login(next(names), f"wrong-{n}")
        return "accepted"  # never: every password is wrong
    except ResourceExhausted:
        return "throttled"
    except KilnError:
        return "wrong password"


def caller(
    kind: str, address: str, ca: bytes, stop: threading.Event, counts: Counter[str], lock: threading.Lock
) -> None:
    names = itertools.cycle(["alice", "bob-does-not-exist", "root", "admin"])
    with Client(address, ca, timeout=30) as anonymous:
        for n in itertools.count():
            if stop.is_set():
                return
            got = one_call(kind, anonymous, n, names)
            with lock:
                counts[got] += 1


def callers(kind: str, address: str, ca: bytes, threads: int, go: Event, done: Event, out: Queue) -> None:  # type: ignore[type-arg]
    """A process of its own (other clients, not threads sharing the user's GIL): calls from `go` until
    `done`, then reports what it got."""
    stop, lock, counts = threading.Event(), threading.Lock(), Counter[str]()
    workers = [threading.Thread(target=caller, args=(kind, address, ca, stop, counts, lock)) for _ in range(threads)]
    go.wait()
    for w in workers:
        w.start()
    done.wait()
    stop.set()
    for w in workers:
        w.join(60)
    out.put(dict(counts))


def while_calling(
    kind: str, alice: Client, ca: bytes, threads: int, calls: int
) -> tuple[list[float], Counter[str], float]:
    """The user's call times while `threads` clients make calls of `kind`, what those got, and how long."""
    spawn = multiprocessing.get_context("spawn")
    go, done, out = spawn.Event(), spawn.Event(), spawn.Queue()
    proc = spawn.Process(target=callers, args=(kind, alice.address, ca, threads, go, done, out))
    proc.start()
    started = time.perf_counter()
    go.set()
    try:
        call_times(alice, 20)  # the callers are under way
        times = call_times(alice, calls)
    finally:
        done.set()
        counts = Counter[str](out.get(timeout=120))
        proc.join(60)
    return times, counts, time.perf_counter() - started


def ms(values: list[float], q: float) -> str:
    return f"{sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="kiln-bench-signin-")) / "data"
    with coordinator_process(data) as admin:
        admin.create_user("alice", PASSWORD)
        ca = presented_ca(admin.address).pem
        with Client(admin.address, ca) as anonymous:
            token = anonymous.login("alice", PASSWORD)[0]
        with Client(admin.address, ca, token, timeout=60) as alice:
            call_times(alice, 20)  # warm the channel
            quiet = call_times(alice, args.calls)
            flooded, answered, flood_s = while_calling("flood", alice, ca, args.clients, args.calls)
            guessed, counts, guess_s = while_calling("guess", alice, ca, args.clients, args.calls)

    p50 = {name: statistics.median(t) for name, t in [("quiet", quiet), ("flood", flooded), ("guess", guessed)]}
    ratio = p50["guess"] / p50["flood"]
    rows: list[list[object]] = [
        ["no one else calling", ms(quiet, 0.5), ms(quiet, 0.99), "", ""],
        [f"{args.clients} clients calling ServerInfo (peer)", ms(flooded, 0.5), ms(flooded, 0.99),
         f"{answered['answered'] / flood_s:.0f}", ""],
        [f"{args.clients} clients guessing passwords", ms(guessed, 0.5), ms(guessed, 0.99),
         f"{sum(counts.values()) / guess_s:.0f}", f"{ratio:.2f}×"],
    ]  # fmt: skip
    print_table("a signed-in user's ListProjects (ms)", ["while", "p50", "p99", "their calls/s", "ratio"], rows)
    print(
        f"\nguesses: {counts['wrong password']} hashed and answered 'wrong', {counts['throttled']} refused by "
        f"the throttle before any hashing, {counts['accepted']} accepted; quiet p50 {p50['quiet'] * 1000:.2f} ms"
    )
    ok = ratio <= TARGET and not counts["accepted"]
    print(f"target: p50 while guessing ≤ {TARGET}× while flooded — {'met' if ok else 'MISSED'} ({ratio:.2f}×)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
