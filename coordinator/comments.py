"""Comments on any entity (run, snapshot, dataset or model version, environment), visible to its project's
members.

A comment belongs to a project: its thread is (project, entity). A run, dataset version or model version
has one project, so one thread; a snapshot or an environment is content that several projects may hold
under one id, and each of them has its own thread on it. A member of one project therefore never reads
or writes another project's thread, even on identical content.
"""

from __future__ import annotations

import secrets

from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.entities import holders, resolve
from kiln.core import clock, limits
from kiln.core.errors import InvalidArgument
from kiln.core.lineage import SHARED_KINDS, Entity
from kiln.core.models import Comment
from kiln.core.paging import Page, PageRequest, page_of
from kiln.core.permissions import Need, Principal

MAX_COMMENT = limits.COMMENT.most


def add(ctx: Coordinator, who: Principal, entity_text: str, text: str, project: str = "") -> Comment:
    """Adds a comment to the thread on the entity in `project` (see `thread`)."""
    text = limits.COMMENT.text(text.strip())
    if not text:
        raise InvalidArgument("a comment needs some text")
    entity = thread(ctx, who, entity_text, project)
    require_project(ctx.store, who, Need.READ, entity.project)  # viewers may comment; members only
    comment = Comment("c-" + secrets.token_hex(5), entity.id, entity.project, who.user, text, clock.now())
    with ctx.store.transaction():
        ctx.store.add_comment(comment.__dict__)
        ctx.store.append_audit(who.user, "comment.add", entity.id, {"comment": comment.id, "project": entity.project})
    return comment


def list_comments(ctx: Coordinator, who: Principal, entity_text: str, project: str, page: PageRequest) -> Page[Comment]:
    """One page of the thread on the entity in `project` (see `thread`), oldest first."""
    entity = thread(ctx, who, entity_text, project)
    after = (float(page.after[0]), str(page.after[1])) if page.after else None
    rows = ctx.store.comments(entity.project, entity.id, after, page.size + 1)
    return page_of([Comment(**row) for row in rows], page.size, lambda c: (c.time, c.id))


def thread(ctx: Coordinator, who: Principal, entity_text: str, project: str) -> Entity:
    """The entity as held by the project whose thread is meant: `project`, or the only project the caller
    may read that holds it. Content in several of the caller's projects needs `project` said, so that no
    comment lands in (or is read from) a thread the caller did not mean."""
    entity = resolve(ctx, who, entity_text, project)
    if not project and entity.kind in SHARED_KINDS:
        found = holders(ctx, who, entity)
        if len(found) > 1:
            raise InvalidArgument(
                f"{entity.id} is in several of your projects ({', '.join(found[:5])}); each has its own "
                "comments on it: say which project (--project P)"
            )
    return entity
