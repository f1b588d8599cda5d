"""Reading a run's output: which part a reader asked for (all of it, what follows a chunk already read, the
last bytes of it, or the last bytes before a chunk already read), checked at the edge, and the byte
offsets the chunks carry, so a reader that began at the tail knows how much came before.

A tail is cut at chunk boundaries: the fewest last whole chunks holding at least the bytes asked for
(agents send chunks of at most 64 KiB, so a tail is at most that much longer than asked).

An offset is a chunk's place in all the run printed. Output dropped from the middle of a run over the
coordinator's log cap (store/logfiles.py) still counts, so offsets never change once read, and a reader
sees the drop as the next chunk's offset lying past the end of the one before (the run's record says how
much, and the cap)."""

from __future__ import annotations

from dataclasses import dataclass

from kiln.coordinator import runs
from kiln.coordinator.context import Coordinator
from kiln.coordinator.store.compute import LogKey
from kiln.core.errors import InvalidArgument
from kiln.core.limits import MiB
from kiln.core.permissions import Principal
from kiln.core.runs import LogChunk

MAX_TAIL_BYTES = 1024 * MiB  # more than any view shows; to read more, read it all (tail_bytes 0)
MAX_SEQ = (1 << 63) - 1  # the store's integers; no agent numbers its chunks past this
PAGE_CHUNKS = 1000  # chunks read from the store at a time
PAGE_BYTES = 8 * MiB  # and at most about this much output


@dataclass(frozen=True)
class LogRange:
    """What a reader asked for; (0, 0) for `after` is the start, for `before` the end; tail_bytes 0: all."""

    after: LogKey = (0, 0)
    before: LogKey = (0, 0)
    tail_bytes: int = 0
    follow: bool = False

    def check(self) -> LogRange:
        """Itself, if it asks for something that can be answered; else InvalidArgument saying why."""
        for name, (_, seq) in (("after_seq", self.after), ("before_seq", self.before)):
            if seq > MAX_SEQ:
                raise InvalidArgument(f"{name} {seq} is past any chunk's number (at most {MAX_SEQ})")
        if self.tail_bytes > MAX_TAIL_BYTES:
            raise InvalidArgument(
                f"tail_bytes {self.tail_bytes:,} is more than {MAX_TAIL_BYTES:,} (1 GiB): ask for less, "
                "or leave it 0 to read the whole log"
            )
        if self.bounded and self.follow:
            raise InvalidArgument(
                "before_attempt/before_seq cannot be combined with follow: output before a chunk already "
                "read is complete; follow without them"
            )
        if self.bounded and self.after >= self.before:
            raise InvalidArgument(
                f"after_attempt/after_seq {self.after} must come before before_attempt/before_seq "
                f"{self.before}: nothing lies between them"
            )
        return self

    @property
    def bounded(self) -> bool:
        return self.before != (0, 0)

    @property
    def end(self) -> LogKey | None:
        return self.before if self.bounded else None


def start(ctx: Coordinator, who: Principal, run_id: str, asked: LogRange) -> tuple[str, LogKey]:
    """The run's full id (the caller may give a prefix) and the chunk the reading starts after."""
    run = runs.get_run(ctx, who, run_id, with_events=False)
    after = asked.after
    if asked.tail_bytes:
        after = max(after, ctx.store.log_tail_start(run.id, asked.tail_bytes, asked.end))
    return run.id, after


def page(ctx: Coordinator, who: Principal, run_id: str, after: LogKey, asked: LogRange) -> tuple[bool, list[LogChunk]]:
    """Whether the run had ended, then its next chunks after `after` (read in that order, so none is
    missed), each carrying its offset."""
    run = runs.get_run(ctx, who, run_id, with_events=False)  # still readable by the caller
    return run.state.terminal, ctx.store.logs(run.id, after, PAGE_CHUNKS, asked.end, PAGE_BYTES)
