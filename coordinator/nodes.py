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
from kiln.core import clock, jointoken, limits
from kiln.core.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from kiln.core.link import Quarantined
from kiln.core.models import JoinToken, Node, NodeCertificate
from kiln.core.names import check_labels, check_name
from kiln.core.paging import Page, PageRequest, page_in_memory, page_of
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
    """The node certificate for a valid join token; the token's use is counted. Anyone may call this: what
    they send is bounded before anything is looked up."""
    limits.JOIN_TOKEN.check(token)
    limits.CERTIFICATE_REQUEST.check(csr_pem)
    check_name("node", name)
    check_labels(labels)
    _, secret = jointoken.parse(token)
    row = ctx.store.join_token(secret_hash(secret))
    if row is None:
        raise PermissionDenied("this join token is not known to the coordinator; ask an admin for a new one")
    if row["expires_at"] <= clock.now():
        raise PermissionDenied(f"join token {row['id']} expired at {clock.iso(row['expires_at'])}; ask for a new one")
    if row["uses_left"] <= 0:
        raise PermissionDenied(f"join token {row['id']} has been used up; ask an admin for a new one")
    if ctx.store.node_fingerprint(name):  # a node that was reset has none, and may enrol again
        raise AlreadyExists(
            f"a node named {name!r} is already enrolled; if this host was re-imaged, an admin runs kiln node "
            f"reset {name} first (or kiln node remove {name}); or pick another name (--name)"
        )
    certificate = sign_node_request(ctx.config.data_dir / "pki", csr_pem, name)
    with ctx.store.transaction():
        ctx.store.use_join_token(row["id"])
        ctx.store.add_node(name, certificate_fingerprint(certificate), labels, clock.now())
        ctx.store.append_audit(f"join-token:{row['id']}", "node.enroll", name, {"labels": labels})
    return NodeCertificate(name=name, certificate_pem=certificate, ca_pem=ctx.tls.ca_pem, agent_port=agent_port)


def list_nodes(ctx: Coordinator, who: Principal, page: PageRequest) -> Page[Node]:
    """One page of the enrolled nodes, by name, with their live state; any signed-in user may look
    (nothing secret here)."""
    chosen = page_in_memory(ctx.store.nodes(), page, lambda n: (n.name,))
    active = ctx.store.runs(states=ACTIVE)
    quarantined = ctx.store.quarantine_counts()
    now = clock.now()
    found = []
    for n in chosen.items:
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
    return Page(found, chosen.keys, chosen.more)


def list_quarantined(ctx: Coordinator, who: Principal, name: str, page: PageRequest) -> Page[Quarantined]:
    """One page of the agent messages set aside from node `name` (every node when ""), oldest first, for an
    admin to inspect."""
    require_admin(who, "reading the messages set aside from nodes")
    if name:
        _existing(ctx, name)
    rows = ctx.store.quarantined_after(name, int(page.after[0]) if page.after else 0, page.size + 1)
    return page_of(rows, page.size, lambda row: (row[0],)).map(lambda row: row[1])


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


def reset_node(ctx: Coordinator, who: Principal, name: str) -> Node:
    """Revokes the node's certificate, keeping its record and history: whatever holds the old identity (a
    re-imaged host's old copy, a clone) is refused from now on, and the host enrols again, under the same
    name, with a join token. Its runs are lost past the grace period and retried, as for any silent node."""
    require_admin(who, "resetting a node")
    node = _existing(ctx, name)
    with ctx.store.transaction():
        ctx.store.reset_node(name)
        ctx.store.append_audit(who.user, "node.reset", name, {})
    return replace(node, state="reset")


def _existing(ctx: Coordinator, name: str) -> Node:
    node = ctx.store.node(name)
    if node is None:
        raise NotFound(f"no node named {name!r} (kiln nodes lists them)")
    return node
