"""Nodes: join tokens, enrolment (a join token and a key's certificate request become a node certificate),
the node list, draining and removal."""

from __future__ import annotations

import math
import secrets
from dataclasses import replace

from kiln.coordinator.access import require_admin
from kiln.coordinator.context import Coordinator
from kiln.coordinator.identity import secret_hash
from kiln.coordinator.pki import certificate_fingerprint, sign_node_request
from kiln.core import clock, jointoken
from kiln.core.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from kiln.core.link import Quarantined
from kiln.core.models import JoinToken, Node, NodeCertificate
from kiln.core.names import check_name
from kiln.core.permissions import Principal
from kiln.core.runs import ACTIVE

MAX_TOKEN_USES = 10_000


def create_join_token(ctx: Coordinator, who: Principal, uses: int, ttl_s: float) -> JoinToken:
    require_admin(who, "creating a node join token")
    if not 1 <= uses <= MAX_TOKEN_USES or not 0 < ttl_s < math.inf:  # NaN fails this too
        raise InvalidArgument(f"a join token needs 1 to {MAX_TOKEN_USES} uses and a positive lifetime")
    token_id, secret = "j-" + secrets.token_hex(6), secrets.token_urlsafe(24)
    now = clock.now()
    with ctx.store.transaction():
        ctx.store.add_join_token(token_id, secret_hash(secret), uses, now + ttl_s, who.user, now)
        ctx.store.append_audit(who.user, "node.token.create", token_id, {"uses": uses, "expires_at": now + ttl_s})
    return JoinToken(
        id=token_id, uses=uses, expires_at=now + ttl_s, token=jointoken.make(ctx.tls.ca_fingerprint, secret)
    )


def enroll(
    ctx: Coordinator, token: str, name: str, csr_pem: bytes, labels: dict[str, str], agent_port: int
) -> NodeCertificate:
    """The node certificate for a valid join token; the token's use is counted."""
    _, secret = jointoken.parse(token)
    row = ctx.store.join_token(secret_hash(secret))
    if row is None:
        raise PermissionDenied("this join token is not known to the coordinator; ask an admin for a new one")
    if row["expires_at"] <= clock.now():
        raise PermissionDenied(f"join token {row['id']} expired at {clock.iso(row['expires_at'])}; ask for a new one")
    if row["uses_left"] <= 0:
        raise PermissionDenied(f"join token {row['id']} has been used up; ask an admin for a new one")
    check_name("node", name)
    if ctx.store.node_exists(name):
        raise AlreadyExists(
            f"a node named {name!r} is already enrolled; remove it first (kiln node remove {name})"
            " or pick another name (--name)"
        )
    certificate = sign_node_request(ctx.config.data_dir / "pki", csr_pem, name)
    with ctx.store.transaction():
        ctx.store.use_join_token(row["id"])
        ctx.store.add_node(name, certificate_fingerprint(certificate), labels, clock.now())
        ctx.store.append_audit(f"join-token:{row['id']}", "node.enroll", name, {"labels": labels})
    return NodeCertificate(name=name, certificate_pem=certificate, ca_pem=ctx.tls.ca_pem, agent_port=agent_port)


def list_nodes(ctx: Coordinator, who: Principal) -> list[Node]:
    """Every enrolled node with its live state; any signed-in user may look (nothing secret here)."""
    active = ctx.store.runs(states=ACTIVE)
    quarantined = ctx.store.quarantine_counts()
    now = clock.now()
    found = []
    for n in ctx.store.nodes():
        live = ctx.liveness.state(n.name, now)
        found.append(
            replace(
                n,
                state="draining" if n.drained and live == "ready" else live,
                inventory=ctx.liveness.inventory_of(n.name, n.inventory),
                last_seen=ctx.liveness.last_seen_of(n.name, n.last_seen),
                runs=tuple(r.id for r in active if r.node == n.name),
                quarantined=quarantined.get(n.name, 0),
            )
        )
    return found


def list_quarantined(ctx: Coordinator, who: Principal, name: str) -> list[Quarantined]:
    """The agent messages set aside from node `name` (every node when ""), for an admin to inspect."""
    require_admin(who, "reading the messages set aside from nodes")
    if name:
        _existing(ctx, name)
    return ctx.store.quarantined(name)


def set_drain(ctx: Coordinator, who: Principal, name: str, drain: bool) -> Node:
    require_admin(who, "draining a node")
    _existing(ctx, name)
    with ctx.store.transaction():
        ctx.store.set_node_drained(name, drain)
        ctx.store.append_audit(who.user, "node.drain" if drain else "node.undrain", name, {})
    return _existing(ctx, name)


def remove_node(ctx: Coordinator, who: Principal, name: str) -> Node:
    require_admin(who, "removing a node")
    node = _existing(ctx, name)
    with ctx.store.transaction():
        ctx.store.remove_node(name, clock.now())
        ctx.store.append_audit(who.user, "node.remove", name, {})
    return replace(node, state="removed")


def _existing(ctx: Coordinator, name: str) -> Node:
    node = ctx.store.node(name)
    if node is None:
        raise NotFound(f"no node named {name!r} (kiln nodes lists them)")
    return node
