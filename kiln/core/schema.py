"""Schema migrations for the SQLite files Kiln keeps (the coordinator's database, an agent's spool): an
ordered list of scripts, applied from the version a file has to the newest, by one function for both."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def migrate(
    execute: Callable[[str], object],
    found: int,
    migrations: Sequence[str],
    too_new: Callable[[int, int], Exception],
) -> int:
    """Runs every script after version `found` through `execute`, statement by statement (the caller
    holds the transaction and records the version returned). A file newer than this Kiln is refused with
    `too_new(found, known)`: its data must not be touched by code that does not know it."""
    if found > len(migrations):
        raise too_new(found, len(migrations))
    for script in migrations[found:]:
        for statement in script.split(";"):
            if statement.strip():
                execute(statement)
    return len(migrations)
