"""Host keys are verified against known_hosts or a fingerprint the person passed, never accepted silently;
an unreachable host or a refused login is a clear error. Against a real sshd."""

from __future__ import annotations

import os

import paramiko
import pytest

from kiln.core.errors import InvalidArgument, PermissionDenied, Unavailable
from kiln.installers.ssh import Target, connect
from tests.installers.conftest import free_port, write_key


def test_an_unknown_host_key_is_refused_and_its_fingerprint_shown(sshd):
    with pytest.raises(PermissionDenied) as e:
        connect(Target("root", "127.0.0.1", sshd.port), sshd.client_key, sshd.known_hosts, system_keys=False)
    assert sshd.fingerprint in str(e.value) and "--trust" in str(e.value)
    assert not sshd.known_hosts.exists()


def test_trusting_the_shown_fingerprint_saves_it_and_later_connections_check_against_it(sshd):
    target = Target("root", "127.0.0.1", sshd.port)
    with connect(target, sshd.client_key, sshd.known_hosts, sshd.fingerprint, system_keys=False) as remote:
        assert remote.run("echo hello").out == "hello\n"
    assert f"[127.0.0.1]:{sshd.port}" in sshd.known_hosts.read_text()
    assert sshd.known_hosts.stat().st_mode & 0o077 == 0
    with connect(target, sshd.client_key, sshd.known_hosts, system_keys=False) as remote:  # no --trust now
        result = remote.run("exit 3", check=False)
        assert result.code == 3


def test_a_wrong_fingerprint_is_refused(sshd):
    other = paramiko.Ed25519Key.from_private_key_file(str(sshd.client_key)).fingerprint
    with pytest.raises(PermissionDenied, match="refusing to connect"):
        connect(Target("root", "127.0.0.1", sshd.port), sshd.client_key, sshd.known_hosts, other, system_keys=False)
    assert not sshd.known_hosts.exists()


def test_a_changed_host_key_is_refused_even_with_trust(sshd, tmp_path):
    write_key(tmp_path / "impostor")
    keys = paramiko.HostKeys()
    stale = paramiko.Ed25519Key.from_private_key_file(str(tmp_path / "impostor"))
    keys.add(f"[127.0.0.1]:{sshd.port}", stale.get_name(), stale)
    keys.save(str(sshd.known_hosts))
    before = sshd.known_hosts.read_text()
    with pytest.raises(PermissionDenied, match="HOST KEY CHANGED"):
        connect(Target("root", "127.0.0.1", sshd.port), sshd.client_key, sshd.known_hosts, sshd.fingerprint, False)
    assert sshd.known_hosts.read_text() == before


def test_an_unreachable_host_and_a_refused_login_are_clear_errors(sshd, tmp_path):
    with pytest.raises(Unavailable, match="cannot reach SSH"):
        connect(Target("root", "127.0.0.1", free_port()), sshd.client_key, sshd.known_hosts, system_keys=False)
    write_key(tmp_path / "stranger")
    with pytest.raises(PermissionDenied, match="refused the SSH login"):
        connect(
            Target("root", "127.0.0.1", sshd.port), tmp_path / "stranger", sshd.known_hosts, sshd.fingerprint, False
        )
    with pytest.raises(InvalidArgument, match="does not exist"):
        connect(Target("root", "127.0.0.1", sshd.port), tmp_path / "nope", sshd.known_hosts, system_keys=False)


def test_targets_are_parsed_or_refused():
    assert Target.parse("root@gpu-01", 2222) == Target("root", "gpu-01", 2222)
    assert str(Target.parse("ops@[::1]")) == "ops@::1"
    for bad in ("root@", "a b@host", "@host"):
        with pytest.raises(InvalidArgument):
            Target.parse(bad)


def test_files_are_written_with_their_mode_and_owner(sshd, tmp_path):
    target = Target("root", "127.0.0.1", sshd.port)
    with connect(target, sshd.client_key, sshd.known_hosts, sshd.fingerprint, system_keys=False) as remote:
        remote.write(str(tmp_path / "secret.env"), b"TOKEN=x\n", 0o600)
        staging = remote.staging()
    assert (tmp_path / "secret.env").read_bytes() == b"TOKEN=x\n"
    assert (tmp_path / "secret.env").stat().st_mode & 0o777 == 0o600
    assert not os.path.exists(staging)  # the staging folder goes with the session
