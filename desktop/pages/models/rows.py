"""The model registry as the Models page shows it: models, versions with their aliases, one column per
metric, flavor, size, source run and dataset, alias requests with their reviews, and alias moves (all of
them, or those in force at a time). Plain rows from domain values, so what the page says (who approved,
what was production when) is decided without widgets.

`load_model` is what the page runs off the GUI thread when a model is picked: one model's versions,
requests and alias history in one go, so the three tabs never show different moments. `read_extras`
follows it: what the versions' source runs logged (flavor, datasets read) and how big each version is in
its run's output, learnt once per run and snapshot (both are immutable once a version exists)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kiln.client import Client
from kiln.core.errors import NotFound, PermissionDenied
from kiln.core.lineage import split
from kiln.core.models import AliasMove, AliasRequest, Model, ModelVersion
from kiln.core.units import format_bytes
from kiln.desktop import times
from kiln.desktop.pages.run.recordrows import number, under
from kiln.desktop.rows import Row, ago, when_s, with_zone

MODEL_HEADERS = ("Model", "Versions", "Aliases")
VERSION_LEADING = ("Version", "Aliases", "Run", "Path", "Flavor", "Size", "Dataset")  # then a column per metric
ALIAS_COLUMN, RUN_COLUMN = 1, 2
METRIC_COLUMNS = 6  # shown by default (the first, by name); more are one click away
EXTRA_VERSIONS = 200  # the newest versions whose runs and sizes are read; older ones show no extras
REQUEST_HEADERS = ("Version", "Alias", "State", "Requester", "Approvals", "Message", "Requested", "ID")
REVIEW_HEADERS = ("Reviewer", "Verdict", "Message", "Time")
MOVE_HEADERS = ("Time", "Alias", "Version", "By", "Request")  # local times: move_headers() names the zone
AT_HEADERS = ("Alias", "Version", "Since", "By")  # at_headers() names the zone
GUARDED = "production"  # the alias that moves only through approvals (the coordinator's rule)
ALIASES = ("staging", GUARDED)


@dataclass(frozen=True)
class ModelDetails:
    project: str
    name: str
    versions: list[ModelVersion]
    aliases: dict[str, int]
    required_approvals: int
    requests: list[AliasRequest]
    moves: Sequence[AliasMove]


def load_model(client: Client, project: str, name: str) -> ModelDetails:
    model = client.get_model(project, name)
    requests = client.alias_requests(project, name)
    moves = client.alias_history(project, name)
    return ModelDetails(project, name, list(model.versions), model.aliases, model.required_approvals, requests, moves)


def alias_text(aliases: Mapping[str, int]) -> str:
    return ", ".join(f"{a} → v{v}" for a, v in sorted(aliases.items()))


def model_rows(models: Iterable[Model]) -> list[Row]:
    return [
        Row((m.name, str(len(m.versions)), alias_text(m.aliases)), m.name) for m in sorted(models, key=lambda m: m.name)
    ]


@dataclass(frozen=True)
class RunFacts:
    """What a version's source run logged that the versions table shows."""

    models: tuple[tuple[str, str, str], ...] = ()  # (path, name, flavor)
    datasets: tuple[str, ...] = ()  # entity ids of the dataset versions it read


@dataclass
class Extras:
    """What the page has learnt about versions: facts of their runs, and sizes by (snapshot, path)."""

    runs: dict[str, RunFacts] = field(default_factory=dict)
    sizes: dict[tuple[str, str], int] = field(default_factory=dict)

    def merge(self, more: Extras) -> None:
        self.runs.update(more.runs)
        self.sizes.update(more.sizes)

    def missing(self, versions: Iterable[ModelVersion]) -> list[ModelVersion]:
        newest = sorted(versions, key=lambda v: v.version, reverse=True)[:EXTRA_VERSIONS]
        return [v for v in newest if v.run_id not in self.runs or (v.snapshot, v.path) not in self.sizes]


def read_extras(client: Client, versions: Sequence[ModelVersion]) -> Extras:
    """Off the GUI thread: the run record of each source run and the manifest of each output snapshot,
    once each. A run or snapshot gone (or out of reach) leaves its cells empty rather than the table."""
    found = Extras()
    for v in versions:
        if v.run_id not in found.runs:
            try:
                record = client.run_record(v.run_id)
                inputs = tuple(i for i in record.inputs if i.startswith("dataset:"))
                found.runs[v.run_id] = RunFacts(tuple(record.models), inputs)
            except (NotFound, PermissionDenied):
                found.runs[v.run_id] = RunFacts()
        if (v.snapshot, v.path) not in found.sizes:
            try:
                entries = client.get_snapshot(v.snapshot, v.project)[1]
            except (NotFound, PermissionDenied):
                entries = []
            for other in versions:  # versions registered from the same output share one read
                if other.snapshot == v.snapshot:
                    files = [e for e in entries if e.has_blob and under(e, other.path)]
                    found.sizes[(other.snapshot, other.path)] = sum(e.size for e in files)
    return found


def metric_keys(versions: Iterable[ModelVersion]) -> list[str]:
    """Every metric the versions' source runs logged (their final values, copied at registration)."""
    return sorted({k for v in versions for k in v.metrics})


def default_metrics(versions: Iterable[ModelVersion]) -> list[str]:
    return metric_keys(versions)[:METRIC_COLUMNS]


def version_headers(metrics: Sequence[str]) -> tuple[str, ...]:
    return (*VERSION_LEADING, *metrics, "Registered", "By")


def flavor_of(v: ModelVersion, facts: RunFacts | None) -> str:
    """The flavor the run logged the model with, at the registered path (or a folder holding it)."""
    if facts is None:
        return ""
    path = v.path.strip("/")
    for model_path, _, flavor in facts.models:
        model_path = model_path.strip("/")
        if path == model_path or path.startswith(model_path + "/") or model_path.startswith(path + "/"):
            return flavor
    return ""


def datasets_text(facts: RunFacts | None, project: str) -> str:
    """ "images v3" for each dataset version the run read (its project named when it is another one)."""
    said = []
    for entity in facts.datasets if facts else ():
        _, rest = split(entity)
        name, _, version = rest.partition("@")
        said.append(f"{name.removeprefix(project + '/')} v{version}")
    return ", ".join(said)


def version_rows(
    versions: Iterable[ModelVersion], metrics: Sequence[str], extras: Extras, now: float | None = None
) -> list[Row]:
    """Newest first, one column per metric in `metrics`; a version that holds an alias is marked, so
    production stands out. Flavor, size and dataset are empty until `extras` knows them. Registered reads
    "3 days ago" (relative to `now`), the exact time on hover."""
    now = time.time() if now is None else now
    rows = []
    for v in sorted(versions, key=lambda v: v.version, reverse=True):
        facts = extras.runs.get(v.run_id)
        size = extras.sizes.get((v.snapshot, v.path))
        values = tuple(number(v.metrics[k]) if k in v.metrics else "" for k in metrics)
        leading = (str(v.version), ", ".join(v.aliases), v.run_id, v.path, flavor_of(v, facts))
        cells = (*leading, format_bytes(size) if size is not None else "", datasets_text(facts, v.project))
        registered, registered_tip = ago(v.created_at, now)
        tips = ("",) * (len(cells) + len(values)) + (registered_tip, "")
        sort = (v.version, *cells[1:5], size, cells[6], *(v.metrics.get(k) for k in metrics))
        sort += (v.created_at, v.created_by)
        row_cells = (*cells, *values, registered, v.created_by)
        rows.append(Row(row_cells, v.version, marked=bool(v.aliases), tips=tips, sort=sort))
    return rows


def approvals_text(r: AliasRequest) -> str:
    approved = sum(1 for _, approve, _, _ in r.reviews if approve)
    return f"{approved} of {r.required_approvals}" if r.required_approvals else "not needed"


def request_rows(requests: Iterable[AliasRequest], now: float | None = None) -> list[Row]:
    """Open requests first (they wait on someone), then the rest, newest first; Requested reads "5 min
    ago" (relative to `now`), the exact time on hover."""
    now = time.time() if now is None else now
    ordered = sorted(requests, key=lambda r: (r.state != "open", -r.created_at))
    rows = []
    for r in ordered:
        requested, requested_tip = ago(r.created_at, now)
        cells = (str(r.version), r.alias, r.state, r.requester, approvals_text(r), r.message, requested, r.id)
        tips = ("",) * 6 + (requested_tip,)
        rows.append(Row(cells, r.id, marked=r.state == "open", tips=tips))
    return rows


def review_rows(request: AliasRequest | None, now: float | None = None) -> list[Row]:
    """Each review; its time relative to `now`, exact on hover."""
    if request is None:
        return []
    now = time.time() if now is None else now
    rows = []
    for who, approve, message, t in request.reviews:
        when_text, tip = ago(t, now)
        rows.append(Row((who, "approved" if approve else "rejected", message, when_text), who, tips=("",) * 3 + (tip,)))
    return rows


def move_headers() -> tuple[str, ...]:
    return with_zone(MOVE_HEADERS)


def move_rows(moves: Iterable[AliasMove]) -> list[Row]:
    """Newest first, each to the second in local time (an audit trail is read by exact time; the header
    names the zone), exact with UTC on hover."""
    ordered = sorted(moves, key=lambda m: m.time, reverse=True)
    return [
        Row(
            (when_s(m.time), m.alias, str(m.version), m.actor, m.request_id),
            (m.alias, m.time),
            tips=(times.exact(m.time),),
        )
        for m in ordered
    ]


def at_headers() -> tuple[str, ...]:
    return with_zone(AT_HEADERS, "Since")


def at_rows(moves: Iterable[AliasMove]) -> list[Row]:
    """Where each alias pointed at a time: the last move of each before it (local time; the header names
    the zone, the tooltip the exact moment)."""
    return [
        Row((m.alias, str(m.version), when_s(m.time), m.actor), m.alias, tips=("", "", times.exact(m.time)))
        for m in sorted(moves, key=lambda m: m.alias)
    ]


def at_text(moves: Iterable[AliasMove], at: str, alias: str = GUARDED) -> str:
    """The answer to "which version was production at T", in words."""
    found = [m for m in moves if m.alias == alias]
    if not found:
        return f"At {at}, no version was {alias}."
    m = found[-1]
    return f"At {at}, {alias} was version {m.version} (since {times.local_zoned(m.time)}, by {m.actor})."
