"""Environments in the desktop, against a real coordinator: the launch dialog's picker (ready versions to
choose, the others shown with their state) submits the chosen version; the Environments page lists every
version with its state, shows the picked one's packages and failure, and makes a default; a run page names
the version it ran in, with its definition and build log; compare shows only the packages that differ.

A version becomes ready through a build, which needs an agent: here each is written into the coordinator's
store in the state the test needs, and the node the runs are checked against is enrolled there too (no
agent connects, so submitted runs stay queued)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from kiln.core.environments import BuildState, Definition, Environment, EnvKind
from kiln.core.models import Inventory
from kiln.core.runs import RunSpec
from kiln.desktop.ops import Runner
from kiln.desktop.pages.compare.page import CompareDialog
from kiln.desktop.pages.environments.page import EnvironmentsPage
from kiln.desktop.pages.environments.rows import picker_choices, version_rows
from kiln.desktop.pages.environments.views import BuildLog, TextDialog
from kiln.desktop.pages.runs.launch import LaunchDialog
from kiln.desktop.qt import QStandardItemModel
from kiln.sync.push import push
from tests.desktop.conftest import WAIT_MS, cells, choose, click, click_row, click_tab, go_to, wait_idle
from tests.desktop.test_runs import close_all, open_run_page, runs_page_of

LOCK = "numpy==1.26.4 \\\n    --hash=sha256:aaaa\npandas==2.2.2 \\\n    --hash=sha256:bbbb\n"


def enrol_node(coordinator, name: str = "n1") -> None:
    """A node with the process runtime, as the store holds one once its agent has connected."""
    store, now = coordinator.ctx.store, time.time()
    store.add_node(name, "", {}, now)
    store.update_node(name, now, runtimes=["process", "docker"], inventory=Inventory(cpus=4, memory_bytes=8 << 30))


def add_version(
    coordinator,
    project: str,
    name: str,
    state: BuildState,
    text: str = LOCK,
    kind: EnvKind = EnvKind.PYTHON,
    packages: tuple[str, ...] = (),
    reason: str = "",
    build_run: str = "",
) -> Environment:
    """The next version of `name`, put straight into `state` as its build would have left it."""
    store = coordinator.ctx.store
    definition = Definition(kind, text, "3.11" if kind is EnvKind.PYTHON else "")
    env = Environment(project, name, 0, definition, BuildState.BUILDING, "admin", time.time(), build_run, source="lock")
    env = replace(env, version=store.add_env_version(env))
    found = "3.11.2" if state is BuildState.READY else ""
    env = replace(env, state=state, packages=packages, python_version=found, reason=reason)
    store.finish_env_version(env)
    return env


@pytest.fixture
def demo(coordinator, admin_session):
    """Project demo with a node to run on; the admin's client."""
    client = admin_session.client
    client.create_project("demo")
    enrol_node(coordinator)
    return client


def test_the_launch_picker_lists_ready_versions_and_submits_the_chosen_one(qtbot, coordinator, demo, tmp_path):
    client = demo
    for state in (BuildState.READY, BuildState.READY, BuildState.FAILED, BuildState.BUILDING):
        add_version(coordinator, "demo", "ml", state, text=f"{LOCK}# {state} {time.monotonic()}\n", reason="no torch")
    add_version(coordinator, "demo", "img", BuildState.READY, "FROM python:3.11\n", EnvKind.DOCKER)
    client.set_default_environment("demo", "ml:2")
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "train.py").write_text("print('hi')\n")
    push(client, folder, "demo", "code", tmp_path / "cache")
    runner = Runner()
    dialog = LaunchDialog(client, runner, "demo", None, tmp_path / "cache")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: dialog.environment.count() == 7 and dialog.snapshot.count() == 1, timeout=WAIT_MS)
    wait_idle(qtbot, runner)

    combo = dialog.environment
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert texts == [
        "(project default: ml:2)",
        "none (the node's Python)",
        "img:1 (docker)",
        "ml:4 (python) — building",
        "ml:3 (python) — failed",
        "ml:2 (python)",
        "ml:1 (python)",
    ]
    model = combo.model()
    assert isinstance(model, QStandardItemModel)
    enabled = [model.item(i).isEnabled() for i in range(combo.count())]
    assert enabled == [True, True, True, False, False, True, True]  # none overrides the default
    assert combo.currentIndex() == 0
    form = dialog.layout().itemAt(0).layout()  # the dialog's form: the picker's row, and the variables'
    assert [form.labelForField(w).text() for w in (combo, dialog.env)] == ["Environment", "Environment variables"]

    qtbot.keyClicks(dialog.command, "python train.py")
    qtbot.keyClicks(dialog.image, "python:3.11")
    choose(qtbot, combo, "ml:1 (python)")
    click(qtbot, dialog.launch)
    assert "not both" in dialog.message.text() and dialog.isVisible()  # refused here: nothing submitted
    dialog.image.clear()
    choose(qtbot, dialog.runtime, "docker")
    click(qtbot, dialog.launch)
    assert "runs in the process runtime" in dialog.message.text()
    choose(qtbot, dialog.runtime, "any")
    with qtbot.waitSignal(dialog.launched, timeout=WAIT_MS) as launched:
        click(qtbot, dialog.launch)
    run = launched.args[0]
    assert run.spec.environment == "ml:1" and run.spec.runtime == "process"  # pinned, in the runtime it needs
    assert client.get_run(run.id).spec.environment == "ml:1"  # the one chosen, not the project default
    assert [item[0].id for item in client.search_page("demo", "", "", (), 10, "").rows] == [run.id]  # one only
    wait_idle(qtbot, runner)


def test_the_environments_page_shows_versions_and_states_and_makes_a_default(
    qtbot, coordinator, demo, admin_session, open_window
):
    client = demo
    builder = client.submit_run(RunSpec("demo", ("echo", "build")))  # stands for the build run: it has a page
    first = add_version(coordinator, "demo", "ml", BuildState.READY, packages=("numpy==1.26.4", "pandas==2.2.2"),
                        build_run=builder.id)  # fmt: skip
    add_version(coordinator, "demo", "ml", BuildState.READY, f"{LOCK}# 2\n", packages=("numpy==2.0.0",))
    add_version(coordinator, "demo", "ml", BuildState.FAILED, f"{LOCK}# 3\n", reason="no matching torch==9")
    add_version(coordinator, "demo", "ml", BuildState.BUILDING, f"{LOCK}# 4\n")
    client.set_default_environment("demo", "ml:1")
    window = open_window(admin_session)
    click_row(qtbot, window.projects_page.table, "demo")
    page = go_to(qtbot, window, "Environments")
    assert isinstance(page, EnvironmentsPage) and page is window.environments_page
    qtbot.waitUntil(lambda: len(page.versions.row_keys()) == 4, timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)

    rows = {r.key: r for r in page.versions.rows_model.rows}
    assert [c[:6] for c in cells(page.versions)] == [
        ("ml", "4", "python", "building", "3.11", ""),
        ("ml", "3", "python", "failed", "3.11", ""),
        ("ml", "2", "python", "ready", "3.11.2", "1"),
        ("ml", "1 (default)", "python", "ready", "3.11.2", "2"),
    ]
    assert rows["ml:1"].marked and not rows["ml:2"].marked
    assert rows["ml:1"].cells[6] == first.digest[:12] and rows["ml:1"].tips[6] == first.digest
    assert rows["ml:1"].cells[8:] == ("just now", "admin")
    assert "project default: ml:1" in page.summary.text()

    click_row(qtbot, page.versions, "ml:3")
    assert page.reason.isVisible() and "no matching torch==9" in page.reason.text()
    assert not page.default_button.isEnabled() and cells(page.packages) == []
    click_row(qtbot, page.versions, "ml:1")
    assert not page.reason.isVisible() and not page.default_button.isEnabled()  # it is the default already
    assert cells(page.packages) == [("numpy", "1.26.4"), ("pandas", "2.2.2")]
    click(qtbot, page.definition_button)
    assert isinstance(page.dialog, TextDialog) and page.dialog.text.toPlainText() == LOCK
    page.dialog.close()
    click(qtbot, page.build_log_button)  # the build run's page, as every run link opens one
    qtbot.waitUntil(lambda: builder.id in window.runs_page.run_pages, timeout=WAIT_MS)
    window.runs_page.run_pages[builder.id].close()

    click_row(qtbot, page.versions, "ml:2")
    assert cells(page.packages) == [("numpy", "2.0.0")]
    click(qtbot, page.default_button)
    qtbot.waitUntil(lambda: page.versions.rows_model.rows[2].cells[1] == "2 (default)", timeout=WAIT_MS)
    assert client.default_environment("demo") == "ml:2"
    assert [c[1] for c in cells(page.versions)] == ["4", "3", "2 (default)", "1"]
    assert page.versions.selected_key() == "ml:2" and not page.default_button.isEnabled()
    close_all(qtbot, window)


def test_the_run_page_names_its_environment_with_its_definition_and_build_log(
    qtbot, coordinator, demo, admin_session, open_window
):
    client = demo
    builder = client.submit_run(RunSpec("demo", ("echo", "build")))
    env = add_version(coordinator, "demo", "ml", BuildState.READY, packages=("numpy==1.26.4",), build_run=builder.id)
    run = client.submit_run(RunSpec("demo", ("python", "train.py"), environment="ml"))
    assert run.spec.environment == "ml:1"  # pinned by the coordinator
    window = open_window(admin_session)
    run_page = open_run_page(qtbot, runs_page_of(qtbot, window, "demo"), run.id)
    bar = run_page.environment_bar
    click_tab(qtbot, run_page.tabs, "Environment")
    qtbot.waitUntil(lambda: bar.env is not None, timeout=WAIT_MS)
    assert "Environment ml:1" in bar.label.text() and env.digest in bar.label.text()
    assert "(python, ready)" in bar.label.text()

    click(qtbot, bar.definition_button)
    assert isinstance(bar.dialog, TextDialog) and bar.dialog.text.toPlainText() == LOCK
    assert "Python 3.11" in bar.dialog.heading.text()
    bar.dialog.close()
    click(qtbot, bar.build_log_button)
    log = bar.dialog
    assert isinstance(log, BuildLog) and builder.id in log.heading.text()
    qtbot.waitUntil(lambda: log.loaded, timeout=WAIT_MS)
    assert log.text.toPlainText() == "(the build wrote nothing yet)"  # its build run is still queued here
    log.close()
    close_all(qtbot, window)


def test_compare_shows_only_the_packages_that_differ_by_default(qtbot, coordinator, demo):
    client = demo
    runs = [client.submit_run(RunSpec("demo", ("python", "train.py"))) for _ in range(2)]
    recorded = (
        "numpy==1.26.4\npandas==2.2.2\nrequests==2.32.0\n",
        "numpy==2.0.0\npandas==2.2.2\nscikit_learn==1.5.0\n",
    )
    for run, packages in zip(runs, recorded, strict=True):
        coordinator.ctx.store.add_environment(run.id, {"packages": packages, "python": "3.11.2"})
    runner = Runner()
    view = CompareDialog(client, runner, [r.id for r in runs])
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.compared is not None, timeout=WAIT_MS)
    wait_idle(qtbot, runner)

    packages = view.packages
    assert packages is not None and packages.only_differences.isChecked()
    assert cells(packages.table) == [
        ("numpy", "1.26.4", "2.0.0"),
        ("requests", "2.32.0", "—"),
        ("scikit-learn", "—", "1.5.0"),  # named as pip matches it
    ]
    assert all(r.marked for r in packages.table.rows_model.rows)
    assert packages.summary.text() == "3 of 4 packages differ"
    click(qtbot, packages.only_differences)
    assert [c[0] for c in cells(packages.table)] == ["numpy", "pandas", "requests", "scikit-learn"]
    assert ("pandas", "2.2.2", "2.2.2") in cells(packages.table)
    assert [title for title, _, _ in view.sections()][-1] == "Packages"
    view.close()


# -- the rows, as plain data ---------------------------------------------------------------------------


def test_a_bare_default_marks_the_latest_ready_version_and_no_default_leaves_none_choosable():
    def version(v: int, state: BuildState) -> Environment:
        return Environment("p", "ml", v, Definition(EnvKind.PYTHON, f"x=={v}", "3.11"), state)

    envs = [version(1, BuildState.READY), version(2, BuildState.READY), version(3, BuildState.BUILDING)]
    rows = {r.key: r for r in version_rows(envs, "ml", 0.0)}
    assert rows["ml:2"].cells[1] == "2 (default)" and "latest ready" in rows["ml:2"].tips[1]
    assert not rows["ml:3"].marked and rows["ml:1"].cells[1] == "1"
    choices = picker_choices(envs, "")
    assert [(c.text, c.enabled) for c in choices[:2]] == [
        ("(project default: none)", True),
        ("none (the node's Python)", True),
    ]
