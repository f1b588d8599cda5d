"""The launch dialog against a real coordinator: the snapshots to run from, newest first, each said by
how long ago it was taken, with the exact time on hover (kiln.desktop.times)."""

from __future__ import annotations

from kiln.desktop import times
from kiln.desktop.ops import Runner
from kiln.desktop.pages.runs.launch import LaunchDialog
from kiln.desktop.qt import Qt
from kiln.sync.push import push
from tests.desktop.conftest import WAIT_MS, wait_idle


def test_snapshots_are_listed_newest_first_by_how_long_ago_with_the_exact_time_on_hover(
    qtbot, coordinator, admin_session, tmp_path
):
    client = admin_session.client
    client.create_project("demo")
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "train.py").write_text("print('one')\n")
    first = push(client, folder, "demo", "first", tmp_path / "cache").snapshot
    (folder / "train.py").write_text("print('two')\n")
    second = push(client, folder, "demo", "second", tmp_path / "cache").snapshot
    runner = Runner()
    dialog = LaunchDialog(client, runner, "demo", None, tmp_path / "cache")
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.snapshot.count() == 2, timeout=WAIT_MS)
    wait_idle(qtbot, runner)

    shown = [dialog.snapshot.itemText(i) for i in range(2)]
    for text, snap, message in zip(shown, (second, first), ("second", "first"), strict=True):
        ident, created, said = text.split("  ")
        assert (ident, said) == (snap.id[:12], message)
        assert created == "just now" or created.endswith(" min ago")  # pushed moments ago, said relative
    tips = [dialog.snapshot.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(2)]
    assert tips == [times.exact(second.created_at), times.exact(first.created_at)]
    assert [dialog.snapshot.itemData(i) for i in range(2)] == [second.id, first.id]
    dialog.close()
