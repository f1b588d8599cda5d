from __future__ import annotations

import pytest

from kiln.core.errors import AlreadyExists, FailedPrecondition, NotFound, PermissionDenied
from kiln.core.permissions import Role


def test_create_list_show_and_membership(admin, make_user):
    admin.create_project("vision", "image models")
    bob = make_user("bob", "vision", "viewer")
    assert [p.name for p in bob.list_projects()] == ["vision"]
    shown = bob.get_project("vision")
    assert shown.members == {"admin": Role.OWNER, "bob": Role.VIEWER} and shown.my_role == "viewer"
    with pytest.raises(AlreadyExists):
        admin.create_project("vision")


def test_non_members_see_nothing_and_cannot_read(admin, make_user):
    admin.create_project("secret")
    eve = make_user("eve")
    assert eve.list_projects() == []
    with pytest.raises(PermissionDenied, match="not a member"):
        eve.get_project("secret")


def test_only_owners_manage_members(admin, make_user):
    admin.create_project("p")
    bob = make_user("bob", "p", "editor")
    make_user("carol")
    with pytest.raises(PermissionDenied, match="owner or above"):
        bob.set_member("p", "carol", "viewer")
    admin.set_member("p", "bob", "owner")
    bob.set_member("p", "carol", "viewer")
    assert admin.get_project("p").members["carol"] is Role.VIEWER
    bob.remove_member("p", "carol")
    assert "carol" not in admin.get_project("p").members


def test_the_last_owner_cannot_leave(admin):
    admin.create_project("p")
    with pytest.raises(FailedPrecondition, match="last owner"):
        admin.remove_member("p", "admin")
    with pytest.raises(NotFound, match="no user"):
        admin.set_member("p", "ghost", "viewer")


def test_archived_projects_are_read_only(admin, make_user):
    admin.create_project("old")
    bob = make_user("bob", "old", "editor")
    admin.archive_project("old")
    assert bob.list_projects() == [] and [p.name for p in bob.list_projects(include_archived=True)] == ["old"]
    with pytest.raises(PermissionDenied, match="archived"):
        bob.find_missing_blobs("old", [])
