"""The admin window's people tabs: users (list, create) and API tokens (everyone's, revoke). The
coordinator decides who may; a refusal is shown as it says it."""

from __future__ import annotations

import time
from collections.abc import Iterable

from kiln.client import Client
from kiln.core.models import Token, User
from kiln.desktop import times
from kiln.desktop.ops import Runner, brief
from kiln.desktop.qt import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from kiln.desktop.rows import Row, ago, zoned
from kiln.desktop.widgets.common import LazyTab, Message, Table
from kiln.desktop.widgets.confirm import confirm

USER_HEADERS = ("User", "Admin", "Disabled", "Created")
TOKEN_HEADERS = ("ID", "User", "Name", "Created", "Expires", "Last used", "Revoked")


def token_headers() -> tuple[str, ...]:
    """TOKEN_HEADERS with the zone of the expiry times named ("Expires (CET)"): they lie ahead, so they are
    said as local times rather than "3 days ago"."""
    return tuple(zoned(h) if h == "Expires" else h for h in TOKEN_HEADERS)


def user_rows(users: Iterable[User], now: float | None = None) -> list[Row]:
    now = time.time() if now is None else now
    rows = []
    for u in sorted(users, key=lambda u: u.name):
        created, exact = ago(u.created_at, now)
        cells = (u.name, "yes" if u.is_admin else "", "yes" if u.disabled else "", created)
        rows.append(Row(cells, u.name, tips=("", "", "", exact), sort=(*cells[:3], u.created_at)))
    return rows


def token_rows(tokens: Iterable[Token], now: float | None = None) -> list[Row]:
    """Created, last used and revoked relative to `now` (the exact time on hover); the expiry in local time."""
    now = time.time() if now is None else now
    ordered = sorted(tokens, key=lambda t: (bool(t.revoked_at), -t.created_at))  # live ones first
    rows = []
    for t in ordered:
        (created, created_at), (used, used_at), (revoked, revoked_at) = (
            ago(ts, now) for ts in (t.created_at, t.last_used_at, t.revoked_at)
        )
        expires = times.local(t.expires_at) if t.expires_at else "never"
        cells = (t.id, t.user, t.name, created, expires, used, revoked)
        tips = ("", "", "", created_at, times.exact(t.expires_at), used_at, revoked_at)
        sort = (t.id, t.user, t.name, t.created_at, t.expires_at or None, t.last_used_at or None, t.revoked_at or None)
        rows.append(Row(cells, t.id, tips=tips, sort=sort))
    return rows


class UsersTab(LazyTab):
    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.summary = QLabel("", self)
        self.refresh_button = QPushButton("Refresh", self)
        self.table = Table(USER_HEADERS, parent=self)
        self.name = QLineEdit(self, placeholderText="new user's name")
        self.password = QLineEdit(self, placeholderText="initial password", echoMode=QLineEdit.EchoMode.Password)
        self.is_admin = QCheckBox("admin", self)
        self.create_button = QPushButton("Create user", self)
        self.message = Message(self)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)
        form = QHBoxLayout()
        form.addWidget(self.name, 1)
        form.addWidget(self.password, 1)
        form.addWidget(self.is_admin)
        form.addWidget(self.create_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addWidget(self.message)
        self.refresh_button.clicked.connect(self.refresh)
        self.create_button.clicked.connect(self._create)
        self.password.returnPressed.connect(self._create)

    def refresh(self) -> None:
        self.loaded = True
        self.runner.run("list users", self.client.list_users, self._loaded, self._failed)

    def _loaded(self, users: list[User]) -> None:
        self.table.update_rows(user_rows(users))
        self.summary.setText(f"{len(users)} user{'s' if len(users) != 1 else ''}")

    def _failed(self, error: Exception) -> None:
        self.summary.setText(f"could not list users: {brief(error)}")

    def _create(self) -> None:
        name, password, admin = self.name.text().strip(), self.password.text(), self.is_admin.isChecked()
        if not name or not password:
            self.message.error("enter the new user's name and an initial password")
            return
        self.create_button.setEnabled(False)
        self.runner.run(
            f"create user {name}",
            lambda: self.client.create_user(name, password, admin),
            self._created,
            self._not_created,
        )

    def _created(self, user: User) -> None:
        self.create_button.setEnabled(True)
        self.name.clear()
        self.password.clear()
        self.is_admin.setChecked(False)
        self.message.info(f"{user.name} created{' (admin)' if user.is_admin else ''}")
        self.refresh()

    def _not_created(self, error: Exception) -> None:
        self.create_button.setEnabled(True)
        self.message.error(brief(error))


class TokensTab(LazyTab):
    """Everyone's API tokens (desktop sign-ins included); Revoke ends one at once."""

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.tokens: dict[str, Token] = {}
        self.asking: QMessageBox | None = None  # the question Revoke asks, while it is asked
        self.summary = QLabel("", self)
        self.refresh_button = QPushButton("Refresh", self)
        self.revoke = QPushButton("Revoke…", self)
        self.table = Table(token_headers(), parent=self)
        self.message = Message(self)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.revoke)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        self.refresh_button.clicked.connect(self.refresh)
        self.revoke.clicked.connect(self._revoke)
        self.table.selection_changed.connect(self._picked)
        self._picked()

    def refresh(self) -> None:
        self.loaded = True
        self.runner.run("list tokens", lambda: self.client.list_tokens("*"), self._loaded, self._failed)

    def _loaded(self, tokens: list[Token]) -> None:
        self.tokens = {t.id: t for t in tokens}
        self.table.update_rows(token_rows(tokens))
        live = sum(1 for t in tokens if not t.revoked_at)
        self.summary.setText(f"{len(tokens)} tokens, {live} not revoked")
        self._picked()

    def _failed(self, error: Exception) -> None:
        self.summary.setText(f"could not list tokens: {brief(error)}")

    def _picked(self) -> None:
        token = self.tokens.get(self.table.selected_key() or "")
        self.revoke.setEnabled(token is not None and not token.revoked_at)

    def _revoke(self) -> None:
        """Asks first, naming the token, whose it is and when it was last used: revoking cannot be undone."""
        token = self.tokens.get(self.table.selected_key() or "")
        if token is None:
            return
        used = f"last used {times.ago(token.last_used_at, time.time())}" if token.last_used_at else "never used"
        named = f" ({token.name})" if token.name else ""
        self.asking = confirm(
            self,
            "Revoke token",
            f"Revoke token {token.id}{named} of {token.user}, {used}? Whatever signs in with it stops "
            "working at once; this cannot be undone (a new token can be created).",
            "Revoke token",
            lambda: self._revoke_now(token.id),
        )

    def _revoke_now(self, token_id: str) -> None:
        self.revoke.setEnabled(False)
        self.runner.run(
            f"revoke token {token_id}",
            lambda: self.client.revoke_token(token_id),
            self._revoked,
            lambda e: self.message.error(brief(e)),
        )

    def _revoked(self, token: Token) -> None:
        self.message.info(f"token {token.id} of {token.user} revoked: it no longer signs in")
        self.refresh()
