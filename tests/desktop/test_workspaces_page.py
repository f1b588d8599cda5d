"""The Workspaces page against a real cluster and a real Jupyter server: Start… from its dialog, the list
with state and node, Open (a tunnel on a local port and the tool's address with its token handed to the
browser), Save, and Stop… after a question, which saves first."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from kiln.desktop.ops import Runner
from kiln.desktop.pages.workspaces import page as workspaces_page
from kiln.desktop.pages.workspaces.page import WorkspacesPage
from kiln.desktop.widgets.confirm import action_button
from tests.compute.conftest import push_folder
from tests.conftest import need
from tests.desktop.conftest import WAIT_MS, click, wait_idle

ENV = Path(os.environ.get("KILN_TEST_JUPYTER", "/var/tmp/kiln-test/jupyter"))


def test_start_open_save_and_stop_from_the_page(
    qtbot: Any, cluster: Any, cluster_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    need((ENV / "bin" / "python").is_file(), f"the Jupyter environment at {ENV} (scripts/setup-test-host builds it)")
    cluster.agent("n1")
    push_folder(cluster, {"README.md": "notes\n"})
    opened: list[str] = []
    monkeypatch.setattr(workspaces_page.QDesktopServices, "openUrl", lambda url: opened.append(url.toString()) or True)
    real_start = cluster_session.client.start_workspace

    def start(project: str, name: str, spec: Any, tool: str = "", python: str = "", idle_limit_s: float = 0) -> Any:
        # the dialog's workspace, with this test's interpreter (a node's default is python3 or the environment's)
        return real_start(
            project, name, spec.__class__(**{**spec.__dict__, "runtime": "process"}), tool, str(ENV / "bin" / "python")
        )

    monkeypatch.setattr(cluster_session.client, "start_workspace", start)
    runner = Runner()
    page = WorkspacesPage(cluster_session.client, runner)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    page.set_project("p")
    qtbot.waitUntil(lambda: "no workspaces" in page.summary.text(), timeout=WAIT_MS)

    dialog = page.ask_start()
    dialog.name.setText("nb")
    dialog.cpus.setValue(0.5)
    dialog.accept()
    qtbot.waitUntil(
        lambda: (w := page.selected() or next(iter(page.found), None)) is not None and w.running and bool(w.port),
        timeout=60_000,
    )
    page.table.select_keys(["nb"])
    qtbot.waitUntil(lambda: page.open_button.isEnabled(), timeout=WAIT_MS)
    click(qtbot, page.open_button)
    assert opened and opened[0].startswith("http://127.0.0.1:") and "token=" in opened[0]
    with urllib.request.urlopen(opened[0], timeout=30) as r:  # the tool, through the page's tunnel
        assert "started" in json.loads(r.read())

    click(qtbot, page.save_button)
    qtbot.waitUntil(lambda: "saved as" in page.message.text(), timeout=60_000)
    box = page.ask_stop()
    assert box is not None and "saved into project p first" in box.text()
    click(qtbot, action_button(box))
    qtbot.waitUntil(lambda: "stopped" in page.message.text(), timeout=60_000)
    assert cluster.admin.get_workspace("p", "nb").last_saved
    page.shutdown()
    page.close()
    wait_idle(qtbot, runner)
