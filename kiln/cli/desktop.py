"""`kiln desktop` opens the desktop app; `kiln tray` the admin tray. Qt is imported only when the command
runs, so the rest of the command line works where PySide6 is not installed."""

from __future__ import annotations

import argparse
from typing import Any

from kiln.cli.common import command
from kiln.core.errors import FailedPrecondition


def register(sub: Any) -> None:
    command(sub, "desktop", "open the Kiln desktop app", desktop)
    command(
        sub,
        "tray",
        "the admin tray (IT): cluster health, nodes, join tokens, the admin window",
        tray,
    )


def _app_main() -> Any:
    try:
        from kiln.desktop.app import main
    except ImportError as e:
        raise FailedPrecondition(
            f"the desktop app needs PySide6 ({e}); install it with: pip install 'kiln[desktop]'"
        ) from None
    return main


def desktop(args: argparse.Namespace) -> int:
    return int(_app_main()([]))


def tray(args: argparse.Namespace) -> int:
    return int(_app_main()(["tray"]))
