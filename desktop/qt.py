"""The one place the desktop imports Qt from (as Anki's aqt.qt): the binding can be swapped or pinned
here, and the import-linter contract that only kiln.desktop imports PySide6 has one module to watch.

It also checks the binding before the app relies on it (`binding_problem`). PySide6 6.12.0 on CPython
3.11 drops a reference to `True` on every `Signal.emit()` from Python (emit returns True without taking
the reference it gives back) and one to `None` on every C++ signal delivered to a Python slot that
returns None. The app emits all the time (the Runner's callbacks, log chunks, timers), so the
interpreter aborts with "Fatal Python error: bool_dealloc" within minutes. 6.11 does not, nor do
Pythons 3.12+ (where True, False and None are immortal). pyproject.toml leaves 6.12.0 out; the check is
for a binding installed by other means, or a later release with the same fault.
"""

from __future__ import annotations

import sys

from PySide6.QtCharts import (
    QAbstractSeries,
    QChart,
    QChartView,
    QDateTimeAxis,
    QLegend,
    QLineSeries,
    QLogValueAxis,
    QScatterSeries,
    QValueAxis,
)
from PySide6.QtCore import (
    QAbstractTableModel,
    QDateTime,
    QElapsedTimer,
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QLineF,
    QLocale,
    QMargins,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QPointF,
    QRectF,
    QRunnable,
    QSettings,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QThreadPool,
    QTimer,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QBrush,
    QCloseEvent,
    QColor,
    QCursor,
    QDesktopServices,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QHelpEvent,
    QHideEvent,
    QIcon,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QPolygonF,
    QResizeEvent,
    QShortcut,
    QShowEvent,
    QStandardItem,
    QStandardItemModel,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextOption,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPolygonItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QSystemTrayIcon,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QTextEdit,
    QToolBar,
    QToolButton,
    QToolTip,
    QTreeView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

__all__ = [
    "QAbstractItemView",
    "QAbstractSeries",
    "QAbstractTableModel",
    "QAction",
    "QApplication",
    "QBrush",
    "QButtonGroup",
    "QChart",
    "QChartView",
    "QCheckBox",
    "QCloseEvent",
    "QColor",
    "QComboBox",
    "QCursor",
    "QDateTime",
    "QDateTimeAxis",
    "QDateTimeEdit",
    "QDesktopServices",
    "QDialog",
    "QDialogButtonBox",
    "QDoubleSpinBox",
    "QElapsedTimer",
    "QEvent",
    "QFileDialog",
    "QFont",
    "QFontMetrics",
    "QFormLayout",
    "QFrame",
    "QGraphicsItem",
    "QGraphicsPathItem",
    "QGraphicsPolygonItem",
    "QGraphicsRectItem",
    "QGraphicsScene",
    "QGraphicsSimpleTextItem",
    "QGraphicsView",
    "QGridLayout",
    "QGroupBox",
    "QGuiApplication",
    "QHBoxLayout",
    "QHeaderView",
    "QHelpEvent",
    "QHideEvent",
    "QIcon",
    "QImage",
    "QInputDialog",
    "QItemSelection",
    "QItemSelectionModel",
    "QKeyEvent",
    "QKeySequence",
    "QLabel",
    "QLegend",
    "QLineEdit",
    "QLineF",
    "QLineSeries",
    "QListView",
    "QListWidget",
    "QListWidgetItem",
    "QLocale",
    "QLogValueAxis",
    "QMainWindow",
    "QMargins",
    "QMenu",
    "QMessageBox",
    "QMimeData",
    "QModelIndex",
    "QMouseEvent",
    "QObject",
    "QPaintEvent",
    "QPainter",
    "QPainterPath",
    "QPalette",
    "QPen",
    "QPersistentModelIndex",
    "QPixmap",
    "QPlainTextEdit",
    "QPoint",
    "QPointF",
    "QPolygonF",
    "QProgressBar",
    "QPushButton",
    "QRadioButton",
    "QRectF",
    "QResizeEvent",
    "QRunnable",
    "QScatterSeries",
    "QScrollArea",
    "QSettings",
    "QShortcut",
    "QShowEvent",
    "QSize",
    "QSizePolicy",
    "QSlider",
    "QSortFilterProxyModel",
    "QSpinBox",
    "QSplitter",
    "QStackedWidget",
    "QStandardItem",
    "QStandardItemModel",
    "QStyle",
    "QStyleOptionViewItem",
    "QStyledItemDelegate",
    "QSystemTrayIcon",
    "QTabWidget",
    "QTableView",
    "QTextBrowser",
    "QTextCharFormat",
    "QTextCursor",
    "QTextDocument",
    "QTextEdit",
    "QTextOption",
    "QThreadPool",
    "QTimer",
    "QToolBar",
    "QToolButton",
    "QToolTip",
    "QTreeView",
    "QTreeWidget",
    "QTreeWidgetItem",
    "QUrl",
    "QVBoxLayout",
    "QValueAxis",
    "QWheelEvent",
    "QWidget",
    "Qt",
    "binding_problem",
    "Signal",
    "Slot",
]


PROBE_CALLS = 200  # emits and slot calls the binding check makes: a leak shows as this many references


class _Probe(QObject):
    fired = Signal(str)


def _ignore(*_args: object) -> None:
    return None


_kept: list[list[object]] = []  # references lent to a leaking binding, never handed back (see below)


def binding_problem() -> str:
    """Empty when this PySide6 keeps its references across signals; else what is wrong and what to do.

    Emits a signal from Python and delivers a C++ signal (objectNameChanged) to a Python slot
    PROBE_CALLS times each, watching the reference counts of True, False and None. Before it, it lends
    each PROBE_CALLS references, so a leaking binding takes those rather than ones the interpreter needs;
    when it leaks, the loan is never returned (the counts then stay where they were)."""
    watched: tuple[object, ...] = (True, False, None)
    loan: list[object] = [o for o in watched for _ in range(PROBE_CALLS)]
    probe = _Probe()
    probe.fired.connect(_ignore)
    probe.objectNameChanged.connect(_ignore)
    before = [sys.getrefcount(o) for o in watched]
    for i in range(PROBE_CALLS):
        probe.fired.emit("probe")
        probe.setObjectName(f"probe-{i}")
    after = [sys.getrefcount(o) for o in watched]
    probe.deleteLater()
    lost = {repr(o): b - a for o, b, a in zip(watched, before, after, strict=True) if b - a >= PROBE_CALLS // 2}
    if not lost:
        return ""
    _kept.append(loan)
    from importlib.metadata import version  # noqa: PLC0415 (only on this path)

    python = ".".join(map(str, sys.version_info[:3]))
    losses = ", ".join(f"{n} references to {name}" for name, n in lost.items())
    return (
        f"PySide6 {version('PySide6')} on Python {python} loses a reference on every signal ({losses} in "
        f'{PROBE_CALLS} signals): the app would abort within minutes ("Fatal Python error: bool_dealloc"). '
        "Install a release without the fault, e.g. pip install 'pyside6>=6.11,!=6.12.0', or use Python 3.12+"
    )
