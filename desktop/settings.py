"""What the desktop remembers between sessions, beside the CLI's own state under KILN_HOME.

`desktop.json` holds which local folder is linked to which project (per coordinator, since two servers
may both have a "demo"), the project last looked at, and the hourly rate IT set per node for the admin
window's cost (the coordinator keeps no rates yet). The stat cache is the CLI's (`cache/`), so a
folder pushed from either is recognised by both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kiln.config import kiln_home
from kiln.core.atomic import atomic_write


@dataclass
class Settings:
    """Loaded once at start and passed to whoever needs it; written back on every change."""

    home: Path
    links: dict[str, dict[str, str]] = field(default_factory=dict)  # server -> project -> folder
    last_project: dict[str, str] = field(default_factory=dict)  # server -> project
    rates: dict[str, dict[str, float]] = field(default_factory=dict)  # server -> node -> rate per hour

    @property
    def path(self) -> Path:
        return self.home / "desktop.json"

    @property
    def cache_dir(self) -> Path:
        """The stat caches, shared with `kiln push` (kiln.cli.session.cache_dir)."""
        return self.home / "cache"

    @classmethod
    def load(cls, home: Path | None = None) -> Settings:
        """The saved settings; a missing or unreadable file starts empty rather than stopping the app."""
        home = home or kiln_home()
        try:
            data = json.loads((home / "desktop.json").read_text())
            rates = {s: {n: float(r) for n, r in nodes.items()} for s, nodes in data.get("rates", {}).items()}
            return cls(home, dict(data.get("links", {})), dict(data.get("last_project", {})), rates)
        except (OSError, ValueError, AttributeError, TypeError):
            return cls(home)

    def save(self) -> None:
        data = {"links": self.links, "last_project": self.last_project, "rates": self.rates}
        atomic_write(self.path, json.dumps(data, indent=2, sort_keys=True).encode(), 0o600)

    def folder_for(self, server: str, project: str) -> Path | None:
        folder = self.links.get(server, {}).get(project)
        return Path(folder) if folder else None

    def link(self, server: str, project: str, folder: Path) -> None:
        self.links.setdefault(server, {})[project] = str(folder.resolve())
        self.save()

    def unlink(self, server: str, project: str) -> None:
        self.links.get(server, {}).pop(project, None)
        self.save()

    def rates_for(self, server: str) -> dict[str, float]:
        return dict(self.rates.get(server, {}))

    def set_rate(self, server: str, node: str, rate: float) -> None:
        if self.rates.get(server, {}).get(node, 0.0) != rate:
            self.rates.setdefault(server, {})[node] = rate
            self.save()

    def remember_project(self, server: str, project: str) -> None:
        if self.last_project.get(server) != project:
            self.last_project[server] = project
            self.save()
