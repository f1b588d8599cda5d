"""Sign-in throttling: failed sign-ins slow further guesses, per user name and per source address.

Why it is shaped like this:
- It is asked before any password is hashed (the servicer asks on the event loop), so a refused guess
  costs a dictionary lookup, never scrypt and never a place in the heavy lane's queue that other users'
  sign-ins need.
- An attempt in flight counts as a failure until it ends, so a burst of concurrent guesses cannot all get
  past the check before the first of them has failed.
- It refuses (RESOURCE_EXHAUSTED, saying how long to wait) rather than holding the call: a held call would
  keep a connection and a worker busy for the very caller being slowed.
- Per user name, so guessing one user's password is slow from anywhere; per source, so spraying many
  names from one address is slow too. An IPv6 source counts by its /64, the block one host usually holds.
- A success clears its user name's count but not its source's: a guesser who owns one account must not
  be able to wipe its address's record by signing in to it between guesses.
- Nothing is persisted: a restart forgets the counts (it also costs the guesser a restart's wait), and
  the table is bounded, forgetting the longest-quiet keys first.
- A refusal is logged once per key and `REFUSAL_LOG_S`, with a line counting those refused meanwhile: a
  guesser refused a thousand times a second must not write a thousand log lines a second.

The numbers are in `kiln.core.defaults` (SIGNIN_*). Time comes from an injected clock.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from kiln.core import clock as wall_clock
from kiln.core import defaults
from kiln.core.errors import ResourceExhausted

log = logging.getLogger("kiln.coordinator.throttle")

NAME_KEY_CHARS = 128  # of a user name, as a key (longer names are refused elsewhere; never store them whole)
NAME_SHOWN_CHARS = 32  # of a user name, in a refusal
FAILURES_KEPT = 256  # per key: past this the delay is at its cap anyway
REFUSAL_LOG_S = 60.0  # a key's refusals are logged at most once this often

Key = tuple[str, str]  # ("user", name) or ("source", address)


@dataclass
class _Entry:
    failures: deque[float] = field(default_factory=lambda: deque(maxlen=FAILURES_KEPT))
    in_flight: int = 0
    refusal_logged_at: float = -math.inf
    refused_unlogged: int = 0  # refusals since the last one logged


def source_group(address: str) -> str:
    """The source an address counts as: an IPv4 address itself, an IPv6 address by its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:NAME_KEY_CHARS]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def shown_name(name: str) -> str:
    """A user name as a refusal quotes it: a short, escaped prefix (the name came from outside)."""
    cut = name[:NAME_SHOWN_CHARS]
    return repr(cut) + ("…" if len(name) > NAME_SHOWN_CHARS else "")


class SignInThrottle:
    def __init__(
        self,
        clock: Callable[[], float] = wall_clock.now,
        *,
        free_per_user: int = defaults.SIGNIN_FREE_FAILURES_PER_USER,
        free_per_source: int = defaults.SIGNIN_FREE_FAILURES_PER_SOURCE,
        window_s: float = defaults.SIGNIN_WINDOW_S,
        base_delay_s: float = defaults.SIGNIN_BASE_DELAY_S,
        max_delay_s: float = defaults.SIGNIN_MAX_DELAY_S,
        tracked: int = defaults.SIGNIN_TRACKED_KEYS,
    ) -> None:
        self.clock = clock
        self.free = {"user": free_per_user, "source": free_per_source}
        self.window_s, self.base_delay_s, self.max_delay_s = window_s, base_delay_s, max_delay_s
        self.tracked = tracked
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._lock = threading.Lock()  # begun on the loop, ended on a worker

    def delay(self, failures: int, kind: str) -> float:
        """How long after the last failure the next attempt must wait, with `failures` in the window."""
        over = failures - self.free[kind]
        if over < 0:
            return 0.0
        return min(self.max_delay_s, self.base_delay_s * 2.0 ** min(over, 64))

    def begin(self, user: str, source: str) -> SignInAttempt:
        """Admits one sign-in attempt, or refuses it with how long to wait; end it with the attempt's
        `failed()` or `succeeded()` (or by leaving its `with` block: neither)."""
        keys: list[Key] = [("user", user[:NAME_KEY_CHARS])]
        if source:
            keys.append(("source", source_group(source)))
        now = self.clock()
        with self._lock:
            for key in keys:
                wait = self._wait(key, now)
                if wait > 0:
                    whom = f"for user {shown_name(user)}" if key[0] == "user" else f"from {key[1]}"
                    raise self._refusal(key, now, f"too many failed sign-ins {whom}; try again in {math.ceil(wait)} s")
            for key in keys:
                self._entry(key).in_flight += 1
        return SignInAttempt(self, tuple(keys))

    def _refusal(self, key: Key, now: float, message: str) -> ResourceExhausted:
        """The refusal for `key`, marked to be logged only if none of its refusals was logged lately (the
        caller is told the same either way)."""
        entry = self._entries[key]  # a key that makes one wait has an entry
        error = ResourceExhausted(message)
        if now - entry.refusal_logged_at < REFUSAL_LOG_S:
            entry.refused_unlogged += 1
            error.logged = False
            return error
        if entry.refused_unlogged:
            whom = f"for user {shown_name(key[1])}" if key[0] == "user" else f"from {key[1]}"
            log.warning("%d more sign-ins %s were refused since the last line about them", entry.refused_unlogged, whom)
        entry.refusal_logged_at, entry.refused_unlogged = now, 0
        return error

    def failures(self, kind: str, value: str) -> int:
        """Failures counted now for a user name or a source (for `kiln`'s operators and the tests)."""
        key = (kind, value[:NAME_KEY_CHARS] if kind == "user" else source_group(value))
        with self._lock:
            entry = self._entries.get(key)
            return len(self._pruned(entry, self.clock())) if entry else 0

    def _wait(self, key: Key, now: float) -> float:
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        failures = self._pruned(entry, now)
        wait = 0.0
        if failures and len(failures) >= self.free[key[0]]:
            wait = failures[-1] + self.delay(len(failures), key[0]) - now
        if entry.in_flight and len(failures) + entry.in_flight >= self.free[key[0]]:
            wait = max(wait, self.base_delay_s)  # the attempt in flight may be the one that tips it
        return wait

    def _pruned(self, entry: _Entry, now: float) -> deque[float]:
        while entry.failures and entry.failures[0] <= now - self.window_s:
            entry.failures.popleft()
        return entry.failures

    def _entry(self, key: Key) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            while len(self._entries) >= self.tracked:
                self._entries.popitem(last=False)
            entry = self._entries[key] = _Entry()
        self._entries.move_to_end(key)
        return entry

    def _end(self, keys: tuple[Key, ...], outcome: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                if entry is None and outcome != "failed":
                    continue  # forgotten meanwhile: nothing to release
                entry = entry or self._entry(key)
                entry.in_flight = max(0, entry.in_flight - 1)
                if outcome == "failed":
                    entry.failures.append(now)
                    self._entries.move_to_end(key)
                elif outcome == "succeeded" and key[0] == "user":
                    entry.failures.clear()
                if not self._pruned(entry, now) and not entry.in_flight:
                    del self._entries[key]


class SignInAttempt:
    """One admitted attempt; it holds its place in the counts until it ends, once."""

    def __init__(self, throttle: SignInThrottle, keys: tuple[Key, ...]) -> None:
        self._throttle, self._keys, self._ended = throttle, keys, False

    def failed(self) -> None:
        self._finish("failed")

    def succeeded(self) -> None:
        self._finish("succeeded")

    def _finish(self, outcome: str) -> None:
        if not self._ended:
            self._ended = True
            self._throttle._end(self._keys, outcome)

    def __enter__(self) -> SignInAttempt:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._finish("abandoned")  # refused for another reason (bad input, a full lane): not a guess
