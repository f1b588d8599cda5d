"""What the Runs table has loaded of one search: the runs in the order the coordinator gave them, page
after page, without duplicates, and how its periodic refresh keeps them current cheaply.

A refresh reads only the first page again (plus, when more pages were loaded, up to REREAD unfinished
runs further down, by id), never the thousands of rows someone scrolled through: those runs have ended,
and an ended run no longer changes. Plain data, no Qt: tested without a widget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiln.core import limits
from kiln.core.models import RunPage, RunValues
from kiln.core.runs import Run, RunState

PAGE_SIZE = 200  # runs per page: the first page, what each refresh reads again, each "Load more"
REREAD = limits.FILTER_CONDITIONS.most  # unfinished runs past the first page read again per refresh (by id)
SETTLED = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED})  # they change no more

Item = tuple[Run, RunValues]


@dataclass(frozen=True)
class Query:
    """What the table shows: one project's runs matching `filter`, sorted by `sort` (the search's
    syntax; "" newest first), with the values of `columns`."""

    project: str
    filter: str = ""
    sort: str = ""
    columns: tuple[str, ...] = ()


@dataclass
class Listing:
    query: Query
    order: list[str] = field(default_factory=list)  # run ids, as the pages gave them
    items: dict[str, Item] = field(default_factory=dict)
    token: str = ""  # where the next page starts; "": everything is loaded
    total: int | None = None  # runs matching in all, when the coordinator counted them
    first: int = 0  # how many of `order` the first page gave
    extended: bool = False  # a later page was loaded

    @classmethod
    def started(cls, query: Query, page: RunPage) -> Listing:
        listing = cls(query)
        listing.refreshed(page)
        return listing

    def rows(self) -> list[Item]:
        return [self.items[i] for i in self.order]

    @property
    def more(self) -> bool:
        return bool(self.token)

    def extend(self, page: RunPage) -> None:
        """A later page: its runs added after those loaded (one already loaded is updated, not repeated)."""
        self.extended = True
        loaded = set(self.items)
        self._take(page.rows)
        self.order.extend(run.id for run, _ in page.rows if run.id not in loaded)
        self.token = page.next_token

    def refreshed(self, page: RunPage) -> None:
        """The first page read again. Until more was loaded it is the whole listing (a run that no longer
        matches leaves it); after, its runs come first and the rest stay below, the next page unchanged."""
        if page.total is not None:
            self.total = page.total
        head = [run.id for run, _ in page.rows]
        self._take(page.rows)
        if not self.extended:
            self.items = {i: self.items[i] for i in head}
            self.order, self.token = head, page.next_token
        else:
            shown = set(head)
            self.order = head + [i for i in self.order if i not in shown]
        self.first = len(head)

    def add(self, run: Run, values: RunValues) -> None:
        """A run just launched from this page, shown first until the coordinator lists it."""
        if run.id not in self.items:
            self.order.insert(0, run.id)
            self.first += 1
        self.items[run.id] = (run, values)

    def update(self, found: list[Item]) -> None:
        """Runs read again by id: each one loaded is updated where it is."""
        self._take([item for item in found if item[0].id in self.items])

    def to_reread(self) -> list[str]:
        """Unfinished runs below the first page (in the listing's order): at most REREAD of them."""
        below = self.order[self.first :] if self.extended else []
        return [i for i in below if self.items[i][0].state not in SETTLED][:REREAD]

    def _take(self, rows: list[Item]) -> None:
        for run, values in rows:
            self.items[run.id] = (run, values)


def ids_filter(ids: list[str]) -> str:
    """A search for exactly these runs (ids are r- and hex digits, quoted all the same)."""
    return " or ".join(f"id = '{i}'" for i in ids)
