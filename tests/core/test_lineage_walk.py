"""Lineage walks over an in-memory graph (one `neighbours` call per level), and entity id parsing."""

import pytest

from kiln.core import lineage
from kiln.core.errors import InvalidArgument
from kiln.core.lineage import MAX_DEPTH, Edge, in_order, split, versioned, walk


class Graph:
    """A store stand-in: answers `neighbours(frontier, upstream)` from a list of edges and records each call."""

    def __init__(self, *pairs: str) -> None:
        self.edges = [e(p) for p in pairs]
        self.calls: list[tuple[frozenset[str], bool]] = []

    def __call__(self, frontier: set[str], upstream: bool) -> list[Edge]:
        self.calls.append((frozenset(frontier), upstream))
        return [e for e in self.edges if (e.dst if upstream else e.src) in frontier]


class Births:
    """A store stand-in for `births(ids)`: answers from a table and records each call."""

    def __init__(self, **born: float) -> None:
        self.born = born
        self.calls: list[frozenset[str]] = []

    def __call__(self, ids: set[str]) -> dict[str, float]:
        self.calls.append(frozenset(ids))
        return {i: self.born[i] for i in ids if i in self.born}


def e(pair: str) -> Edge:
    src, dst = pair.split(">")
    return Edge(src, dst, "flows")


# data > snap > run > out > model, and a second input into the run; run also has a child run.
CHAIN = ("data>snap", "snap>run", "other>run", "run>out", "out>model", "run>child")


def test_upstream_finds_ancestors_level_by_level():
    g = Graph(*CHAIN)
    ids, edges = walk("run", g, up=True, down=False, depth=5)
    assert ids == {"run", "snap", "other", "data"}
    assert edges == [e("data>snap"), e("other>run"), e("snap>run")]  # sorted by src, dst, relation
    assert g.calls == [
        (frozenset({"run"}), True),
        (frozenset({"snap", "other"}), True),
        (frozenset({"data"}), True),  # answers nothing new, so the walk stops before depth 5
    ]


def test_downstream_finds_descendants():
    g = Graph(*CHAIN)
    ids, edges = walk("run", g, up=False, down=True, depth=5)
    assert ids == {"run", "out", "model", "child"}
    assert edges == [e("out>model"), e("run>child"), e("run>out")]
    assert [up for _, up in g.calls] == [False, False, False]


def test_both_directions_walk_each_from_the_root():
    g = Graph(*CHAIN)
    ids, edges = walk("run", g, up=True, down=True, depth=5)
    assert ids == {"run", "snap", "other", "data", "out", "model", "child"}
    assert set(edges) == {e(p) for p in CHAIN}
    assert g.calls[0] == (frozenset({"run"}), True)
    assert (frozenset({"run"}), False) in g.calls


def test_neither_direction_is_just_the_root_and_asks_nothing():
    g = Graph(*CHAIN)
    assert walk("run", g, up=False, down=False, depth=3) == ({"run"}, [])
    assert g.calls == []


def test_depth_limits_the_steps_and_the_edges():
    g = Graph(*CHAIN)
    ids, edges = walk("model", g, up=True, down=False, depth=2)
    assert ids == {"model", "out", "run"}
    assert edges == [e("out>model"), e("run>out")]
    assert len(g.calls) == 2  # one call per level, and no more than `depth` levels

    one = Graph(*CHAIN)
    assert walk("model", one, up=True, down=False, depth=1) == ({"model", "out"}, [e("out>model")])
    assert len(one.calls) == 1


def test_a_node_reached_two_ways_is_visited_once_at_its_nearest_level():
    # a > b > c and a > c: c's parents are asked for once, and a is not walked a second time.
    g = Graph("a>b", "b>c", "a>c")
    ids, edges = walk("c", g, up=True, down=False, depth=5)
    assert ids == {"a", "b", "c"}
    assert set(edges) == {e("a>b"), e("b>c"), e("a>c")}
    assert g.calls == [(frozenset({"c"}), True), (frozenset({"a", "b"}), True)]


@pytest.mark.parametrize("depth", [0, -1, MAX_DEPTH + 1, 1000])
def test_depth_out_of_range_is_refused_before_any_lookup(depth):
    g = Graph(*CHAIN)
    with pytest.raises(InvalidArgument, match=f"depth must be between 1 and {MAX_DEPTH}"):
        walk("run", g, up=True, down=True, depth=depth)
    assert g.calls == []


@pytest.mark.parametrize("depth", [1, MAX_DEPTH])
def test_depth_bounds_are_inclusive(depth):
    walk("run", Graph(*CHAIN), up=True, down=True, depth=depth)


def test_a_cycle_ends_the_walk_and_never_makes_the_root_its_own_relative():
    g = Graph("a>b", "b>c", "c>a")
    ids, edges = walk("a", g, up=False, down=True, depth=MAX_DEPTH)
    assert ids == {"a", "b", "c"}
    assert edges == [e("a>b"), e("b>c")]  # c > a would make a its own descendant
    assert len(g.calls) == 3  # the third level finds only the edge back to `a`

    up = Graph("a>b", "b>c", "c>a")
    ids, edges = walk("a", up, up=True, down=False, depth=MAX_DEPTH)
    assert ids == {"a", "b", "c"}
    assert edges == [e("b>c"), e("c>a")]  # a > b would make a its own ancestor

    # births break the cycle where it is false: c (born last) cannot have fed a (born first)
    timed = Births(a=1, b=2, c=3)
    for up_, down_ in ((True, False), (False, True), (True, True)):
        ids, edges = walk("a", Graph("a>b", "b>c", "c>a"), up=up_, down=down_, depth=MAX_DEPTH, births=timed)
        assert e("c>a") not in edges
    assert walk("a", Graph("a>b", "b>c", "c>a"), up=True, down=False, depth=5, births=timed) == ({"a"}, [])


def test_a_self_loop_is_never_followed_nor_returned():
    g = Graph("r>r", "s>r")
    ids, edges = walk("r", g, up=True, down=True, depth=MAX_DEPTH)
    assert ids == {"r", "s"}
    assert edges == [e("s>r")]
    assert g.calls == [
        (frozenset({"r"}), True),
        (frozenset({"s"}), True),
        (frozenset({"r"}), False),  # finds only r > r: dropped, so it stops
    ]


# -- time: what existed before what ---------------------------------------------------------------------
# S pushed (1), R1 runs on it (2). Later R2 (5) left its folder as S: an older agent reported S as its
# output, recorded as R2 > S. Going up from R1 must not reach R2, nor what fed it.
LATER = ("S>R1", "R1>O1", "S2>R2", "R2>S")
LATER_BIRTHS = {"S": 1, "R1": 2, "O1": 3, "S2": 4, "R2": 5}


def test_going_up_never_reaches_a_later_run_that_shares_a_snapshot():
    ids, edges = walk("R1", Graph(*LATER), up=True, down=False, depth=MAX_DEPTH, births=Births(**LATER_BIRTHS))
    assert ids == {"R1", "S"}
    assert edges == [e("S>R1")]
    ids, edges = walk("S", Graph(*LATER), up=True, down=True, depth=MAX_DEPTH, births=Births(**LATER_BIRTHS))
    assert ids == {"S", "R1", "O1"}  # S's descendants; R2 came after S, so it is not S's source
    assert e("R2>S") not in edges


def test_a_run_whose_output_is_its_input_has_no_output():
    g, born = Graph("S>R", "R>S"), Births(S=1, R=2)
    assert walk("R", g, up=True, down=True, depth=5, births=born) == ({"R", "S"}, [e("S>R")])
    assert walk("S", Graph("S>R", "R>S"), up=True, down=False, depth=5, births=born) == ({"S"}, [])


def test_every_ancestor_was_born_no_later_than_its_descendant():
    born = {"d": 1, "s": 2, "r": 3, "o": 4, "m": 5, "late": 6}
    g = Graph("d>r", "s>r", "r>o", "o>m", "r>m", "late>r", "m>s")  # late > r and m > s cannot be true
    ids, edges = walk("m", g, up=True, down=False, depth=MAX_DEPTH, births=Births(**born))
    assert ids == {"m", "o", "r", "d", "s"}
    assert all(born[x.src] <= born[x.dst] for x in edges)


def test_births_are_asked_once_per_level_for_new_entities_only():
    born = Births(data=1, snap=2, other=2, run=3, out=4, model=5, child=6)
    walk("run", Graph(*CHAIN), up=True, down=True, depth=5, births=born)
    asked = [set(c) for c in born.calls]
    assert asked[0] == {"run"}
    assert all(not (a & b) for i, a in enumerate(asked) for b in asked[:i])  # nobody asked twice


def test_an_unknown_birth_or_a_tie_does_not_refuse_an_edge():
    assert in_order(Edge("a", "b", "x"), {"a": 5})
    assert in_order(Edge("a", "b", "x"), {"a": 5, "b": 5})
    assert not in_order(Edge("a", "b", "x"), {"a": 5, "b": 4})
    assert not in_order(Edge("a", "a", "x"), {})
    ids, _ = walk("b", Graph("a>b", "x>b"), up=True, down=False, depth=2, births=Births(b=1, x=2))
    assert ids == {"a", "b"}  # a's birth is unknown: followed; x was born after b: not


def test_the_same_edge_from_two_levels_is_returned_once():
    g = Graph("a>b", "b>a")
    _, edges = walk("a", g, up=True, down=True, depth=4)
    assert edges == [e("a>b"), e("b>a")]


def test_relations_keep_edges_between_the_same_pair_apart():
    def neighbours(frontier, upstream):
        return [Edge("s", "r", "input"), Edge("s", "r", "code")] if upstream and "r" in frontier else []

    assert walk("r", neighbours, up=True, down=False, depth=1)[1] == [Edge("s", "r", "code"), Edge("s", "r", "input")]


# -- ids ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entity, expected",
    [
        ("run:r-1a2b", ("run", "r-1a2b")),
        ("r-1a2b", ("run", "r-1a2b")),
        ("snapshot:" + "ab" * 32, ("snapshot", "ab" * 32)),
        ("ab" * 32, ("snapshot", "ab" * 32)),
        ("deadbeef", ("snapshot", "deadbeef")),  # a prefix of 8 hex digits is enough
        ("dataset:vision/imagenet-1k@3", ("dataset", "vision/imagenet-1k@3")),
        ("model:p.q/my_model@12", ("model", "p.q/my_model@12")),
    ],
)
def test_split_names_the_kind(entity, expected):
    assert split(entity) == expected


@pytest.mark.parametrize(
    "entity",
    ["dataset:vision", "dataset:vision/imagenet", "model:p/m@v1", "model:P/m@1", "dataset:p/m@1\n", "model:/m@1"],
)
def test_split_refuses_a_malformed_version_and_shows_the_form(entity):
    kind = entity.partition(":")[0]
    with pytest.raises(InvalidArgument, match=f"a {kind} version is {kind}:PROJECT/NAME@VERSION"):
        split(entity)


@pytest.mark.parametrize("entity", ["", "hello", "abc123", "ABCDEF12", "job:r-1", "run:", "dataset:", "a" * 65])
def test_split_refuses_what_is_no_id(entity):
    with pytest.raises(InvalidArgument, match="not an entity id"):
        split(entity)


@pytest.mark.parametrize(
    "entity, words",
    [
        ("run:anything", "a run is run:r-"),
        ("run:r-", "a run is run:r-"),
        ("run:r-1a 2b", "a run is run:r-"),
        ("snapshot:xyz", "a snapshot is snapshot: and 8 to 64 hex digits"),
        ("snapshot:abc", "a snapshot is snapshot: and 8 to 64 hex digits"),
        ("snapshot:" + "a" * 65, "a snapshot is snapshot: and 8 to 64 hex digits"),
    ],
)
def test_split_checks_what_follows_a_run_or_snapshot_kind(entity, words):
    with pytest.raises(InvalidArgument, match=words):
        split(entity)


def test_versioned_parses_project_name_and_number():
    assert versioned("vision/imagenet-1k@3") == ("vision", "imagenet-1k", 3)
    assert versioned("p/m@007") == ("p", "m", 7)


@pytest.mark.parametrize("rest", ["p/m", "p/m@", "p/m@x", "p@1", "/m@1", "p/m@1 ", "p/m@1\n", "P/m@1", "p/-m@1"])
def test_versioned_refuses_anything_else(rest):
    with pytest.raises(InvalidArgument, match="is not PROJECT/NAME@VERSION"):
        versioned(rest)


def test_id_builders_round_trip_through_split():
    for entity in (
        lineage.run_id("r-9"),
        lineage.snapshot_id("ab" * 32),
        lineage.dataset_id("p", "d", 2),
        lineage.model_id("p", "m", 4),
    ):
        kind, rest = split(entity)
        assert f"{kind}:{rest}" == entity
    assert versioned(split(lineage.model_id("p", "m", 4))[1]) == ("p", "m", 4)
