"""What the desktop remembers between sessions, beside the CLI's own state under KILN_HOME.

`desktop.json` holds which local folder is linked to which project (per coordinator, since two servers
may both have a "demo"), the project last looked at, the hourly rate IT set per node (and the currency
they are in) for the admin window's cost (the coordinator keeps no rates yet), and the params/metrics/tags
columns chosen for each project's Runs table. The stat cache is the CLI's (`cache/`), so a
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
    columns: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # server -> project -> columns
    currencies: dict[str, str] = field(default_factory=dict)  # server -> ISO code the rates are in ("EUR")

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
            settings = cls(home, dict(data.get("links", {})), dict(data.get("last_project", {})), rates)
        except (OSError, ValueError, AttributeError, TypeError):
            return cls(home)
        settings.columns = _columns(data.get("columns"))
        saved = data.get("currencies")
        settings.currencies = {k: v for k, v in saved.items() if isinstance(v, str)} if isinstance(saved, dict) else {}
        return settings

    def save(self) -> None:
        data = {"links": self.links, "last_project": self.last_project, "rates": self.rates, "columns": self.columns}
        data["currencies"] = self.currencies
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

    def columns_for(self, server: str, project: str) -> list[str]:
        """The params/metrics/tags columns last chosen for the project's Runs table (none at first)."""
        return list(self.columns.get(server, {}).get(project, []))

    def set_columns(self, server: str, project: str, columns: list[str]) -> None:
        if self.columns_for(server, project) != columns:
            self.columns.setdefault(server, {})[project] = list(columns)
            self.save()

    def currency_for(self, server: str) -> str:
        """The ISO code IT chose for the server's rates ("" until chosen)."""
        return self.currencies.get(server, "")

    def set_currency(self, server: str, code: str) -> None:
        if self.currencies.get(server) != code:
            self.currencies[server] = code
            self.save()

    def remember_project(self, server: str, project: str) -> None:
        if self.last_project.get(server) != project:
            self.last_project[server] = project
            self.save()


def _columns(saved: object) -> dict[str, dict[str, list[str]]]:
    """Chosen columns as saved; anything not shaped as server -> project -> [column, ...] is left out
    (a file edited by hand forgets those columns, rather than stopping the app)."""
    if not isinstance(saved, dict):
        return {}
    return {
        server: {p: [c for c in cols if isinstance(c, str)] for p, cols in projects.items() if isinstance(cols, list)}
        for server, projects in saved.items()
        if isinstance(projects, dict)
    }
