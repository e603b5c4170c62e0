"""`gateway-ops ci-summary DIR`: every result.json as one markdown table, exit 1 on any failure.

It is the job summary of the pre-event workflow, so a failed, malformed or missing result must
never read as a pass.
"""
from __future__ import annotations

import json

from typer.testing import CliRunner

from gateway_ops import cli
from gateway_ops.ci.summary import html_page, markdown_table, summarize
from gateway_ops.results import Check, write_result

runner = CliRunner()


def write_runs(folder):
    write_result(folder / "04_smoke_test" / "result.json",
                 [Check("health", 200, 200, True), Check("request logged", "1 row", "1 row", True)])
    write_result(folder / "06_rate_limit_check" / "result.json",
                 [Check("accepted per user", 50, 53, False), Check("rejections are 429", "a|b", "a|b", True)])


def table_rows(text: str) -> list[list[str]]:
    """The table's data rows as cells (header and separator left out)."""
    lines = [line for line in text.splitlines() if line.startswith("| ")][1:]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]


def test_every_check_of_every_result_is_one_row_and_a_failure_exits_1(tmp_path):
    write_runs(tmp_path)
    result = runner.invoke(cli.app, ["ci-summary", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "| notebook | check | expected | observed | pass |" in result.output
    rows = table_rows(result.output)
    assert [row[:2] for row in rows] == [["04_smoke_test", "health"], ["04_smoke_test", "request logged"],
                                         ["06_rate_limit_check", "accepted per user"],
                                         ["06_rate_limit_check", "rejections are 429"]]
    assert rows[2][2:] == ["50", "53", "❌ FAIL"]
    assert rows[0][4] == "✅ pass"
    assert r"| a\|b | a\|b |" in result.output, "a | inside a value must not split the table's cells"
    assert "FAILED: 3 of 4 checks passed in 2 result.json file(s)" in result.output


def test_all_passing_exits_0(tmp_path):
    write_result(tmp_path / "run" / "04_smoke_test" / "result.json", [Check("health", 200, 200, True)])
    result = runner.invoke(cli.app, ["ci-summary", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "PASSED: 1 of 1 checks passed" in result.output
    assert table_rows(result.output)[0][0] == "run/04_smoke_test"


def test_a_folder_without_results_fails_and_says_so(tmp_path):
    (tmp_path / "04_smoke_test").mkdir()
    result = runner.invoke(cli.app, ["ci-summary", str(tmp_path)])
    assert result.exit_code == 1
    assert f"no result.json under {tmp_path}, so no check ran" in result.output
    missing = runner.invoke(cli.app, ["ci-summary", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "does not exist, so no check ran" in missing.output


def test_results_that_cannot_be_trusted_are_failures(tmp_path):
    """passed:false with passing checks, no checks at all, broken JSON, a check without passed: all fail."""
    cases = {"overall": {"passed": False, "checks": [{"name": "x", "expected": 1, "observed": 1, "passed": True}]},
             "empty": {"passed": True, "checks": []},
             "shape": {"passed": True},
             "unsure": {"passed": True, "checks": [{"name": "y", "expected": 1, "observed": 1}]}}
    for name, content in cases.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "result.json").write_text(json.dumps(content))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "result.json").write_text("{not json")
    summary = summarize(tmp_path)
    failed = {row.notebook for row in summary.failed}
    assert failed == {"overall", "empty", "shape", "unsure", "broken"}
    assert not summary.passed
    assert runner.invoke(cli.app, ["ci-summary", str(tmp_path)]).exit_code == 1


def test_a_passing_result_with_passed_true_has_no_extra_row(tmp_path):
    write_result(tmp_path / "a" / "result.json", [Check("health", 200, 200, True)])
    assert [row.check for row in summarize(tmp_path).rows] == ["health"]


def test_long_values_are_cut_and_html_is_escaped(tmp_path):
    write_result(tmp_path / "06" / "result.json", [Check("<statuses>", [200] * 200, [200] * 200, True)])
    summary = summarize(tmp_path)
    assert max(len(line) for line in markdown_table(summary).splitlines()) < 500
    page = html_page(summary)
    assert "&lt;statuses&gt;" in page and "<statuses>" not in page
    assert "<script" not in page and "http" not in page
