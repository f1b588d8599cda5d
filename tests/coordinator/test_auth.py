"""Sign-in, tokens and permissions through the real server."""

from __future__ import annotations

import sqlite3

import pytest

from kiln.core.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from tests.conftest import ADMIN_PASSWORD, client_for, login


def test_bootstrap_admin_signs_in_and_password_is_stored_hashed(coordinator, admin):
    user, token = admin.whoami()
    assert user.name == "admin" and user.is_admin and token.user == "admin"
    with sqlite3.connect(coordinator.ctx.config.data_dir / "kiln.db") as db:
        stored = db.execute("SELECT password_hash FROM users WHERE name='admin'").fetchone()[0]
    assert ADMIN_PASSWORD not in stored and stored.startswith("scrypt$")


def test_a_wrong_password_is_refused(coordinator):
    with client_for(coordinator) as c, pytest.raises(Unauthenticated, match="wrong user name or password"):
        c.login("admin", "not-the-password")
    with client_for(coordinator) as c, pytest.raises(Unauthenticated, match="wrong user name or password"):
        c.login("nobody", "whatever-pass")


def test_calls_without_a_token_are_unauthenticated_and_say_so(coordinator):
    with client_for(coordinator) as c, pytest.raises(Unauthenticated, match="kiln login"):
        c.list_projects()


def test_a_forged_token_is_refused(coordinator, admin):
    secret, _ = admin.create_token("ci")
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    with client_for(coordinator, forged) as c, pytest.raises(Unauthenticated, match="not known"):
        c.list_projects()


def test_an_expired_token_is_refused(coordinator, admin):
    secret, token = admin.create_token("short", ttl_seconds=3600)
    with sqlite3.connect(coordinator.ctx.config.data_dir / "kiln.db") as db:  # an hour passes
        db.execute("UPDATE tokens SET expires_at = expires_at - 7200 WHERE id = ?", [token.id])
    with client_for(coordinator, secret) as c, pytest.raises(Unauthenticated, match="expired"):
        c.list_projects()


def test_a_revoked_token_stops_working_and_logout_revokes(coordinator, admin):
    secret, token = admin.create_token("ci")
    with client_for(coordinator, secret) as c:
        assert c.whoami()[0].name == "admin"
        admin.revoke_token(token.id)
        with pytest.raises(Unauthenticated, match="revoked"):
            c.whoami()
    session = login(coordinator, "admin", ADMIN_PASSWORD)
    session.logout()
    with pytest.raises(Unauthenticated, match="revoked"):
        session.whoami()


def test_a_disabled_user_is_locked_out(coordinator, admin, make_user):
    bob = make_user("bob")
    admin.set_user_disabled("bob", True)
    with pytest.raises(Unauthenticated, match="disabled"):
        bob.whoami()
    admin.set_user_disabled("bob", False)
    with pytest.raises(Unauthenticated, match="revoked"):  # re-enabling revives no old token
        bob.whoami()
    login(coordinator, "bob", "bob-password").close()


def test_only_admins_manage_users_and_the_audit_log(coordinator, make_user):
    bob = make_user("bob")
    with pytest.raises(PermissionDenied, match="needs a global admin"):
        bob.create_user("eve", "eve-password")
    with pytest.raises(PermissionDenied):
        bob.list_audit()
    with pytest.raises(PermissionDenied):
        bob.list_tokens("*")


def test_tokens_list_and_admin_issued_tokens(coordinator, admin, make_user):
    make_user("bob")
    secret, token = admin.create_token("for-bob", user="bob")
    with client_for(coordinator, secret) as c:
        assert c.whoami()[0].name == "bob"
    assert token.id in {t.id for t in admin.list_tokens("bob")}


def test_passwords_change_with_the_old_one_and_are_checked(coordinator, make_user):
    bob = make_user("bob")
    with pytest.raises(PermissionDenied, match="current password is wrong"):
        bob.set_password("new-password-1", "wrong")
    with pytest.raises(InvalidArgument, match="too short"):
        bob.set_password("short", "bob-password")
    bob.set_password("new-password-1", "bob-password")
    login(coordinator, "bob", "new-password-1").close()


def test_bad_names_and_unknown_ids_get_clear_errors(admin):
    with pytest.raises(InvalidArgument, match="invalid user name"):
        admin.create_user("Bad Name", "long-enough")
    with pytest.raises(NotFound, match="no token"):
        admin.revoke_token("t-doesnotexist")
    with pytest.raises(NotFound, match="no user"):
        admin.set_user_disabled("ghost", True)


def test_every_mutation_is_audited_and_the_chain_verifies(coordinator, admin, make_user):
    admin.create_project("p")
    make_user("bob", "p", "viewer")
    actions = [r.action for r in admin.list_audit()]
    assert {"user.bootstrap", "auth.login", "project.create", "user.create", "project.member.set"} <= set(actions)
    assert admin.verify_audit().ok
