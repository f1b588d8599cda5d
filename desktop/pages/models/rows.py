"""The model registry as the Models page shows it: models, versions with their aliases and metrics, alias
requests with their reviews, and alias moves (all of them, or those in force at a time). Plain rows from
domain values, so what the page says (who approved, what was production when) is decided without widgets.

`load_model` is what the page runs off the GUI thread when a model is picked: one model's versions,
requests and alias history in one go, so the three tabs never show different moments."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kiln.client import Client
from kiln.core.models import AliasMove, AliasRequest, Model, ModelVersion
from kiln.desktop.pages.run.recordrows import number
from kiln.desktop.rows import Row, when, when_s

MODEL_HEADERS = ("Model", "Versions", "Aliases")
VERSION_HEADERS = ("Version", "Aliases", "Run", "Path", "Registered", "By", "Metrics")
REQUEST_HEADERS = ("Version", "Alias", "State", "Requester", "Approvals", "Message", "Requested", "ID")
REVIEW_HEADERS = ("Reviewer", "Verdict", "Message", "Time")
MOVE_HEADERS = ("Time", "Alias", "Version", "By", "Request")
AT_HEADERS = ("Alias", "Version", "Since", "By")
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
    return ModelDetails(
        project, name, list(model.versions), model.aliases, model.required_approvals, requests, moves
    )


def alias_text(aliases: Mapping[str, int]) -> str:
    return ", ".join(f"{a} → v{v}" for a, v in sorted(aliases.items()))


def metrics_text(metrics: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={number(v)}" for k, v in sorted(metrics.items()))


def model_rows(models: Iterable[Model]) -> list[Row]:
    return [
        Row((m.name, str(len(m.versions)), alias_text(m.aliases)), m.name)
        for m in sorted(models, key=lambda m: m.name)
    ]


def version_rows(versions: Iterable[ModelVersion]) -> list[Row]:
    """Newest first; a version that holds an alias is marked, so production stands out."""
    return [
        Row(
            (
                str(v.version),
                ", ".join(v.aliases),
                v.run_id,
                v.path,
                when(v.created_at),
                v.created_by,
                metrics_text(v.metrics),
            ),
            v.version,
            marked=bool(v.aliases),
        )
        for v in sorted(versions, key=lambda v: v.version, reverse=True)
    ]


def approvals_text(r: AliasRequest) -> str:
    approved = sum(1 for _, approve, _, _ in r.reviews if approve)
    return f"{approved} of {r.required_approvals}" if r.required_approvals else "not needed"


def request_rows(requests: Iterable[AliasRequest]) -> list[Row]:
    """Open requests first (they wait on someone), then the rest, newest first."""
    ordered = sorted(requests, key=lambda r: (r.state != "open", -r.created_at))
    return [
        Row(
            (
                str(r.version),
                r.alias,
                r.state,
                r.requester,
                approvals_text(r),
                r.message,
                when_s(r.created_at),
                r.id,
            ),
            r.id,
            marked=r.state == "open",
        )
        for r in ordered
    ]


def review_rows(request: AliasRequest | None) -> list[Row]:
    if request is None:
        return []
    return [
        Row((who, "approved" if approve else "rejected", message, when_s(t)), who)
        for who, approve, message, t in request.reviews
    ]


def move_rows(moves: Iterable[AliasMove]) -> list[Row]:
    ordered = sorted(moves, key=lambda m: m.time, reverse=True)
    return [
        Row((when_s(m.time), m.alias, str(m.version), m.actor, m.request_id), (m.alias, m.time)) for m in ordered
    ]


def at_rows(moves: Iterable[AliasMove]) -> list[Row]:
    """Where each alias pointed at a time: the last move of each before it."""
    return [
        Row((m.alias, str(m.version), when_s(m.time), m.actor), m.alias) for m in sorted(moves, key=lambda m: m.alias)
    ]


def at_text(moves: Iterable[AliasMove], at: str, alias: str = GUARDED) -> str:
    """The answer to "which version was production at T", in words."""
    found = [m for m in moves if m.alias == alias]
    if not found:
        return f"At {at}, no version was {alias}."
    m = found[-1]
    return f"At {at}, {alias} was version {m.version} (since {when_s(m.time)}, by {m.actor})."
