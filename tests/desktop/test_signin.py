"""Signing in: the CA fingerprint is shown and must be accepted; errors are said in the dialog; a saved
sign-in that still works opens the main window without asking."""

from __future__ import annotations

from kiln.config import load_profile, load_token
from kiln.desktop.app import Launcher
from kiln.desktop.signin import SignInDialog
from tests.conftest import ADMIN_PASSWORD
from tests.desktop.conftest import WAIT_MS, click, session_for, wait_idle


def open_dialog(qtbot, settings) -> SignInDialog:
    dialog = SignInDialog(settings)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def check_server(qtbot, dialog: SignInDialog, address: str) -> None:
    qtbot.keyClicks(dialog.server, address)
    click(qtbot, dialog.check)
    qtbot.waitUntil(lambda: dialog.ca is not None, timeout=WAIT_MS)


def test_the_fingerprint_is_shown_and_must_be_accepted_before_signing_in(qtbot, coordinator, settings, kiln_home):
    dialog = open_dialog(qtbot, settings)
    check_server(qtbot, dialog, coordinator.address)
    assert coordinator.ctx.tls.ca_fingerprint in dialog.fingerprint.text()
    qtbot.keyClicks(dialog.user, "admin")
    qtbot.keyClicks(dialog.password, ADMIN_PASSWORD)
    assert not dialog.sign_in.isEnabled()  # credentials are typed, but the CA is not accepted yet
    click(qtbot, dialog.accept_ca)
    assert dialog.sign_in.isEnabled()
    with qtbot.waitSignal(dialog.signed_in, timeout=WAIT_MS) as signed:
        click(qtbot, dialog.sign_in)
    session = signed.args[0]
    try:
        assert session.user.name == "admin" and not dialog.isVisible()
        profile = load_profile(kiln_home)
        assert (profile.server, profile.fingerprint) == (
            coordinator.address,
            coordinator.ctx.tls.ca_fingerprint,
        )
        assert load_token(profile, kiln_home)
    finally:
        session.close()


def test_editing_the_address_withdraws_the_acceptance(qtbot, coordinator, settings):
    dialog = open_dialog(qtbot, settings)
    check_server(qtbot, dialog, coordinator.address)
    click(qtbot, dialog.accept_ca)
    qtbot.keyClicks(dialog.server, "0")
    assert dialog.ca is None and not dialog.accept_ca.isChecked() and not dialog.accept_ca.isEnabled()


def test_a_wrong_password_shows_the_coordinators_message(qtbot, coordinator, settings, kiln_home):
    dialog = open_dialog(qtbot, settings)
    check_server(qtbot, dialog, coordinator.address)
    click(qtbot, dialog.accept_ca)
    qtbot.keyClicks(dialog.user, "admin")
    qtbot.keyClicks(dialog.password, "not-the-password")
    click(qtbot, dialog.sign_in)
    qtbot.waitUntil(lambda: "wrong user name or password" in dialog.message.text(), timeout=WAIT_MS)
    wait_idle(qtbot, dialog.runner)
    assert dialog.isVisible() and dialog.sign_in.isEnabled()
    assert not (kiln_home / "config.json").exists()


def test_an_unreachable_server_is_said_in_the_dialog(qtbot, coordinator, settings):
    dialog = open_dialog(qtbot, settings)
    qtbot.keyClicks(dialog.server, "127.0.0.1:1")
    click(qtbot, dialog.check)
    qtbot.waitUntil(lambda: "cannot reach" in dialog.message.text(), timeout=WAIT_MS)
    wait_idle(qtbot, dialog.runner)
    assert dialog.ca is None and not dialog.sign_in.isEnabled()


def test_signing_in_with_an_api_token(qtbot, coordinator, admin, settings):
    secret, _ = admin.create_token("laptop")
    dialog = open_dialog(qtbot, settings)
    check_server(qtbot, dialog, coordinator.address)
    click(qtbot, dialog.accept_ca)
    click(qtbot, dialog.with_token)
    qtbot.keyClicks(dialog.token, secret)
    with qtbot.waitSignal(dialog.signed_in, timeout=WAIT_MS) as signed:
        click(qtbot, dialog.sign_in)
    signed.args[0].close()
    assert signed.args[0].user.name == "admin"


def test_a_saved_sign_in_that_works_skips_the_dialog(qtbot, coordinator, settings, kiln_home):
    session_for(coordinator, kiln_home, "admin", ADMIN_PASSWORD).close()
    launcher = Launcher(settings)
    with qtbot.waitSignal(launcher.window_opened, timeout=WAIT_MS) as opened:
        launcher.start()
    window = opened.args[0]
    qtbot.addWidget(window)
    wait_idle(qtbot, window.runner)
    assert launcher.dialog is None and window.session.user.name == "admin"


def test_without_a_saved_sign_in_the_dialog_opens(qtbot, settings):
    launcher = Launcher(settings)
    with qtbot.waitSignal(launcher.dialog_opened, timeout=WAIT_MS) as opened:
        launcher.start()
    qtbot.addWidget(opened.args[0])
    assert launcher.window is None and opened.args[0].isVisible()
