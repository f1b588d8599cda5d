"""The run page's Artifacts & models tab against a real cluster: a run that logs text, JSON, CSV, an image,
a big binary and a model shows each with its type and size; picking one previews it (text, pretty JSON,
a table, the image at its size) or says why not; Save writes the same bytes (and says what to do when the
coordinator lost them); Register model… registers the logged model. The preview rules themselves (what is
read of how big a file, and what it turns into) are tested without widgets first."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from kiln.core.runs import RunSpec
from kiln.desktop.pages.run import preview as pv
from kiln.desktop.pages.run.artifacts import ArtifactsPanel
from kiln.desktop.window import MainWindow
from tests.compute.conftest import push_folder
from tests.desktop.conftest import WAIT_MS, cells, click, click_row, click_tab
from tests.desktop.test_runs import close_all, open_run_page, runs_page_of

# -- the preview rules -------------------------------------------------------------------------------


def test_a_preview_reads_only_what_it_shows():
    assert pv.read_limit("out/huge.log", 2 * 1024**3) == pv.TEXT_BYTES
    assert pv.read_limit("out/huge.csv", 2 * 1024**3) == pv.CSV_BYTES
    assert pv.read_limit("out/huge.json", 2 * 1024**3) == pv.TEXT_BYTES  # too big to parse: its head as text
    assert pv.read_limit("out/small.json", 500) == 500
    assert pv.read_limit("out/huge.png", pv.IMAGE_BYTES + 1) == 0  # never decoded, never read
    assert pv.read_limit("out/weights.bin", 10) == 10


def test_text_json_csv_and_binary_previews():
    text = pv.preview("a.txt", 2 * 1024**3, b"line\n" * (pv.TEXT_BYTES // 5))
    assert text.kind == "text" and text.caption == "text, first 64.0 KiB of 2.0 GiB" and text.text.endswith("line\n")
    pretty = pv.preview("c.json", 16, b'{"b":[1,2],"a":1}')
    assert pretty.kind == "text" and pretty.text == '{\n  "b": [\n    1,\n    2\n  ],\n  "a": 1\n}'
    broken = pv.preview("c.json", 5, b'{"b":')
    assert broken.kind == "text" and broken.caption.startswith("not valid JSON")
    data = b"epoch;loss\n" + b"".join(b"%d;0.5\n" % i for i in range(300))
    table = pv.preview("t.csv", len(data), data)
    assert table.kind == "table" and table.headers == ("epoch", "loss") and len(table.rows) == pv.CSV_ROWS
    assert table.rows[0] == ("0", "0.5") and table.caption.startswith("table, first 200 rows")
    binary = pv.preview("w.bin", 3 * 1024**2, b"\x00\x01\x02" * 100)
    assert binary.kind == "none" and "binary file of 3.0 MiB: not previewed" in binary.caption
    assert pv.preview("huge.png", 40 * 1024**2, b"").caption.startswith("PNG image of 40.0 MiB: too big to preview")
    assert pv.preview("empty.txt", 0, b"").caption == "an empty file"


# -- the tab, against a real run ------------------------------------------------------------------------

CSV_TEXT = "epoch,loss\n" + "".join(f"{i},{1 / (i + 1):.4f}\n" for i in range(500))
TRAIN = f"""
import json, os, struct, zlib
import kiln.track as kt

def png(width, height):
    raw = b"".join(b"\\x00" + b"\\xff\\x80\\x00" * width for _ in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

os.makedirs("out/model", exist_ok=True)
open("out/notes.txt", "w").write("hello\\nworld\\n")
json.dump({{"b": [1, 2], "a": {{"x": 1}}}}, open("out/config.json", "w"))
open("out/table.csv", "w").write({CSV_TEXT!r})
open("out/plot.png", "wb").write(png(7, 5))
open("out/weights.bin", "wb").write(bytes(range(256)) * 12288)
open("out/big.log", "w").write("a log line of the run\\n" * 150000)
open("out/model/model.pkl", "wb").write(b"\\x00model" * 100)
for name in ("notes.txt", "config.json", "table.csv", "plot.png", "weights.bin", "big.log"):
    kt.log_artifact("out/" + name)
kt.log_model("out/model", name="churn", flavor="sklearn")
"""


@pytest.fixture
def artifacts_run(cluster) -> str:
    cluster.agent("n1")
    snap = push_folder(cluster, {"train.py": TRAIN})
    run = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), snap, runtime="process"))
    assert str(cluster.wait_run(run.id).state) == "succeeded", cluster.output(run.id)
    return run.id


def artifacts_tab(qtbot, window: MainWindow, run_id: str) -> ArtifactsPanel:
    run_page = open_run_page(qtbot, runs_page_of(qtbot, window), run_id)
    click_tab(qtbot, run_page.tabs, "Artifacts & models")
    panel = run_page.record.artifacts
    qtbot.waitUntil(
        lambda: panel.entries is not None and "out/model/model.pkl" in panel.table.row_keys(), timeout=WAIT_MS
    )
    return panel


def preview_of(qtbot, panel: ArtifactsPanel, path: str) -> str:
    """Picks `path` and waits for its preview; the caption it shows."""
    click_row(qtbot, panel.table, path)
    qtbot.waitUntil(lambda: panel.shown is not None, timeout=WAIT_MS)
    return panel.caption.text()


def test_the_tab_lists_artifacts_with_type_and_size_and_previews_them(
    qtbot, cluster, cluster_session, artifacts_run, open_window
):
    window = open_window(cluster_session)
    panel = artifacts_tab(qtbot, window, artifacts_run)
    assert cells(panel.table) == [
        ("out/big.log", "artifact", "text", "3.1 MiB"),
        ("out/config.json", "artifact", "JSON", "28 B"),
        ("out/model/", "model churn (sklearn)", "folder, 1 file", "600 B"),
        ("    out/model/model.pkl", "in out/model/", "file", "600 B"),
        ("out/notes.txt", "artifact", "text", "12 B"),
        ("out/plot.png", "artifact", "PNG image", f"{len(png_bytes(7, 5))} B"),
        ("out/table.csv", "artifact", "CSV table", "5.3 KiB"),
        ("out/weights.bin", "artifact", "file", "3.0 MiB"),
    ]
    assert not panel.save_button.isEnabled()  # nothing picked yet

    assert "text, all 12 B" in preview_of(qtbot, panel, "out/notes.txt")
    assert panel.stack.currentWidget() is panel.text and panel.text.toPlainText() == "hello\nworld\n"
    assert "JSON, 28 B, pretty-printed" in preview_of(qtbot, panel, "out/config.json")
    assert panel.text.toPlainText() == '{\n  "b": [\n    1,\n    2\n  ],\n  "a": {\n    "x": 1\n  }\n}'
    assert "table, first 200 rows of 5.3 KiB" in preview_of(qtbot, panel, "out/table.csv")
    assert panel.stack.currentWidget() is panel.csv
    assert panel.csv.rows_model.headers == ("epoch", "loss") and cells(panel.csv)[:2] == [
        ("0", "1.0000"),
        ("1", "0.5000"),
    ]
    assert len(cells(panel.csv)) == 200
    assert "7×5 pixels" in preview_of(qtbot, panel, "out/plot.png")
    assert panel.stack.currentWidget() is panel.image and panel.image.image.size().toTuple() == (7, 5)
    assert not panel.image.pixmap().isNull()
    assert "first 64.0 KiB of 3.1 MiB" in preview_of(qtbot, panel, "out/big.log")  # read no further
    assert (
        panel.text.toPlainText().startswith("a log line of the run\n")
        and len(panel.text.toPlainText()) <= pv.TEXT_BYTES
    )
    preview_of(qtbot, panel, "out/weights.bin")
    assert panel.stack.currentWidget() is panel.note
    assert "binary file of 3.0 MiB: not previewed" in panel.note.text()
    click_row(qtbot, panel.table, "out/model")
    assert "A folder of 1 file (600 B): pick one to preview it." in panel.note.text()
    assert not panel.save_button.isEnabled() and panel.register_button.isEnabled()
    close_all(qtbot, window)


def png_bytes(width: int, height: int) -> bytes:
    """The PNG the run writes (the same code, run here)."""
    scope: dict = {}
    exec(TRAIN.split("os.makedirs")[0], scope)  # noqa: S102  (the test's own script: its png())
    return scope["png"](width, height)


def test_save_writes_the_same_bytes_and_says_what_to_do_when_the_content_is_gone(
    qtbot, cluster, cluster_session, artifacts_run, open_window, tmp_path
):
    window = open_window(cluster_session)
    panel = artifacts_tab(qtbot, window, artifacts_run)
    preview_of(qtbot, panel, "out/table.csv")
    entry = panel.selected_entry()
    assert entry is not None and panel.save_button.isEnabled()
    dest = tmp_path / "saved" / "table.csv"
    panel.save_to(str(dest))
    qtbot.waitUntil(lambda: "saved out/table.csv" in panel.message.text(), timeout=WAIT_MS)
    assert str(dest) in panel.message.text()
    assert dest.read_text() == CSV_TEXT and hashlib.sha256(dest.read_bytes()).hexdigest() == entry.digest

    preview_of(qtbot, panel, "out/weights.bin")  # 3 MiB: several chunks, all verified
    panel.save_to(str(tmp_path / "weights.bin"))
    qtbot.waitUntil(lambda: "saved out/weights.bin" in panel.message.text(), timeout=WAIT_MS)
    assert (tmp_path / "weights.bin").read_bytes() == bytes(range(256)) * 12288

    [blob] = list(Path(cluster.tmp).glob(f"coordinator/**/{panel.selected_entry().digest}"))
    blob.unlink()  # the coordinator lost the content: Save says so, and leaves nothing behind
    panel.save_to(str(tmp_path / "lost.bin"))
    qtbot.waitUntil(lambda: "could not save out/weights.bin" in panel.message.text(), timeout=WAIT_MS)
    assert "administrator" in panel.message.text() and not (tmp_path / "lost.bin").exists()
    close_all(qtbot, window)


def test_register_model_from_the_run_page(qtbot, cluster, cluster_session, artifacts_run, open_window):
    window = open_window(cluster_session)
    panel = artifacts_tab(qtbot, window, artifacts_run)
    click_row(qtbot, panel.table, "out/model")
    click(qtbot, panel.register_button)
    dialog = panel.register_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.path.text() == "out/model" and dialog.name.text() == "churn"  # the logged model's name
    qtbot.keyClicks(dialog.tags, "team=vision, stage")
    click(qtbot, dialog.register)
    assert "must look like key=value" in dialog.message.text()  # said at once, nothing sent
    dialog.tags.clear()
    qtbot.keyClicks(dialog.tags, "team=vision")
    dialog.name.clear()
    qtbot.keyClicks(dialog.name, "Churn Model")
    click(qtbot, dialog.register)
    qtbot.waitUntil(lambda: "not registered" in dialog.message.text(), timeout=WAIT_MS)  # the coordinator's rule
    dialog.name.clear()
    qtbot.keyClicks(dialog.name, "churn")
    click(qtbot, dialog.register)
    qtbot.waitUntil(lambda: "registered as churn v1" in dialog.message.text(), timeout=WAIT_MS)
    [version] = cluster.admin.get_model("p", "churn").versions
    assert (version.run_id, version.path, version.tags) == (artifacts_run, "out/model", {"team": "vision"})
    assert "registered as churn v1" in panel.message.text()
    dialog.close()
    close_all(qtbot, window)
