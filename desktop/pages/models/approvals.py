"""A model's alias requests and their reviews, with Approve and Reject for the validators.

The buttons are offered to everyone who can see an open request: the coordinator alone decides who may
review (a validator of the project, never the requester, once each), and its refusal is shown in its own
words. Guessing here would only let the desktop and the coordinator disagree.

Approving or rejecting asks first (kiln.desktop.widgets.confirm), naming the model, version and alias,
what holds the alias now and what the review will do ("It replaces v2 in production once 1 more approval
arrives."). Neither button is a default one: Return in the verdict field reviews nothing."""

from __future__ import annotations

from collections.abc import Mapping

from kiln.client import Client
from kiln.core.models import AliasRequest
from kiln.desktop.ops import Runner, brief
from kiln.desktop.pages.models.rows import REQUEST_HEADERS, REVIEW_HEADERS, request_rows, review_rows
from kiln.desktop.qt import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.widgets.common import Message, Table
from kiln.desktop.widgets.confirm import confirm


class RequestsPanel(QWidget):
    """Emits `reviewed(AliasRequest)` after a review the coordinator accepted."""

    reviewed = Signal(object)

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.model: tuple[str, str] | None = None  # project, name
        self.requests: dict[str, AliasRequest] = {}
        self.aliases: dict[str, int] = {}  # where the model's aliases point now
        self.confirmation: QMessageBox | None = None  # the question asked last (tests answer it)
        self.policy = QLabel("", self)
        self.policy.setWordWrap(True)
        self.table = Table(REQUEST_HEADERS, parent=self)
        self.reviews = Table(REVIEW_HEADERS, parent=self)
        self.verdict = QLineEdit(self, placeholderText="a word for the requester (optional)")
        self.approve = QPushButton("Approve", self)
        self.reject = QPushButton("Reject", self)
        for button in (self.approve, self.reject):
            button.setAutoDefault(False)  # Return must never approve or reject
            button.setDefault(False)
        self.message = Message(self)
        row = QHBoxLayout()
        row.addWidget(self.verdict, 1)
        row.addWidget(self.approve)
        row.addWidget(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.policy)
        layout.addWidget(self.table, 3)
        layout.addWidget(QLabel("<b>Reviews of the selected request</b>", self))
        layout.addWidget(self.reviews, 2)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.table.selection_changed.connect(self._picked)
        self.approve.clicked.connect(lambda: self.ask_review(True))
        self.reject.clicked.connect(lambda: self.ask_review(False))
        self.set_requests(None, [], 0)

    def set_requests(
        self,
        model: tuple[str, str] | None,
        requests: list[AliasRequest],
        required: int,
        aliases: Mapping[str, int] | None = None,
    ) -> None:
        """The requests of `model` (project, name), keeping the selection, else picking the first open;
        `aliases` says where the model's aliases point now (for the question before a review)."""
        if model != self.model:
            self.message.clear()
        keep = self.table.selected_key() if model == self.model else None
        self.model, self.aliases = model, dict(aliases or {})
        self.requests = {r.id: r for r in requests}
        rows = request_rows(requests)
        if keep is None and rows and rows[0].marked:
            keep = rows[0].key  # a request waiting for an answer is what a validator came for
        self.table.set_rows(rows, keep=keep)
        waiting = sum(1 for r in requests if r.state == "open")
        rule = (
            f"production moves once {required} validator{'s' if required != 1 else ''} other than the "
            f"requester approve{'s' if required == 1 else ''}."
        )
        open_text = f"{waiting} request{'s' if waiting != 1 else ''} open."
        self.policy.setText(f"{rule} {open_text}" if model else "pick a model")
        self._picked()

    def selected(self) -> AliasRequest | None:
        key = self.table.selected_key()
        return self.requests.get(key) if key else None

    def _picked(self) -> None:
        request = self.selected()
        self.reviews.set_rows(review_rows(request))
        is_open = request is not None and request.state == "open"
        self.approve.setEnabled(is_open)
        self.reject.setEnabled(is_open)

    def ask_review(self, approve: bool) -> QMessageBox | None:
        """Approve… / Reject…: asks, naming what it does; only the dialog's action button reviews."""
        request = self.selected()
        if request is None or self.model is None:
            return None
        name = self.model[1]
        word = "Approve" if approve else "Reject"
        self.confirmation = confirm(
            self,
            f"{word} {name} v{request.version} → {request.alias}",
            review_question(request, approve, name, self.aliases),
            word,
            lambda: self._review(request, approve),
        )
        return self.confirmation

    def _review(self, request: AliasRequest, approve: bool) -> None:
        if self.model is None:
            return
        project, name = self.model
        verdict, word = self.verdict.text().strip(), "approve" if approve else "reject"
        self.message.info(f"{'approving' if approve else 'rejecting'} request {request.id}…")
        self.runner.run(
            f"{word} {request.alias} for {name} v{request.version}",
            lambda: self.client.review(project, name, request.version, approve, verdict),
            self._done,
            lambda e: self.message.error(f"could not {word}: {brief(e)}"),
        )

    def _done(self, request: AliasRequest) -> None:
        self.verdict.clear()
        if request.state == "approved":
            self.message.info(f"approved: {request.alias} now points at version {request.version}")
        elif request.state == "rejected":
            self.message.info(f"rejected: {request.alias} stays where it was")
        else:
            self.message.info(f"approval recorded: {approvals_left(request)} more needed")
        self.reviewed.emit(request)


def approvals_left(request: AliasRequest) -> int:
    return max(0, request.required_approvals - sum(1 for _, ok, _, _ in request.reviews if ok))


def review_question(request: AliasRequest, approve: bool, name: str, aliases: Mapping[str, int]) -> str:
    """What approving or rejecting `request` does, given where its alias points now, as a question:
    "Approve churn v3 → production? It replaces v2 in production once 1 more approval arrives." """
    alias, version = request.alias, request.version
    holder = aliases.get(alias)
    now = f"v{holder} holds {alias} now" if holder is not None else f"no version is {alias} yet"
    approved = request.required_approvals - approvals_left(request)
    state = (
        f"Request {request.id} by {request.requester} ({request.state}, {approved} of "
        f"{request.required_approvals} approvals so far); {now}."
    )
    if not approve:
        stays = f"stays at v{holder}" if holder is not None else "stays unset"
        return f"Reject {name} v{version} → {alias}? The request closes and {alias} {stays}.\n\n{state}"
    left = approvals_left(request) - 1
    when = "now" if left <= 0 else f"once {left} more approval{'s arrive' if left != 1 else ' arrives'}"
    if holder is None:
        effect = f"v{version} becomes {alias} {when}"
    elif holder == version:
        effect = f"v{version} already holds {alias}; it stays {when}"
    else:
        effect = f"It replaces v{holder} in {alias} {when}"
    return f"Approve {name} v{version} → {alias}? {effect}.\n\n{state}"
