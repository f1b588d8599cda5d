"""How long sync work reports progress: a small interface the CLI (rich) and the desktop (Qt) implement."""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    def phase(self, name: str, total_bytes: int) -> None:
        """A new phase ("hashing", "uploading", "downloading") of `total_bytes` begins."""

    def advance(self, nbytes: int) -> None:
        """`nbytes` more of the current phase are done."""

    def done(self) -> None:
        """The work is over (successfully or not)."""


class Silent:
    def phase(self, name: str, total_bytes: int) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def done(self) -> None:
        pass
