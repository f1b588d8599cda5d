"""The run search language at the unit level: the tree the parser builds, its errors, and that values stay
values (bound parameters) all the way into SQL. Searching through a real server is tests/records/test_search.py."""

import sqlite3

import pytest

from kiln.core.errors import InvalidArgument
from kiln.core.query import (
    ATTRIBUTES,
    MAX_CONDITIONS,
    MAX_FIELDS,
    MAX_NESTING,
    BoolOp,
    Condition,
    Field,
    SortKey,
    check_search,
    parse_field,
    parse_filter,
    parse_sort,
)


def cond(field, op, value):
    namespace, _, name = field.rpartition(".") if "." in field else ("", "", field)
    return Condition(Field(namespace, name), op, value)


def AND(*items):
    return BoolOp("AND", items)


def OR(*items):
    return BoolOp("OR", items)


A, B, C, D = (cond(f"params.{n}", "=", 1.0) for n in "abcd")


# -- structure ------------------------------------------------------------------------------------------


def test_a_single_condition_is_not_wrapped():
    assert parse_filter("params.a = 1") == A


def test_and_binds_tighter_than_or():
    assert parse_filter("params.a = 1 or params.b = 1 and params.c = 1") == OR(A, AND(B, C))
    assert parse_filter("params.a = 1 and params.b = 1 or params.c = 1") == OR(AND(A, B), C)
    assert parse_filter("params.a = 1 and params.b = 1 or params.c = 1 and params.d = 1") == OR(AND(A, B), AND(C, D))


def test_chains_of_one_operator_are_flat():
    assert parse_filter("params.a = 1 and params.b = 1 and params.c = 1") == AND(A, B, C)
    assert parse_filter("params.a = 1 or params.b = 1 or params.c = 1") == OR(A, B, C)


def test_parentheses_group():
    assert parse_filter("(params.a = 1 or params.b = 1) and params.c = 1") == AND(OR(A, B), C)
    assert parse_filter("params.a = 1 and (params.b = 1 or (params.c = 1 and params.d = 1))") == AND(
        A, OR(B, AND(C, D))
    )
    assert parse_filter("((params.a = 1))") == A


def test_keywords_ignore_case_and_spacing_is_free():
    assert parse_filter("params.a=1 AND params.b = 1 Or params.c =1") == OR(AND(A, B), C)
    assert parse_filter("(params.a=1)and(params.b=1)") == AND(A, B)
    assert parse_filter("  params.a   =   1  ") == A
    assert parse_filter("params.opt LIKE 'ad%'") == cond("params.opt", "LIKE", "ad%")


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_an_empty_filter_is_no_filter(text):
    assert parse_filter(text) is None


@pytest.mark.parametrize(
    "op, sql", [("=", "="), ("==", "="), ("!=", "!="), ("<", "<"), ("<=", "<="), (">", ">"), (">=", ">=")]
)
def test_every_comparison_operator(op, sql):
    assert parse_filter(f"metrics.acc {op} 0.5") == cond("metrics.acc", sql, 0.5)
    assert parse_filter(f"metrics.acc{op}0.5") == cond("metrics.acc", sql, 0.5)


def test_like_is_a_word_operator():
    assert parse_filter("tags.team like 'vis%'") == cond("tags.team", "LIKE", "vis%")
    assert parse_filter("tags.team like vis%") == cond("tags.team", "LIKE", "vis%")


# -- values ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value",
    [
        ("3", 3.0),
        ("-0.5", -0.5),
        ("1e-3", 0.001),
        (".5", 0.5),
        ("'3'", "3"),  # quoted: text, even when it looks like a number
        ('"3"', "3"),
        ("adam", "adam"),  # a bare word that is no number: text
        ("'two words'", "two words"),
        ('"it\'s"', "it's"),
        ("''", ""),
        ("'and'", "and"),
        ("nan", "nan"),  # no number the store keeps: text (as a float it could never match)
        ("inf", "inf"),
        ("-Infinity", "-Infinity"),
        ("r-1a2b", "r-1a2b"),
        ("2026-11-24T10:00:00Z", "2026-11-24T10:00:00Z"),
    ],
)
def test_numbers_quoted_text_and_bare_words(text, value):
    [parsed] = [parse_filter(f"params.x = {text}")]
    assert isinstance(parsed, Condition)
    assert parsed.value == value and type(parsed.value) is type(value)


# -- fields ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", ["params", "metrics", "tags"])
def test_namespaced_fields(namespace):
    assert parse_field(f"{namespace}.lr") == Field(namespace, "lr")
    assert parse_field(f"{namespace}.a.b") == Field(namespace, "a.b")  # the name is everything after the first dot
    assert str(Field(namespace, "lr")) == f"{namespace}.lr"


@pytest.mark.parametrize("name", sorted(ATTRIBUTES))
def test_run_attributes(name):
    assert parse_field(name) == Field("", name)
    assert str(Field("", name)) == name


@pytest.mark.parametrize("text", ["colour", "params", "params.", "param.lr", "Params.lr", "STATE", "state.x", ".lr"])
def test_unknown_fields_are_refused_with_the_choices(text):
    with pytest.raises(InvalidArgument, match=rf"^unknown field {text!r}: use params\.NAME, metrics\.NAME, tags\.NAME"):
        parse_field(text)
    with pytest.raises(InvalidArgument, match="unknown field"):
        parse_filter(f"{text} = 1")


def test_sort_keys():
    assert parse_sort("-metrics.acc, params.lr,+created_at") == [
        SortKey(Field("metrics", "acc"), True),
        SortKey(Field("params", "lr"), False),
        SortKey(Field("", "created_at"), False),
    ]
    assert parse_sort("") == [] == parse_sort(" , ")
    with pytest.raises(InvalidArgument, match="unknown field 'colour'"):
        parse_sort("-colour")


# -- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("params.lr", "the filter ends too early"),
        ("params.lr >", "the filter ends too early"),
        ("params.lr > 1 and", "the filter ends too early"),
        ("(", "the filter ends too early"),
        ("params.lr ~ 3", "expected an operator after params.lr, found '~'"),  # ~ is a bare word
        ("params.lr ! 3", "cannot read the filter at ' ! 3'"),
        ("params.lr = 'open", 'cannot read the filter at " \'open"'),  # an unclosed quote
        ("params.lr and 3", "expected an operator after params.lr, found 'and'"),
        ("params.lr 3", "expected an operator after params.lr, found '3'"),
        ("params.lr = = 3", "expected a value after params.lr ="),
        ("params.lr = (3)", "expected a value after params.lr ="),
        ("= 3", "expected a field, found '='"),
        ("'state' = x", "expected a field, found \"'state'\""),
        ("()", "expected a field, found ')'"),
        ("(state = failed", "a '(' in the filter is not closed"),
        ("state = failed)", "unexpected ')' in the filter"),
        ("state = a b", "unexpected 'b' in the filter"),
        ("state = a state = b", "unexpected 'state' in the filter"),
        ("params.x = 'a'' or 1=1'", "unexpected \"' or 1=1'\" in the filter"),
        ("colour = red", "unknown field 'colour'"),
    ],
)
def test_syntax_errors_say_what_is_wrong(text, message):
    with pytest.raises(InvalidArgument) as caught:
        parse_filter(text)
    assert message in str(caught.value)


def test_at_most_max_conditions():
    many = " and ".join(f"params.p{i} = {i}" for i in range(MAX_CONDITIONS))
    assert len(parse_filter(many).items) == MAX_CONDITIONS  # type: ignore[union-attr]
    with pytest.raises(InvalidArgument, match=f"at most {MAX_CONDITIONS} conditions"):
        parse_filter(many + " or state = failed")


def test_parentheses_nest_only_so_deep_and_say_so():
    assert parse_filter("(" * MAX_NESTING + "state = failed" + ")" * MAX_NESTING) == cond("state", "=", "failed")
    for depth in (MAX_NESTING + 1, 4000):  # 4000 deep once overflowed Python's stack (RecursionError)
        with pytest.raises(InvalidArgument, match=f"nest parentheses at most {MAX_NESTING} deep"):
            parse_filter("(" * depth + "state = failed" + ")" * depth)


def test_a_filter_or_sort_over_its_size_is_refused_before_it_is_read():
    with pytest.raises(InvalidArgument, match=r"^filter is 10 MiB; at most 8 KiB$"):
        parse_filter("(" * (10 << 20))  # unreadable too: the size is all that is looked at
    with pytest.raises(InvalidArgument, match=r"^sort is 3 KiB; at most 2 KiB$"):
        parse_sort("x" * 3072)


def test_a_search_joins_at_most_max_fields_distinct_fields():
    where = parse_filter(" and ".join(f"params.p{i} = {i}" for i in range(MAX_FIELDS)))
    check_search(where, parse_sort("params.p0, -state"))  # the same field twice, and an attribute: no join
    with pytest.raises(InvalidArgument, match=f"at most {MAX_FIELDS} distinct params, metrics and tags fields"):
        check_search(where, parse_sort("metrics.loss"))
    with pytest.raises(InvalidArgument, match=f"not {MAX_FIELDS + 45}"):
        check_search(None, parse_sort(",".join(f"tags.t{i}" for i in range(MAX_FIELDS + 45))))


def test_nesting_counts_depth_not_the_number_of_groups():
    groups = " and ".join(f"(params.p{i} = {i})" for i in range(MAX_CONDITIONS))
    assert len(parse_filter(groups).items) == MAX_CONDITIONS  # type: ignore[union-attr]


# -- values are bound, never pasted into SQL ------------------------------------------------------------

HOSTILE = "1; DROP TABLE runs"


def test_an_injection_attempt_is_just_a_text_value_in_the_tree():
    assert parse_filter(f"params.x = '{HOSTILE}'") == cond("params.x", "=", HOSTILE)
    assert parse_filter('params.x = "x\' OR 1=1; --"') == cond("params.x", "=", "x' OR 1=1; --")


def test_hostile_values_and_names_reach_sql_only_as_parameters():
    # The compiler lives in the coordinator's store, but it is a pure function of the parsed tree, so it is
    # checked here on the parser's output; its SQL then runs on an in-memory database with the columns it names.
    from kiln.coordinator.store.tracking import _Compiler

    where = parse_filter(f"params.x = '{HOSTILE}' and (user = \"' OR 1=1 --\" or metrics.a;DROP >= 0.5)")
    sql, params = _Compiler().select(["p'); DROP TABLE runs; --"], where, parse_sort("-tags.t;DELETE"), 10)
    for text in (HOSTILE, "DROP", "DELETE", "OR 1=1", "'", ";"):
        assert text not in sql
    assert params == ["x", "a;DROP", "t;DELETE", "p'); DROP TABLE runs; --", HOSTILE, "' OR 1=1 --", 0.5, 10]
    assert sql.count("?") == len(params)

    db = sqlite3.connect(":memory:")
    db.executescript(
        """
        CREATE TABLE runs (id, project, state, user, node, created_at, started_at, finished_at);
        CREATE TABLE run_params (run_id, key, value, value_num);
        CREATE TABLE run_tags (run_id, key, value);
        CREATE TABLE metric_summary (run_id, key, last_value);
        INSERT INTO runs VALUES ('r-1', 'p', 'succeeded', 'alice', 'n1', 1.0, 2.0, 3.0);
        INSERT INTO run_params VALUES ('r-1', 'x', '1; DROP TABLE runs', NULL);
        """
    )
    assert db.execute(sql, params).fetchall() == []
    hit_sql, hit_params = _Compiler().select(["p"], parse_filter(f"params.x = '{HOSTILE}'"), [], 10)
    assert db.execute(hit_sql, hit_params).fetchall() == [("r-1",)]  # matched as the text it is
    assert db.execute("SELECT count(*) FROM runs").fetchone() == (1,)
