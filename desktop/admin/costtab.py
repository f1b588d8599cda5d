"""The admin window's cost tab: the currency and an hourly rate per node (kept in the desktop settings, 0
until set), and node-, CPU- and GPU-hours and cost per user and per project, computed from the finished
runs (kiln.desktop.admin.cost). Every figure says its unit and every amount its currency."""

from __future__ import annotations

from kiln.client import Client
from kiln.core.runs import Run
from kiln.desktop.admin.cost import (
    CURRENCIES,
    DEFAULT_CURRENCY,
    by_project,
    by_user,
    headers,
    rate_affixes,
    total_text,
    usage_rows,
)
from kiln.desktop.ops import Runner, brief
from kiln.desktop.qt import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLocale,
    QPushButton,
    QShowEvent,
    QVBoxLayout,
    QWidget,
)
from kiln.desktop.settings import Settings
from kiln.desktop.tray.watch import ClusterWatch
from kiln.desktop.widgets.common import LazyTab, Table

MAX_RATE = 1_000_000.0


def system_currency() -> str:
    """The system locale's currency where it is one of CURRENCIES, else DEFAULT_CURRENCY."""
    code = QLocale.system().currencySymbol(QLocale.CurrencySymbolFormat.CurrencyIsoCode)
    return code if code in CURRENCIES else DEFAULT_CURRENCY


class CostTab(LazyTab):
    def __init__(
        self,
        client: Client,
        runner: Runner,
        watch: ClusterWatch,
        settings: Settings,
        server: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.client, self.runner, self.watch = client, runner, watch
        self.settings, self.server = settings, server
        self.runs: list[Run] = []
        self.rate_boxes: dict[str, QDoubleSpinBox] = {}
        self.currency = settings.currency_for(server) or system_currency()
        self.summary = QLabel("", self)
        self.refresh_button = QPushButton("Refresh", self)
        self.rates_box = QGroupBox("Rate per node-hour, per node (kept on this computer)", self)
        self.rates_form = QFormLayout(self.rates_box)
        self.rates_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.currency_box = QComboBox(self)
        self.currency_box.addItems(sorted(CURRENCIES))
        self.currency_box.setCurrentText(self.currency)
        self.currency_box.setToolTip(
            "The coordinator keeps no currency: the rates and costs here are in the one chosen on this computer"
        )
        self.rates_form.addRow("Currency of the rates and costs", self.currency_box)
        self.users = Table(headers("User", self.currency), parent=self)
        self.projects = Table(headers("Project", self.currency), parent=self)
        self._lay_out()
        self.refresh_button.clicked.connect(self.refresh)
        self.currency_box.activated.connect(lambda _: self._currency_set(self.currency_box.currentText()))
        watch.updated.connect(self._nodes_changed)

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)
        tables = QHBoxLayout()
        for title, table in (("Per user", self.users), ("Per project", self.projects)):
            column = QVBoxLayout()
            column.addWidget(QLabel(f"<b>{title}</b>", self))
            column.addWidget(table, 1)
            tables.addLayout(column, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.rates_box)
        layout.addLayout(tables, 1)

    def showEvent(self, event: QShowEvent) -> None:
        self._nodes_changed()
        super().showEvent(event)

    def refresh(self) -> None:
        self.loaded = True
        self.summary.setText("reading finished runs…")
        self.runner.run("list runs for cost", self.client.list_runs, self._loaded, self._failed)

    def _loaded(self, runs: list[Run]) -> None:
        self.runs = runs
        self._nodes_changed()
        self._recompute()

    def _failed(self, error: Exception) -> None:
        self.summary.setText(f"could not list runs: {brief(error)}")

    def _nodes_changed(self) -> None:
        """A rate field for every node known now (enrolled, or seen in a run), in name order."""
        names = {n.name for n in self.watch.nodes} | {r.node for r in self.runs if r.node}
        if names <= set(self.rate_boxes):
            return
        rates = self.settings.rates_for(self.server)
        prefix, suffix = rate_affixes(self.currency)
        for name in sorted(names - set(self.rate_boxes)):
            box = QDoubleSpinBox(self, minimum=0.0, maximum=MAX_RATE, decimals=2, prefix=prefix, suffix=suffix)
            box.setMinimumWidth(200)
            box.setValue(rates.get(name, 0.0))
            box.editingFinished.connect(lambda name=name, box=box: self._rate_set(name, box.value()))
            self.rate_boxes[name] = box
            self.rates_form.insertRow(1 + sorted(self.rate_boxes).index(name), name, box)  # under the currency

    def _currency_set(self, code: str) -> None:
        """Names the rates' currency (the amounts stay: a rate of 3.00 is now 3.00 of this currency)."""
        self.currency = code
        self.settings.set_currency(self.server, code)
        prefix, suffix = rate_affixes(code)
        for box in self.rate_boxes.values():
            box.setPrefix(prefix)
        self.users.rows_model.set_headers(headers("User", code))
        self.projects.rows_model.set_headers(headers("Project", code))
        self._recompute()

    def _rate_set(self, node: str, rate: float) -> None:
        self.settings.set_rate(self.server, node, rate)
        self._recompute()

    def _recompute(self) -> None:
        rates = self.settings.rates_for(self.server)
        users, projects = by_user(self.runs, rates), by_project(self.runs, rates)
        self.users.update_rows(usage_rows(users, self.currency))
        self.projects.update_rows(usage_rows(projects, self.currency))
        self.summary.setText(total_text(users, self.currency))
