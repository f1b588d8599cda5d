"""The sign-in dialog: the server's CA fingerprint is fetched and shown, and must be accepted by the
person before a password or token is sent anywhere (trust on first use, as `kiln login` does it)."""

from __future__ import annotations

from kiln.desktop.ops import Runner, describe
from kiln.desktop.qt import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.session import Session, check_server, saved_profile, sign_in
from kiln.desktop.settings import Settings
from kiln.desktop.widgets.common import Message
from kiln.pinning import PresentedCa


class SignInDialog(QDialog):
    """Emits `signed_in(Session)` once the coordinator accepted the credentials; stays open on errors."""

    signed_in = Signal(object)

    def __init__(self, settings: Settings, notice: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sign in to Kiln")
        self.settings = settings
        self.runner = Runner(self)
        self.ca: PresentedCa | None = None  # what the server presented at the last Check
        self.checked_address = ""
        self._build()
        profile = saved_profile(settings.home)
        if profile:
            self.server.setText(profile.server)
            self.user.setText(profile.user)
        if notice:
            self.message.error(notice)
        self._update()

    def _build(self) -> None:
        self.server = QLineEdit(self, placeholderText="host:7443")
        self.check = QPushButton("Check", self)
        self.fingerprint = QLabel("press Check to see the certificate this server presents", self)
        self.fingerprint.setWordWrap(True)
        self.fingerprint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.accept_ca = QCheckBox(
            "I compared this fingerprint with `kiln coordinator fingerprint` and trust this server", self
        )
        self.with_password = QRadioButton("User and password", self)
        self.with_token = QRadioButton("API token", self)
        self.with_password.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.with_password)
        group.addButton(self.with_token)
        self.user = QLineEdit(self)
        self.password = QLineEdit(self, echoMode=QLineEdit.EchoMode.Password)
        self.token = QLineEdit(self, echoMode=QLineEdit.EchoMode.Password)
        self.message = Message(self)
        self.sign_in = QPushButton("Sign in", self, default=True)
        cancel = QPushButton("Cancel", self)
        self._lay_out(cancel)
        self.server.textChanged.connect(self._address_edited)
        self.check.clicked.connect(self._check)
        self.server.returnPressed.connect(self._check)
        for w in (self.accept_ca, self.with_password, self.with_token):
            w.toggled.connect(self._update)
        for e in (self.user, self.password, self.token):
            e.textChanged.connect(self._update)
        self.sign_in.clicked.connect(self._sign_in)
        cancel.clicked.connect(self.reject)

    def _lay_out(self, cancel: QPushButton) -> None:
        address = QHBoxLayout()
        address.addWidget(self.server, 1)
        address.addWidget(self.check)
        form = QFormLayout()
        form.addRow("Server", address)
        form.addRow("CA fingerprint", self.fingerprint)
        form.addRow("", self.accept_ca)
        modes = QHBoxLayout()
        modes.addWidget(self.with_password)
        modes.addWidget(self.with_token)
        modes.addStretch(1)
        form.addRow("Sign in with", modes)
        form.addRow("User", self.user)
        form.addRow("Password", self.password)
        form.addRow("Token", self.token)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.sign_in)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.resize(620, 0)

    def _address_edited(self) -> None:
        """A different address is a different server: its certificate must be checked and accepted anew."""
        if self.server.text().strip() != self.checked_address:
            self.ca = None
            self.accept_ca.setChecked(False)
            self.fingerprint.setText("press Check to see the certificate this server presents")
        self._update()

    def _update(self) -> None:
        token_mode = self.with_token.isChecked()
        self.token.setEnabled(token_mode)
        self.user.setEnabled(not token_mode)
        self.password.setEnabled(not token_mode)
        self.accept_ca.setEnabled(self.ca is not None)
        credentials = bool(self.token.text()) if token_mode else bool(self.user.text() and self.password.text())
        trusted = self.ca is not None and self.accept_ca.isChecked()
        self.sign_in.setEnabled(trusted and credentials and not self.runner.busy)
        self.check.setEnabled(not self.runner.busy)

    def _check(self) -> None:
        address = self.server.text().strip()
        self.message.info(f"contacting {address}…")
        self.runner.run(
            "check server", lambda: check_server(address), lambda ca: self._checked(address, ca), self._failed
        )
        self._update()

    def _checked(self, address: str, ca: PresentedCa) -> None:
        if address != self.server.text().strip():
            return self._update()  # edited meanwhile: this answer is about another server
        self.ca, self.checked_address = ca, address
        self.fingerprint.setText(f"{ca.fingerprint}\n{ca.subject}")
        self.message.clear()
        profile = saved_profile(self.settings.home)
        if profile and profile.server == address and profile.fingerprint == ca.fingerprint:
            self.accept_ca.setChecked(True)
            self.message.info("this is the certificate you accepted before")
        self._update()

    def _sign_in(self) -> None:
        if self.ca is None or not self.accept_ca.isChecked():
            return
        ca, address, home = self.ca, self.checked_address, self.settings.home
        user, password = self.user.text().strip(), self.password.text()
        token = self.token.text().strip() if self.with_token.isChecked() else ""
        if token:
            user = password = ""
        self.message.info(f"signing in to {address}…")
        self.runner.run(
            "sign in",
            lambda: sign_in(home, address, ca, user, password, token),
            self._signed_in,
            self._failed,
        )
        self._update()

    def _signed_in(self, session: Session) -> None:
        self.message.clear()
        self.password.clear()
        self.token.clear()
        self.signed_in.emit(session)
        self.accept()

    def _failed(self, error: Exception) -> None:
        self.message.error(describe(error))
        self._update()
