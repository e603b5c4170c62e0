"""User ids, keys and cards: pure functions, checked against the Worker's rules."""
from __future__ import annotations

import csv
import stat

import pytest
from hypothesis import given, strategies as st

from gateway_ops.attendees import (AttendeeError, issue_keys, read_names_csv, render_cards_html, user_ids_for_names,
                                   user_ids_numbered, write_keys_csv)
from gateway_ops.attendees.roster import USER_ID
from gateway_ops.keys import user_key


def test_numbered_ids_are_padded_and_valid():
    assert user_ids_numbered(3) == ["attendee-001", "attendee-002", "attendee-003"]
    assert user_ids_numbered(1200, "ws")[-1] == "ws-1200"
    with pytest.raises(AttendeeError, match="at least 1"):
        user_ids_numbered(0)
    with pytest.raises(AttendeeError, match="not a valid user id"):
        user_ids_numbered(2, "has space")


def test_names_become_unique_valid_ids():
    assert user_ids_for_names(["Zoë Ng", "zoe ng", "ada@example.org", "   ", "李雷"]) == [
        "zoe-ng", "zoe-ng-2", "ada@example.org", "attendee", "attendee-2"]


@given(st.lists(st.text(min_size=0, max_size=120), min_size=1, max_size=30))
def test_any_roster_gives_ids_the_worker_accepts(names):
    ids = user_ids_for_names(names)
    assert len(set(ids)) == len(ids)
    assert all(USER_ID.fullmatch(i) for i in ids)


def test_read_names_csv_uses_the_name_or_email_column(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("email,name\nada@example.org,Ada\nbob@example.org,Bob\n")
    assert read_names_csv(roster) == ["Ada", "Bob"]
    plain = tmp_path / "plain.csv"
    plain.write_text("Ada Lovelace\nGrace Hopper\n")
    assert read_names_csv(plain) == ["Ada Lovelace", "Grace Hopper"]
    with pytest.raises(AttendeeError, match="Cannot read the roster"):
        read_names_csv(tmp_path / "missing.csv")


def test_keys_csv_has_the_design_columns_and_is_private(tmp_path):
    frame = issue_keys(["alice", "bob"], "event-secret")
    path = write_keys_csv(frame, tmp_path / "keys.csv")
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == ["user_id", "user_key"]
    assert rows[0] == {"user_id": "alice", "user_key": user_key("event-secret", "alice")}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_keys_need_the_secret():
    with pytest.raises(AttendeeError, match="USER_KEY_SECRET is not set"):
        issue_keys(["alice"], "")


def test_cards_carry_a_working_snippet_and_escape_names():
    frame = issue_keys(["alice"], "s", names=["<script>alert(1)</script>"])
    page = render_cards_html(frame, "https://gw.example/")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert 'base_url=&quot;https://gw.example/v1&quot;' in page
    assert f"&quot;X-User-Key&quot;: &quot;{frame.user_key[0]}&quot;" in page
