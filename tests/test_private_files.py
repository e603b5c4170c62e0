"""Files that hold keys are owner-only (0600) from the moment they exist, wherever they are written."""
from __future__ import annotations

import os
import stat

import pytest
from typer.testing import CliRunner

from gateway_ops import cli
from gateway_ops.attendees.prepare import issue_attendees
from gateway_ops.private_files import is_private, write_private

runner = CliRunner()


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """The usual umask (022): what Path.write_text would create is readable by every user."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_write_private_creates_0600_and_narrows_an_existing_world_readable_file(tmp_path, open_umask):
    fresh = write_private(tmp_path / "new.txt", "key")
    assert mode(fresh) == 0o600 and fresh.read_text() == "key"
    existing = tmp_path / "old.txt"
    existing.write_text("old")
    existing.chmod(0o644)
    write_private(existing, "new key")
    assert mode(existing) == 0o600 and existing.read_text() == "new key"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.txt", "old.txt"]  # no temporary left behind


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = write_private(tmp_path / "cards.html", "old")

    class Exploding(Exception):
        pass

    def explode(handle):
        handle.write("half")
        raise Exploding

    from gateway_ops.private_files import write_private_with

    with pytest.raises(Exploding):
        write_private_with(target, explode)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["cards.html"]


def test_the_check_itself_fails_on_a_world_readable_file(tmp_path, open_umask):
    """The guard the tests below rely on: Path.write_text under umask 022 is not private."""
    plain = tmp_path / "plain.html"
    plain.write_text("key")
    assert not is_private(plain)


def test_attendee_cards_and_keys_are_owner_only(tmp_path, open_umask):
    issued = issue_attendees(["alice", "bob"], tmp_path, secret="event-secret", url="http://127.0.0.1:8787")
    assert issued.cards is not None
    assert mode(issued.path) == 0o600 and mode(issued.cards) == 0o600
    assert "alice" in issued.cards.read_text()


def test_the_keys_command_writes_its_cards_owner_only(tmp_path, monkeypatch, open_umask):
    monkeypatch.setenv("USER_KEY_SECRET", "cli-secret")
    out, cards = tmp_path / "keys.csv", tmp_path / "cards.html"
    cards.write_text("an older sheet")
    cards.chmod(0o644)
    result = runner.invoke(cli.app, ["attendees", "keys", "--count", "2", "--out", str(out), "--cards", str(cards),
                                     "--url", "http://127.0.0.1:8787"])
    assert result.exit_code == 0, result.output
    assert mode(out) == 0o600 and mode(cards) == 0o600


def test_the_env_file_keeps_other_lines_and_stays_owner_only(tmp_path, open_umask):
    from pydantic import SecretStr

    from gateway_ops.cloudflare.secrets import save_to_env_file

    env_file = tmp_path / ".env"
    env_file.write_text("GATEWAY_URL=http://x\nUSER_KEY_SECRET=old\n")
    env_file.chmod(0o644)
    save_to_env_file("USER_KEY_SECRET", SecretStr("new-secret"), env_file)
    assert env_file.read_text() == "GATEWAY_URL=http://x\nUSER_KEY_SECRET=new-secret\n"
    assert mode(env_file) == 0o600
