"""The tray's window: the cluster's health in colour, the run queue, the firing alerts, the nodes (drain,
undrain), a join token for a new node, and the way to the admin window. Where the desktop has a system tray
the icon's click opens it; where it has none (offscreen, some Linux desktops) it is the tray."""

from __future__ import annotations

from collections.abc import Callable

from kiln.core.models import JoinToken
from kiln.desktop import times
from kiln.desktop.ops import Runner
from kiln.desktop.qt import (
    QApplication,
    QCloseEvent,
    QColor,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QIcon,
    QLabel,
    QLineEdit,
    QPainter,
    QPixmap,
    QPushButton,
    QSpinBox,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.tray.health import NODE_HEADERS, counts_text, node_rows
from kiln.desktop.tray.watch import ClusterWatch, firing_text
from kiln.desktop.widgets.common import Message, Table

EXPIRIES = {"1 hour": 3600, "1 day": 86400, "7 days": 7 * 86400}


def health_pixmap(colour: str, size: int = 64) -> QPixmap:
    """A filled dot in the health colour: the tray icon, and the window's headline."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(colour))
    painter.setPen(QColor(colour).darker(130))
    painter.drawEllipse(4, 4, size - 8, size - 8)
    painter.end()
    return pixmap


def health_icon(colour: str) -> QIcon:
    return QIcon(health_pixmap(colour))


class NodesPanel(QWidget):
    """The nodes as a table, with Drain / Undrain for the selected one; shown in the tray window and in
    the admin window alike, both fed by the one watch."""

    def __init__(self, watch: ClusterWatch, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.watch = watch
        self.table = Table(NODE_HEADERS, parent=self)
        self.drain = QPushButton("Drain", self)
        self.undrain = QPushButton("Undrain", self)
        self.drain.setToolTip("no new runs go to this node; running ones finish")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.drain)
        buttons.addWidget(self.undrain)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.drain.clicked.connect(lambda: self._set_drain(True))
        self.undrain.clicked.connect(lambda: self._set_drain(False))
        self.table.selection_changed.connect(self._picked)
        watch.updated.connect(self._show)
        self._show()

    def _show(self) -> None:
        self.table.update_rows(node_rows(self.watch.nodes))
        self._picked()

    def _picked(self) -> None:
        node = self.watch.node(self.table.selected_key() or "")
        self.drain.setEnabled(node is not None and not node.drained)
        self.undrain.setEnabled(node is not None and node.drained)

    def _set_drain(self, drain: bool) -> None:
        name = self.table.selected_key()
        if name:
            (self.drain if drain else self.undrain).setEnabled(False)
            self.watch.set_drain(name, drain)


class JoinTokenDialog(QDialog):
    """Creates a join token for new nodes and shows it once, with a Copy button and the agent's command."""

    def __init__(self, watch: ClusterWatch, address: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Join token for a new node")
        self.watch, self.address = watch, address
        self.uses = QSpinBox(self, minimum=1, maximum=1000, value=1)
        self.expires = QComboBox(self)
        self.expires.addItems(list(EXPIRIES))
        self.create_button = QPushButton("Create", self, default=True)
        self.token = QLineEdit(self, readOnly=True, placeholderText="the token appears here, once")
        self.copy = QPushButton("Copy", self)
        self.copy.setEnabled(False)
        self.hint = QLabel("", self)
        self.hint.setWordWrap(True)
        self.hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = Message(self)
        form = QFormLayout()
        form.addRow("Nodes it may enrol", self.uses)
        form.addRow("Expires after", self.expires)
        token_row = QHBoxLayout()
        token_row.addWidget(self.token, 1)
        token_row.addWidget(self.copy)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.create_button)
        layout.addLayout(token_row)
        layout.addWidget(self.hint)
        layout.addWidget(self.message)
        self.create_button.clicked.connect(self._create)
        self.copy.clicked.connect(self._copy)
        watch.token_created.connect(self._created)
        watch.said.connect(self._said)
        self.resize(560, 0)

    def _said(self, text: str, bad: bool) -> None:
        if bad and "join token" in text:
            self.create_button.setEnabled(True)
            self.message.error(text)

    def _create(self) -> None:
        self.create_button.setEnabled(False)
        self.message.info("creating…")
        self.watch.create_join_token(self.uses.value(), EXPIRIES[self.expires.currentText()])

    def _created(self, token: JoinToken) -> None:
        self.create_button.setEnabled(True)
        self.token.setText(token.token)
        self.copy.setEnabled(True)
        expires = f"{times.local(token.expires_at)} {times.zone(token.expires_at)}"
        self.message.info(f"token {token.id} for {token.uses} node(s), expires {expires}")
        self.hint.setText(
            f"On the new node: kiln agent --coordinator {self.address} --data /var/lib/kiln-agent "
            "--join-token TOKEN (or set KILN_JOIN_TOKEN)"
        )

    def _copy(self) -> None:
        QApplication.clipboard().setText(self.token.text())
        self.message.info("copied to the clipboard: it is shown only this once")


class TrayWindow(QWidget):
    """The tray's information and actions as a small window. Closing it as the tray waits for actions in
    flight, then emits `closed`."""

    closed = Signal()

    def __init__(
        self,
        watch: ClusterWatch,
        runner: Runner,
        address: str,
        open_admin: Callable[[], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Kiln cluster — {address}")
        self.watch, self.runner, self.address = watch, runner, address
        self.closing = False
        self.ended = False  # `closed` is said once
        self.token_dialog: JoinTokenDialog | None = None
        self.dot = QLabel(self)
        self.health = QLabel("", self)
        self.health.setWordWrap(True)
        self.counts = QLabel("", self)
        self.alerts = QLabel("", self)  # firing alerts: how many, and the newest few titles
        self.alerts.setWordWrap(True)
        self.nodes = NodesPanel(watch, self)
        self.message = Message(self)
        self.join = QPushButton("Create join token…", self)
        self.admin = QPushButton("Open admin window", self)
        self._lay_out()
        self.join.clicked.connect(self.open_join_token)
        self.admin.clicked.connect(open_admin)
        self.quit_on_close = True  # False beside a real tray icon: closing then only hides the window
        watch.updated.connect(self._show)
        watch.said.connect(self._said)
        self._show()
        self.resize(720, 380)

    def _said(self, text: str, bad: bool) -> None:
        (self.message.error if bad else self.message.info)(text)

    def _lay_out(self) -> None:
        head = QHBoxLayout()
        head.addWidget(self.dot)
        head.addWidget(self.health, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.join)
        buttons.addStretch(1)
        buttons.addWidget(self.admin)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.counts)
        layout.addWidget(self.alerts)
        layout.addWidget(self.nodes, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

    @property
    def level(self) -> str:
        return self.watch.health.level

    def _show(self) -> None:
        health = self.watch.health
        self.dot.setPixmap(health_pixmap(health.colour, 22))
        self.dot.setToolTip(health.level)
        self.health.setText(f"<b>{health.level.capitalize()}</b>: {health.summary}")
        self.counts.setText(f"Runs: {counts_text(self.watch.queued, self.watch.running)}")
        self.alerts.setText(firing_text(self.watch.firing, self.watch.alerts_problem))
        self.alerts.setStyleSheet("color: #b00020;" if self.watch.firing else "")

    def open_join_token(self) -> JoinTokenDialog:
        if self.token_dialog is not None:
            self.token_dialog.deleteLater()
        self.token_dialog = JoinTokenDialog(self.watch, self.address, self)
        self.token_dialog.show()
        return self.token_dialog

    def closeEvent(self, event: QCloseEvent) -> None:
        """As the tray, closing stops watching (once actions in flight have ended); else it hides."""
        if not self.quit_on_close:
            event.accept()
            return
        self.watch.stop()
        if self.runner.busy:
            event.ignore()
            if not self.closing:
                self.closing = True
                self.runner.idle.connect(self.close, Qt.ConnectionType.SingleShotConnection)
            return
        event.accept()
        if not self.ended:
            self.ended = True
            self.closed.emit()
