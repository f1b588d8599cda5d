"""A rich progress bar for sync work, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from kiln.sync.progress import Reporter, Silent

if TYPE_CHECKING:
    from rich.progress import TaskID


class RichReporter:
    def __init__(self) -> None:
        # rich is imported only when a bar is shown: at a terminal, and not for --json.
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description:>11}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.task: TaskID | None = None
        self.progress.start()

    def phase(self, name: str, total_bytes: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.progress.tasks[self.task].total)
        self.task = self.progress.add_task(name, total=total_bytes)

    def advance(self, nbytes: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, nbytes)

    def done(self) -> None:
        self.progress.stop()


def reporter_for(quiet: bool) -> Reporter:
    return RichReporter() if sys.stderr.isatty() and not quiet else Silent()
