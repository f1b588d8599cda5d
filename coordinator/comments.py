"""Comments on any entity (run, snapshot, dataset version, model version), visible to its project's members."""

from __future__ import annotations

import secrets

from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.entities import resolve
from kiln.core import clock
from kiln.core.errors import InvalidArgument
from kiln.core.models import Comment
from kiln.core.permissions import Need, Principal

MAX_COMMENT = 10_000


def add(ctx: Coordinator, who: Principal, entity_text: str, text: str) -> Comment:
    entity = resolve(ctx, who, entity_text)
    require_project(ctx.store, who, Need.READ, entity.project)  # viewers may comment; members only
    text = text.strip()
    if not text or len(text) > MAX_COMMENT:
        raise InvalidArgument(f"a comment needs 1 to {MAX_COMMENT} characters")
    comment = Comment("c-" + secrets.token_hex(5), entity.id, entity.project, who.user, text, clock.now())
    with ctx.store.transaction():
        ctx.store.add_comment(comment.__dict__)
        ctx.store.append_audit(who.user, "comment.add", entity.id, {"comment": comment.id})
    return comment


def list_comments(ctx: Coordinator, who: Principal, entity_text: str) -> list[Comment]:
    entity = resolve(ctx, who, entity_text)
    return [Comment(**row) for row in ctx.store.comments(entity.id)]
