"""What the tracking, lineage and model views show, decided without widgets: the lineage layering and the
registry's words (the charts' arithmetic is tested in test_charts.py)."""

from __future__ import annotations

from kiln.core.lineage import Edge, Entity
from kiln.core.models import AliasMove, AliasRequest
from kiln.desktop.pages.lineage.layout import arrange, layers
from kiln.desktop.pages.models.rows import approvals_text, at_text, request_rows
from kiln.desktop.pages.run.recordrows import describe_entity, package_rows


def test_layers_are_the_longest_path_from_the_sources():
    edges = [Edge("a", "b", "x"), Edge("b", "c", "x"), Edge("a", "c", "x"), Edge("d", "c", "x")]
    assert layers("abcd", edges) == {"a": 0, "b": 1, "c": 2, "d": 0}


def test_a_cycle_does_not_hang_the_layout():
    edges = [Edge("a", "b", "x"), Edge("b", "a", "x"), Edge("b", "c", "x")]
    found = layers("abc", edges)
    assert set(found) == {"a", "b", "c"} and found["c"] > found["b"]


def test_rows_follow_their_sources_so_edges_do_not_cross():
    nodes = [Entity(i, "snapshot", "", i) for i in ("s1", "s2", "r1", "r2")]
    # r1 comes from s2 and r2 from s1: within the second column they take their sources' order
    edges = [Edge("s2", "r1", "input"), Edge("s1", "r2", "input")]
    place = arrange(nodes, edges)
    assert place["s1"] == (0, 0) and place["s2"] == (0, 1)
    assert place["r2"] == (1, 0) and place["r1"] == (1, 1)


def test_entities_and_packages_in_words():
    assert describe_entity("dataset:p/images@3") == ("dataset", "p/images v3")
    assert describe_entity("snapshot:" + "ab" * 32) == ("snapshot", "snapshot " + "ab" * 6)
    assert describe_entity("not an id") == ("", "not an id")
    rows = package_rows({"packages": "numpy==2.1.0\n-e /src/kiln\n"})
    assert [r.cells for r in rows] == [("-e /src/kiln", ""), ("numpy", "2.1.0")]


def request(state: str, created: float, reviews=()) -> AliasRequest:
    return AliasRequest(f"ar-{created:g}", "p", "m", 1, "production", "dev", state, created, 0, 2, "", reviews)


def test_open_requests_come_first_and_approvals_are_counted():
    rows = request_rows([request("rejected", 3), request("open", 1, (("v", True, "", 2.0),)), request("open", 2)])
    assert [r.key for r in rows] == ["ar-2", "ar-1", "ar-3"] and [r.marked for r in rows] == [
        True,
        True,
        False,
    ]
    assert approvals_text(request("open", 1, (("v", True, "", 2.0), ("w", False, "", 3.0)))) == "1 of 2"


def test_which_version_was_production_at_a_time():
    moves = [AliasMove(alias="production", version=2, time=0.0, actor="val", request_id="ar-1")]
    assert at_text([], "2026-01-01 10:00:00") == "At 2026-01-01 10:00:00, no version was production."
    assert at_text(moves, "T").startswith("At T, production was version 2 (since ")


def test_a_run_whose_output_is_its_input_keeps_the_rest_in_order():
    """The loop snapshot -> failed run -> same snapshot must not pull unrelated entities to the left."""
    edges = [
        Edge("snapshot:s", "run:failed", "input"),
        Edge("run:failed", "snapshot:s", "output"),
        Edge("snapshot:s", "run:root", "input"),
        Edge("run:root", "model:m", "produced"),
    ]
    found = layers(["snapshot:s", "run:failed", "run:root", "model:m"], edges)
    assert found["run:root"] > found["snapshot:s"] and found["model:m"] > found["run:root"]
