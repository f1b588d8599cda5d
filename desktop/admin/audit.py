"""The admin window's audit tab: every change, newest first, and "Verify chain", which has the coordinator
recompute the hash chain and says whether it is intact or which record is the first one edited or removed."""

from __future__ import annotations

from collections.abc import Iterable

from kiln.client import Client
from kiln.core.audit import AuditRecord, ChainVerdict
from kiln.core.defaults import AUDIT_PAGE
from kiln.desktop import times
from kiln.desktop.ops import Runner, brief
from kiln.desktop.qt import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget
from kiln.desktop.rows import Row, when_s, with_zone
from kiln.desktop.widgets.common import LazyTab, Table

AUDIT_HEADERS = ("#", "Time", "Actor", "Action", "Target", "Details")
MAX_SHOWN = 5000  # the newest; the chain check always covers every record


def audit_headers() -> tuple[str, ...]:
    """AUDIT_HEADERS with the zone its local times are in ("Time (CET)")."""
    return with_zone(AUDIT_HEADERS)


def audit_rows(records: Iterable[AuditRecord]) -> list[Row]:
    """Newest first; each time local to the second (a log is read by exact time), exact with UTC on hover."""
    return [
        Row(
            (str(r.seq), when_s(r.time), r.actor, r.action, r.target, r.details_json),
            r.seq,
            tips=("", times.exact(r.time)),
            sort=(r.seq, r.time, r.actor, r.action, r.target, r.details_json),
        )
        for r in sorted(records, key=lambda r: r.seq, reverse=True)
    ]


def verdict_text(v: ChainVerdict) -> str:
    if v.ok:
        return f"chain intact: {v.records} records verified"
    return f"chain BROKEN at record {v.first_broken_seq}: {v.reason}"


def read_audit(client: Client) -> list[AuditRecord]:
    """Every record, page by page (keeping the newest MAX_SHOWN)."""
    found: list[AuditRecord] = []
    after = 0
    while True:
        page = client.list_audit(after_seq=after, limit=AUDIT_PAGE)
        found.extend(page)
        if len(page) < AUDIT_PAGE:
            return found[-MAX_SHOWN:]
        after = page[-1].seq
        found = found[-MAX_SHOWN:]


class AuditTab(LazyTab):
    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.summary = QLabel("", self)
        self.refresh_button = QPushButton("Refresh", self)
        self.verify = QPushButton("Verify chain", self)
        self.verdict = QLabel("press Verify chain to check that no record was edited or removed", self)
        self.verdict.setWordWrap(True)
        self.table = Table(audit_headers(), parent=self)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.verify)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.verdict)
        layout.addWidget(self.table, 1)
        self.refresh_button.clicked.connect(self.refresh)
        self.verify.clicked.connect(self._verify)

    def refresh(self) -> None:
        self.loaded = True
        self.runner.run("read the audit log", lambda: read_audit(self.client), self._loaded, self._failed)

    def _loaded(self, records: list[AuditRecord]) -> None:
        self.table.update_rows(audit_rows(records))
        self.summary.setText(f"{len(records)} records" + (" (the newest)" if len(records) >= MAX_SHOWN else ""))

    def _failed(self, error: Exception) -> None:
        self.summary.setText(f"could not read the audit log: {brief(error)}")

    def _verify(self) -> None:
        self.verify.setEnabled(False)
        self.verdict.setStyleSheet("")
        self.verdict.setText("verifying the whole chain…")
        self.runner.run("verify the audit chain", self.client.verify_audit, self._verified, self._not_verified)

    def _verified(self, v: ChainVerdict) -> None:
        self.verify.setEnabled(True)
        self.verdict.setStyleSheet("color: #1b6e35;" if v.ok else "color: #b00020; font-weight: bold;")
        self.verdict.setText(verdict_text(v))

    def _not_verified(self, error: Exception) -> None:
        self.verify.setEnabled(True)
        self.verdict.setStyleSheet("color: #b00020;")
        self.verdict.setText(f"could not verify: {brief(error)}")
