from kiln.core.permissions import Need, Principal, Role, project_decision

ALICE = Principal("alice")


def test_roles_grant_what_they_should():
    assert project_decision(ALICE, Need.READ, "p", Role.VIEWER) is None
    assert project_decision(ALICE, Need.WRITE, "p", Role.EDITOR) is None
    assert project_decision(ALICE, Need.MANAGE, "p", Role.OWNER) is None


def test_too_low_a_role_is_refused_with_what_is_needed():
    reason = project_decision(ALICE, Need.WRITE, "p", Role.VIEWER)
    assert reason and "viewer" in reason and "editor or above" in reason


def test_non_members_are_refused_and_told_how_to_get_in():
    reason = project_decision(ALICE, Need.READ, "p", None)
    assert reason and "not a member" in reason and "add-member" in reason


def test_admins_pass_but_archived_projects_are_read_only_for_everyone():
    admin = Principal("root", is_admin=True)
    assert project_decision(admin, Need.MANAGE, "p", None) is None
    assert "archived" in (project_decision(admin, Need.WRITE, "p", None, archived=True) or "")
    assert project_decision(ALICE, Need.READ, "p", Role.VIEWER, archived=True) is None
