"""Every ``result.json`` under a folder as one table: markdown for a CI job summary, HTML for an artifact.

A result that cannot be trusted counts as a failure and gets a row saying why: unreadable JSON, a
missing ``checks`` list, or ``"passed": false`` with no failing check behind it. A folder without
any result.json fails too: a check that ran nothing proved nothing.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COLUMNS = ("notebook", "check", "expected", "observed", "pass")
#: Longest cell text; observed values can be long lists (e.g. one status per request).
MAX_CELL = 160


@dataclass(frozen=True)
class SummaryRow:
    notebook: str
    check: str
    expected: Any
    observed: Any
    passed: bool


@dataclass(frozen=True)
class Summary:
    """The rows of every result.json found, and how many files there were."""

    folder: Path
    rows: list[SummaryRow]
    results: int

    @property
    def passed(self) -> bool:
        return self.results > 0 and all(row.passed for row in self.rows)

    @property
    def failed(self) -> list[SummaryRow]:
        return [row for row in self.rows if not row.passed]


def _notebook_name(path: Path, folder: Path) -> str:
    """The folder holding result.json, relative to the summarised folder (``04_smoke_test``)."""
    relative = path.parent.relative_to(folder)
    return relative.as_posix() if relative.parts else folder.name


def rows_for(result: Any, notebook: str) -> list[SummaryRow]:
    """One row per check; an extra failing row when the result says it failed or is malformed."""
    if not isinstance(result, dict) or not isinstance(result.get("checks"), list):
        return [SummaryRow(notebook, "result.json", 'an object with "passed" and "checks"',
                           "malformed", False)]
    rows = []
    for check in result["checks"]:
        if not isinstance(check, dict):
            rows.append(SummaryRow(notebook, "(malformed check)", "an object", check, False))
            continue
        rows.append(SummaryRow(notebook, str(check.get("name", "(unnamed)")), check.get("expected"),
                               check.get("observed"), check.get("passed") is True))
    if not rows:
        rows.append(SummaryRow(notebook, "(no checks)", "at least one check", "none", False))
    elif result.get("passed") is not True and all(row.passed for row in rows):
        rows.append(SummaryRow(notebook, "(overall)", "passed: true", f"passed: {result.get('passed')}", False))
    return rows


def summarize(folder: str | Path) -> Summary:
    """Reads every ``result.json`` under ``folder`` (recursively, in path order)."""
    folder = Path(folder)
    paths = sorted(folder.rglob("result.json")) if folder.is_dir() else []
    rows: list[SummaryRow] = []
    for path in paths:
        notebook = _notebook_name(path, folder)
        try:
            result = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            rows.append(SummaryRow(notebook, "result.json", "readable JSON", f"unreadable: {error}", False))
            continue
        rows.extend(rows_for(result, notebook))
    return Summary(folder=folder, rows=rows, results=len(paths))


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _row_cells(row: SummaryRow) -> list[str]:
    return [row.notebook, row.check, _cell(row.expected), _cell(row.observed), "✅ pass" if row.passed else "❌ FAIL"]


def headline(summary: Summary) -> str:
    """One sentence: how many checks passed, or why there is nothing to show."""
    if not summary.folder.is_dir():
        return f"FAILED: {summary.folder} does not exist, so no check ran."
    if summary.results == 0:
        return f"FAILED: no result.json under {summary.folder}, so no check ran."
    failed = len(summary.failed)
    state = "PASSED" if summary.passed else "FAILED"
    return (f"{state}: {len(summary.rows) - failed} of {len(summary.rows)} checks passed "
            f"in {summary.results} result.json file(s) under {summary.folder}.")


def markdown_table(summary: Summary) -> str:
    """The headline, then one markdown table row per check (``|`` escaped, long values cut)."""
    lines = [f"**{headline(summary)}**", ""]
    if summary.rows:
        lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in _row_cells(row)) + " |"
                  for row in summary.rows]
    return "\n".join(lines) + "\n"


def html_page(summary: Summary, title: str = "Pre-event check") -> str:
    """A self-contained HTML page of the same table (no scripts, no external files)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join(
        f'<tr class="{"pass" if row.passed else "fail"}">'
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in _row_cells(row)) + "</tr>"
        for row in summary.rows)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
            "body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
            "tr.fail{background:#fde2e2}tr.pass{background:#e6f4ea}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p><strong>{html.escape(headline(summary))}</strong></p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>\n")
