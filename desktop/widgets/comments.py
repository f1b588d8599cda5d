"""Comments on one entity (a run, a snapshot, a dataset or model version): the list, oldest first, and a
line to add one. The run page, the Models page and the lineage details all use this one panel, so a
comment written in one place reads the same in the others. Who may comment is the coordinator's call
(its project's members); a refusal is shown as it says it. A snapshot is content several projects may hold,
each with its own comments on it: the panel shows the thread of the project it is given."""

from __future__ import annotations

import time
from collections.abc import Iterable

from kiln.client import Client
from kiln.core.models import Comment
from kiln.desktop.ops import Runner, brief
from kiln.desktop.qt import QGroupBox, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget
from kiln.desktop.rows import Row, ago
from kiln.desktop.widgets.common import Message, Table

COMMENT_HEADERS = ("Time", "Author", "Comment")


def comment_rows(comments: Iterable[Comment], now: float | None = None) -> list[Row]:
    """Oldest first, as a conversation reads; each time relative to `now` ("5 min ago"), exact on hover."""
    now = time.time() if now is None else now
    rows = []
    for c in sorted(comments, key=lambda c: (c.time, c.id)):
        when_text, tip = ago(c.time, now)
        rows.append(Row((when_text, c.author, c.text), c.id, tips=(tip,)))
    return rows


class CommentsPanel(QGroupBox):
    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__("Comments", parent)
        self.client, self.runner = client, runner
        self.entity = ""
        self.project = ""
        self.table = Table(COMMENT_HEADERS, parent=self)
        self.text = QLineEdit(self, placeholderText="add a comment (every member of the project sees it)")
        self.add = QPushButton("Comment", self)
        self.message = Message(self)
        row = QHBoxLayout()
        row.addWidget(self.text, 1)
        row.addWidget(self.add)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.add.clicked.connect(self._add)
        self.text.returnPressed.connect(self._add)
        self.set_entity("")

    def set_entity(self, entity: str, project: str = "") -> None:
        """The entity the comments are about ("" for none: the panel is disabled), in `project`'s thread."""
        if (entity, project) == (self.entity, self.project) and entity:
            return
        self.entity, self.project = entity, project
        self.setTitle(f"Comments on {entity}" if entity else "Comments")
        self.table.set_rows([])
        self.message.clear()
        self.setEnabled(bool(entity))
        self.refresh()

    def refresh(self) -> None:
        entity, project = self.entity, self.project
        if not entity:
            return
        self.runner.run(
            f"read comments on {entity}",
            lambda: self.client.list_comments(entity, project),
            lambda found: self._loaded(entity, found),
            lambda e: self._failed(entity, e),
        )

    def _loaded(self, entity: str, found: list[Comment]) -> None:
        if entity == self.entity:
            self.table.set_rows(comment_rows(found))

    def _failed(self, entity: str, error: Exception) -> None:
        if entity == self.entity:
            self.message.error(f"could not read the comments: {brief(error)}")

    def _add(self) -> None:
        entity, project, text = self.entity, self.project, self.text.text().strip()
        if not entity:
            return
        if not text:
            self.message.error("write the comment first")
            return
        self.add.setEnabled(False)
        self.message.info("adding the comment…")
        self.runner.run(
            f"comment on {entity}",
            lambda: self.client.add_comment(entity, text, project),
            self._added,
            self._refused,
        )

    def _added(self, _: Comment) -> None:
        self.add.setEnabled(True)
        self.message.clear()
        self.text.clear()
        self.refresh()

    def _refused(self, error: Exception) -> None:
        self.add.setEnabled(True)
        self.message.error(f"comment not added: {brief(error)}")
