"""The run state machine as plain data: every allowed move, the refused ones, and what is terminal or active."""

import itertools

import pytest

from kiln.core.errors import FailedPrecondition
from kiln.core.runs import ACTIVE, TERMINAL, TRANSITIONS, RunState, check_transition

Q, A, P, R = RunState.QUEUED, RunState.ASSIGNED, RunState.PREPARING, RunState.RUNNING
S, F, C, L, X = RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED, RunState.LOST, RunState.PREEMPTED
ENDINGS = {S, F, C, L, X}

# Written out by hand, so a change to the state machine is a deliberate change to this table too.
EXPECTED = {
    Q: {A, C},
    A: {P, R, Q} | ENDINGS,
    P: {R, Q} | ENDINGS,
    R: {Q} | ENDINGS,
    L: {Q},  # retried by policy
    X: {Q},  # retried by policy
    S: set(),
    F: set(),
    C: set(),
}
ALLOWED = [(old, new) for old, news in EXPECTED.items() for new in sorted(news)]
REFUSED = [(old, new) for old, new in itertools.product(RunState, RunState) if new not in EXPECTED[old]]


def test_the_table_is_the_one_written_here():
    assert set(TRANSITIONS) == set(RunState)
    assert {old: set(news) for old, news in TRANSITIONS.items()} == EXPECTED


@pytest.mark.parametrize("old, new", ALLOWED, ids=lambda s: str(s))
def test_every_allowed_move_passes(old, new):
    check_transition(old, new)


@pytest.mark.parametrize("old, new", REFUSED, ids=lambda s: str(s))
def test_every_other_move_is_refused_with_both_states_named(old, new):
    with pytest.raises(FailedPrecondition, match=f"^a run cannot go from {old.value} to {new.value}$"):
        check_transition(old, new)


@pytest.mark.parametrize(
    "old, new",
    [
        (Q, R),  # a queued run is never started without an assignment
        (Q, P),
        (Q, F),
        (Q, L),  # nothing runs yet, so nothing can be lost
        (R, P),  # no way back to an earlier step of the same attempt
        (R, A),
        (P, A),
        (S, Q),  # an ending that is not retried is final
        (F, Q),
        (C, Q),
        (L, R),  # a lost run comes back only through the queue
        (X, A),
        (R, R),  # a move to the same state is not a move
        (Q, Q),
    ],
)
def test_representative_refusals(old, new):
    assert (old, new) in REFUSED
    with pytest.raises(FailedPrecondition):
        check_transition(old, new)


def test_terminal_and_active_sets():
    assert TERMINAL == ENDINGS
    assert {A, P, R} == ACTIVE
    assert not TERMINAL & ACTIVE
    assert set(RunState) - TERMINAL - ACTIVE == {Q}
    assert {s for s in RunState if s.terminal} == TERMINAL


def test_a_run_can_be_stopped_from_every_live_state_and_only_ended_runs_stop_for_good():
    for state in set(RunState) - TERMINAL:
        check_transition(state, C)
    for state in TERMINAL:
        assert TRANSITIONS[state] <= {Q}


def test_every_state_is_reachable_from_queued():
    reached, frontier = {Q}, {Q}
    while frontier:
        frontier = {n for s in frontier for n in TRANSITIONS[s]} - reached
        reached |= frontier
    assert reached == set(RunState)
