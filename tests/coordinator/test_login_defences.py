"""Login defences through the real server: throttled guessing (per user name and per source, on an injected
clock), the same work for unknown names, capped token lifetimes, and tokens revoked by disabling a user or
changing a password."""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.client import Client
from kiln.coordinator import identity, throttle
from kiln.coordinator.server import RunningCoordinator
from kiln.coordinator.throttle import SignInThrottle
from kiln.core import defaults
from kiln.core.errors import InvalidArgument, PermissionDenied, ResourceExhausted, Unauthenticated
from tests.conftest import ADMIN_PASSWORD, client_for, login, start_coordinator

FREE = defaults.SIGNIN_FREE_FAILURES_PER_USER
DAY = 86400.0
SCRYPT_COST = (identity.SCRYPT_N, identity.SCRYPT_R, identity.SCRYPT_P)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def fake_clock(coordinator: RunningCoordinator) -> FakeClock:
    """The coordinator's sign-in throttle on a clock in the test's hands."""
    clock = FakeClock()
    coordinator.ctx.signins = SignInThrottle(clock)
    return clock


class Work:
    """The scrypt derivations the coordinator did since the last reading."""

    def __init__(self) -> None:
        self.last = identity.derivations.snapshot()

    def since(self) -> Counter[tuple[int, int, int]]:
        now = identity.derivations.snapshot()
        done, self.last = now - self.last, now
        return done


def attempt(rc: RunningCoordinator, user: str, password: str, address: str | None = None) -> Exception | None:
    """One sign-in; the error it got, or None when it was let in."""
    with Client(address or rc.address, rc.ctx.tls.ca_pem) as c:
        try:
            c.login(user, password)
        except (Unauthenticated, ResourceExhausted) as e:
            return e
    return None


def test_a_guesser_is_refused_before_any_hashing_while_others_sign_in_and_call(
    coordinator, admin, make_user, fake_clock
):
    make_user("bob")
    alice = make_user("alice")
    work = Work()
    for _ in range(FREE):
        assert isinstance(attempt(coordinator, "bob", "guess-guess"), Unauthenticated)
    assert work.since() == Counter({SCRYPT_COST: FREE})

    refused = attempt(coordinator, "bob", "bob-password")  # even the right password, while throttled
    assert isinstance(refused, ResourceExhausted)
    assert str(refused) == "too many failed sign-ins for user 'bob'; try again in 1 s"
    assert work.since() == Counter()  # refused before any hashing

    assert attempt(coordinator, "alice", "alice-password") is None  # same address, another user
    assert alice.whoami()[0].name == "alice" and admin.whoami()[0].name == "admin"


def test_the_wait_doubles_with_each_failure_and_the_throttle_expires(coordinator, make_user, fake_clock):
    make_user("bob")
    for _ in range(FREE):
        attempt(coordinator, "bob", "guess-guess")
    for wait in (1, 2, 4, 8):
        refused = attempt(coordinator, "bob", "guess-guess")
        assert isinstance(refused, ResourceExhausted) and f"try again in {wait} s" in str(refused)
        fake_clock.advance(wait)
        assert isinstance(attempt(coordinator, "bob", "guess-guess"), Unauthenticated)  # one more guess
    assert "try again in 16 s" in str(attempt(coordinator, "bob", "guess-guess"))
    assert SignInThrottle().delay(1000, "user") == defaults.SIGNIN_MAX_DELAY_S  # the cap

    fake_clock.advance(defaults.SIGNIN_WINDOW_S)  # the failures leave the window
    assert coordinator.ctx.signins.failures("user", "bob") == 0
    assert attempt(coordinator, "bob", "bob-password") is None


def test_a_guesser_refused_again_and_again_writes_one_log_line_a_minute_with_a_count(
    coordinator, make_user, fake_clock, caplog
):
    make_user("bob")
    for _ in range(FREE):
        attempt(coordinator, "bob", "guess-guess")
    caplog.set_level(logging.WARNING, logger="kiln.coordinator")
    for _ in range(50):  # each refused, and each told so
        assert "too many failed sign-ins for user 'bob'" in str(attempt(coordinator, "bob", "guess-guess"))
    lines = [r.getMessage() for r in caplog.records if "sign-ins" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("refused /kiln.v1.Auth/Login")

    caplog.clear()
    fake_clock.advance(throttle.REFUSAL_LOG_S)
    attempt(coordinator, "bob", "guess-guess")  # let in (the wait is over) and failed: it is the next refusal
    attempt(coordinator, "bob", "guess-guess")
    lines = [r.getMessage() for r in caplog.records if "sign-ins" in r.getMessage()]
    assert lines[0] == "49 more sign-ins for user 'bob' were refused since the last line about them"
    assert len(lines) == 2 and lines[1].startswith("refused /kiln.v1.Auth/Login")


def test_a_success_clears_the_user_count(coordinator, make_user, fake_clock):
    make_user("bob")
    for _ in range(FREE - 1):
        attempt(coordinator, "bob", "guess-guess")
    assert attempt(coordinator, "bob", "bob-password") is None
    assert coordinator.ctx.signins.failures("user", "bob") == 0
    assert isinstance(attempt(coordinator, "bob", "guess-guess"), Unauthenticated)  # counted from zero


@pytest.fixture
def dual_stack(tmp_path: Path) -> Iterator[RunningCoordinator]:
    """A coordinator on both loopback addresses, so a test has two sources: 127.0.0.1 and ::1."""
    running = start_coordinator(tmp_path / "dual", listen="localhost:0")
    running.ctx.signins = SignInThrottle(FakeClock())
    yield running
    running.stop()


def test_spraying_names_from_one_source_is_refused_there_and_not_elsewhere(dual_stack):
    v4, v6 = f"127.0.0.1:{dual_stack.port}", f"[::1]:{dual_stack.port}"
    with login(dual_stack, "admin", ADMIN_PASSWORD) as admin:
        admin.create_user("alice", "alice-password")
    for i in range(defaults.SIGNIN_FREE_FAILURES_PER_SOURCE):
        assert isinstance(attempt(dual_stack, f"user{i}", "guess-guess", v4), Unauthenticated)
    work = Work()
    refused = attempt(dual_stack, "someone-new", "guess-guess", v4)
    assert isinstance(refused, ResourceExhausted) and "from 127.0.0.1; try again in 1 s" in str(refused)
    assert isinstance(attempt(dual_stack, "alice", "alice-password", v4), ResourceExhausted)
    assert work.since() == Counter()
    assert attempt(dual_stack, "alice", "alice-password", v6) is None  # another source is not slowed


def test_concurrent_guesses_cannot_slip_past_the_check(coordinator, make_user, fake_clock):
    make_user("bob")
    work, outcomes, lock = Work(), [], threading.Lock()

    def guess() -> None:
        outcome = attempt(coordinator, "bob", "guess-guess")
        with lock:
            outcomes.append(type(outcome))

    threads = [threading.Thread(target=guess) for _ in range(4 * FREE)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # however they interleave, an attempt in flight counts as a failure: never more than FREE hashed
    hashed = work.since()[SCRYPT_COST]
    assert 1 <= hashed <= FREE and Counter(outcomes)[Unauthenticated] == hashed
    assert Counter(outcomes)[ResourceExhausted] == 4 * FREE - hashed


def test_an_unknown_name_and_a_wrong_password_cost_the_same_and_read_the_same(coordinator, make_user):
    make_user("bob")
    work = Work()
    wrong_password = attempt(coordinator, "bob", "guess-guess")
    wrong_password_work = work.since()
    unknown_name = attempt(coordinator, "nobody", "guess-guess")
    unknown_name_work = work.since()
    assert wrong_password_work == unknown_name_work == Counter({SCRYPT_COST: 1})
    assert isinstance(wrong_password, Unauthenticated) and isinstance(unknown_name, Unauthenticated)
    assert str(wrong_password) == str(unknown_name) == "wrong user name or password"


def test_a_wrong_current_password_counts_like_a_failed_sign_in(coordinator, make_user, fake_clock):
    bob = make_user("bob")
    for _ in range(FREE):
        with pytest.raises(PermissionDenied, match="current password is wrong"):
            bob.set_password("new-password-1", "guess-guess")
    with pytest.raises(ResourceExhausted, match="too many failed sign-ins for user 'bob'"):
        bob.set_password("new-password-1", "bob-password")
    assert isinstance(attempt(coordinator, "bob", "bob-password"), ResourceExhausted)  # one count


def _token_count(rc: RunningCoordinator) -> int:
    with sqlite3.connect(rc.ctx.config.data_dir / "kiln.db") as db:
        return int(db.execute("SELECT count(*) FROM tokens").fetchone()[0])


def test_token_lifetimes_are_capped_at_a_year_by_default_and_odd_ones_refused(coordinator, admin):
    assert coordinator.ctx.config.max_token_lifetime_s <= 365 * DAY
    before = _token_count(coordinator)
    with pytest.raises(InvalidArgument, match="over this coordinator's limit of 365 days"):
        admin.create_token("long", ttl_seconds=366 * DAY)
    for odd in (math.nan, math.inf, -math.inf, -1.0):
        with pytest.raises(InvalidArgument, match="token lifetime must be a positive, finite number"):
            admin.create_token("odd", ttl_seconds=odd)
    assert _token_count(coordinator) == before  # nothing was minted
    _, token = admin.create_token("year", ttl_seconds=365 * DAY)
    assert token.expires_at - token.created_at == pytest.approx(365 * DAY)


def test_a_lower_cap_shortens_the_defaults_and_ends_older_tokens(tmp_path):
    data = tmp_path / "c"
    rc = start_coordinator(data)
    try:
        with login(rc, "admin", ADMIN_PASSWORD) as admin:
            old_secret, _ = admin.create_token("old", ttl_seconds=200 * DAY)
    finally:
        rc.stop()
    rc = start_coordinator(data, max_token_lifetime_s=10 * DAY)
    try:
        token, _, expires_at = client_for(rc).login("admin", ADMIN_PASSWORD)
        with client_for(rc, token) as admin:
            me = admin.whoami()[1]
            assert expires_at - me.created_at == pytest.approx(10 * DAY)  # the 30-day session, shortened
            _, api = admin.create_token("api")
            assert api.expires_at - api.created_at == pytest.approx(10 * DAY)  # the 90-day default too
            with pytest.raises(InvalidArgument, match="limit of 10 days"):
                admin.create_token("long", ttl_seconds=11 * DAY)
        with sqlite3.connect(data / "kiln.db") as db:  # eleven days pass for the old 200-day token
            db.execute("UPDATE tokens SET created_at = created_at - ? WHERE name = 'old'", [11 * DAY])
        with client_for(rc, old_secret) as c, pytest.raises(Unauthenticated, match="expired"):
            c.whoami()
    finally:
        rc.stop()


def test_the_cap_itself_must_be_a_positive_finite_duration(tmp_path, cli):
    for odd in ("nan", "inf", "-5d", "0"):
        result = cli("coordinator", "--data", tmp_path / "c", f"--max-token-lifetime={odd}")
        assert result.code == 1 and result.err.startswith("error: --max-token-lifetime: ")
        assert len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()  # refused before anything was created
    with pytest.raises(InvalidArgument, match="maximum token lifetime"):
        start_coordinator(tmp_path / "d", max_token_lifetime_s=math.nan)


def _audit_details(admin: Client, action: str) -> dict[str, object]:
    return json.loads([r for r in admin.list_audit() if r.action == action][-1].details_json)


def test_disabling_a_user_revokes_every_token_and_enabling_revives_none(coordinator, admin, make_user):
    bob = make_user("bob")
    second = login(coordinator, "bob", "bob-password")
    api_secret, _ = bob.create_token("ci")
    admin_issued, _ = admin.create_token("for-bob", user="bob")
    admin.set_user_disabled("bob", True)
    assert all(t.revoked_at for t in admin.list_tokens("bob"))
    assert _audit_details(admin, "user.disable") == {"tokens_revoked": 4}
    with pytest.raises(Unauthenticated, match="disabled"):
        bob.whoami()

    admin.set_user_disabled("bob", False)
    for secret in (api_secret, admin_issued):
        with client_for(coordinator, secret) as c, pytest.raises(Unauthenticated, match="revoked"):
            c.whoami()
    for session in (bob, second):
        with pytest.raises(Unauthenticated, match="revoked"):
            session.whoami()
    second.close()
    with login(coordinator, "bob", "bob-password") as fresh:
        assert fresh.whoami()[0].name == "bob"


def test_a_password_change_keeps_this_session_and_revokes_the_others(coordinator, admin, make_user):
    bob = make_user("bob")
    other = login(coordinator, "bob", "bob-password")
    api_secret, _ = bob.create_token("ci")
    bob.set_password("new-password-1", "bob-password")
    assert bob.whoami()[0].name == "bob"  # the session that proved the old password stays
    with pytest.raises(Unauthenticated, match="revoked"):
        other.whoami()
    other.close()
    with client_for(coordinator, api_secret) as c, pytest.raises(Unauthenticated, match="revoked"):
        c.whoami()
    assert _audit_details(admin, "user.password") == {"tokens_revoked": 2}

    admin.set_password("new-password-2", user="bob")  # an admin's reset: no session of bob's survives
    with pytest.raises(Unauthenticated, match="revoked"):
        bob.whoami()
    assert admin.whoami()[0].name == "admin"
    login(coordinator, "bob", "new-password-2").close()
