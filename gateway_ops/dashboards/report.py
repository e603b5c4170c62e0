"""The event report: one self-contained HTML file (plotly.js inlined, no network) from the access log.

Totals, attendees active, the timeline of interventions (event controls, when the log has the
``control_events`` table), requests and tokens by user, rate-limit hits, the error budget, latency
and requests over time, latency and refusals by origin (the gate and the pool), and the busiest
minutes. ``build_report_html`` is pure (rows in, text
out); ``write_report`` reads the log and writes the file.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, UTC
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from .. import queries
from ..accesslog import AccessLog
from ..exceptions import GatewayOpsError
from ..results import Check
from . import aggregate, figures, tables
from .ranges import EARLIEST, LATEST, read_range, time_range
from .timeline import timeline_html

PAGE_STYLE = """<style>
body {font: 15px/1.5 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222;}
h1 {margin-bottom: 0;} h2 {margin-top: 2em; border-bottom: 1px solid #ddd;}
.cards {display: flex; flex-wrap: wrap; gap: 12px;} .muted {color: #666;}
.card {border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 140px;}
.card b {display: block; font-size: 22px;} .bad {color: #c62828;} .good {color: #2e7d32;}
</style>"""


class ReportError(GatewayOpsError):
    """The report could not be written."""


@dataclass(frozen=True)
class Report:
    path: Path
    rows: int
    summary: dict


def _card(label: str, value: str, tone: str = "") -> str:
    return f'<div class="card"><span class="muted">{html.escape(label)}</span><b class="{tone}">{html.escape(value)}</b></div>'


def _range_text(since: str, until: str) -> str:
    start = "the first request" if since == EARLIEST else since
    end = "the last request" if until == LATEST else until
    return f"{start} → {end}"


def build_report_html(raw_rows: pd.DataFrame, *, since: str = EARLIEST, until: str = LATEST,
                      title: str = "Event report", slo: float = 0.99, generated_at: datetime | None = None,
                      by_origin: pd.DataFrame | str | None = None,
                      control_events: pd.DataFrame | None = None) -> str:
    """The report as one HTML document with plotly.js inlined in its head, so it opens offline.

    :param by_origin: ``queries.origin_breakdown``'s rows, or a sentence saying why there are none
    :param control_events: the ``control_events`` rows for the timeline of interventions (None: the
        log has no such table, so no section)
    """
    rows = aggregate.prepare_rows(raw_rows)
    summary = aggregate.event_summary(rows, slo=slo)
    generated_at = generated_at or datetime.now(UTC)
    index, freq = aggregate.event_index(rows)
    totals = aggregate.user_totals(rows)
    bucket = {"min": "minute", "5min": "5 minutes", "15min": "15 minutes", "h": "hour"}[freq]
    charts = [
        figures.build_requests_figure(aggregate.requests_by_status(rows, index, freq),
                                      f"Requests per {bucket} by status (UTC)"),
        figures.build_latency_figure(aggregate.latency_over_time(rows, index, freq),
                                     f"Latency and time to first byte per {bucket} (ms, UTC)"),
        figures.build_origin_errors_figure(aggregate.origin_errors_over_time(rows, index, freq),
                                           f"Origin errors per {bucket} (UTC)"),
        figures.build_tokens_figure(totals, 25, "Requests and tokens by user (25 busiest)"),
    ]
    rendered = [_figure_html(chart) for chart in charts]
    budget_used = summary["budget_used"]
    budget_tone = "bad" if budget_used > 1 else "good"
    limited = totals[totals["rate_limited"] > 0].sort_values("user_id").sort_values(
        "rate_limited", ascending=False, kind="stable")
    by_user = totals.sort_values("user_id").sort_values("requests", ascending=False, kind="stable")
    busiest = aggregate.busiest_minutes(rows, 10)
    if not busiest.empty:
        busiest["minute"] = busiest["minute"].dt.strftime("%Y-%m-%d %H:%M")
    duration = ""
    if summary["first"] is not None:
        duration = f"{summary['first']:%Y-%m-%d %H:%M:%S} → {summary['last']:%H:%M:%S} UTC"
    body = f"""
<h1>{html.escape(title)}</h1>
<p class="muted">Range: {html.escape(_range_text(since, until))} · requests seen: {html.escape(duration or 'none')} ·
generated {generated_at:%Y-%m-%d %H:%M:%S} UTC</p>
<div class="cards">
{_card("requests", f"{summary['requests']:,}")}
{_card("attendees active", f"{summary['attendees_active']:,}")}
{_card("tokens (estimated)", f"{summary['tokens']:,}")}
{_card("rate-limit hits (429)", f"{summary['rate_limited']:,}")}
{_card("users rate-limited", f"{summary['users_rate_limited']:,}")}
{_card("5xx errors", f"{summary['errors_5xx']:,}", "bad" if summary['errors_5xx'] else "good")}
{_card("origin errors (502/504)", f"{summary['origin_errors']:,}", "bad" if summary['origin_errors'] else "good")}
</div>
{timeline_html(control_events, since, until)}
<h2>Error budget</h2>
<p>Target: {slo:.2%} of requests answered without a 5xx, which allows {summary['errors_allowed']:,.1f} errors in
{summary['requests']:,} requests. Seen: {summary['errors_5xx']:,} ({summary['error_rate']:.3%}) —
<b class="{budget_tone}">{_budget_text(budget_used)}</b>. 429s are the limit doing its job and do not count.</p>
<h2>Requests and tokens by user</h2>
{rendered[3]}
{tables.STYLE}{tables.html_table(by_user, {"user_id": "user", "requests": "requests", "rate_limited": "429s",
                                        "errors": "5xx", "tokens": "tokens", "first_seen": "first seen",
                                        "last_seen": "last seen"}, empty="No requests in this range.")}
<h2>Rate-limit hits</h2>
{tables.html_table(limited, {"user_id": "user", "rate_limited": "429s", "requests": "requests"},
                   empty="No user hit the limit.")}
<h2>Requests over time</h2>
{rendered[0]}
<h2>Latency over time</h2>
{rendered[1]}
{rendered[2]}
<h2>By origin</h2>
{_origin_section(by_origin)}
<h2>Busiest minutes</h2>
{tables.html_table(busiest, {"minute": "minute (UTC)", "requests": "requests", "users": "users",
                             "rate_limited": "429s", "errors": "5xx"}, user_column=None,
                   empty="No requests in this range.")}
"""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"{PAGE_STYLE}{_plotly_js()}</head><body>{body}</body></html>\n")


ORIGIN_HEADERS = {"origin": "origin", "requests": "requests", "ok": "2xx", "origin_busy": "503 origin_busy",
                  "other_5xx": "other 5xx", "p50_ms": "p50 ms", "p95_ms": "p95 ms", "ttfb_p50_ms": "TTFB p50 ms",
                  "ttfb_p95_ms": "TTFB p95 ms", "gate_wait_avg_ms": "gate wait avg ms",
                  "gate_wait_max_ms": "gate wait max ms"}
NO_ORIGIN = "none (refused at the gate, or before)"


def origin_table(by_origin: pd.DataFrame) -> pd.DataFrame:
    """The breakdown as the report shows it: origins by index, "none" for requests that reached none."""
    table = by_origin.copy()
    table["origin"] = [NO_ORIGIN if origin is None or origin != origin else f"origin {origin}"
                       for origin in table["origin"]]
    return table


def _origin_section(by_origin: pd.DataFrame | str | None) -> str:
    if isinstance(by_origin, str):
        return f'<p class="muted">{html.escape(by_origin)}</p>'
    if by_origin is None or by_origin.empty:
        return '<p class="muted">No requests in this range.</p>'
    return ('<p>Latency of the successful answers and refusals per origin (the <code>origin</code> column: the '
            'index in <code>OPENCLAW_URL</code>). A 503 <code>origin_busy</code> waited its whole queue timeout at '
            'the gate and never reached an origin; <code>gate wait</code> is the time queued before being sent.</p>'
            + tables.html_table(origin_table(by_origin), ORIGIN_HEADERS, user_column=None))


def _budget_text(used: float) -> str:
    if used == float("inf"):
        return "budget blown (errors with no budget)"
    return f"{used:.0%} of the budget used" + (" — blown" if used > 1 else "")


def _figure_html(figure: go.Figure) -> str:
    return figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


def _plotly_js() -> str:
    """plotly.js itself, inlined once in <head> (what ``include_plotlyjs=True`` inlines per figure)."""
    from plotly.offline import get_plotlyjs

    return f'<script type="text/javascript">{get_plotlyjs()}</script>'



def write_report(log: AccessLog, out: str | Path, *, since: str | None = None, until: str | None = None,
                 title: str = "Event report", slo: float = 0.99, progress: bool = False) -> Report:
    """Reads ``[since, until)`` from the log and writes the report to ``out``.

    :raises ReportError: when the file cannot be written
    """
    since_iso, until_iso = time_range(since, until)
    upto = queries.id_bounds(log)[1]
    raw = read_range(log, since_iso, until_iso, upto_id=upto, progress=progress)
    try:
        by_origin: pd.DataFrame | str = queries.origin_breakdown(log, since_iso, until_iso, upto)
    except GatewayOpsError as error:  # a log without migration 0003's columns
        by_origin = f"No breakdown by origin: {error} (apply the migrations: gateway-ops bootstrap)."
    document = build_report_html(raw, since=since_iso, until=until_iso, title=title, slo=slo, by_origin=by_origin,
                                 control_events=queries.control_events(log))
    path = Path(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document, encoding="utf-8")
    except OSError as error:
        raise ReportError(f"Cannot write the report to {path}: {error.strerror or error}.") from None
    summary = aggregate.event_summary(aggregate.prepare_rows(raw), slo=slo)
    return Report(path=path, rows=len(raw), summary=summary)


_EXTERNAL = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE)


def external_references(document: str) -> list[str]:
    """Tags in ``document`` that would load something from the network (none in a self-contained report)."""
    return [match.group(0) for match in _EXTERNAL.finditer(document)]


def event_checks(report: Report, archive=None, deleted: int | None = None) -> list[Check]:
    """What notebook 09 proves: the report stands alone, the archive is complete, deletions happened."""
    document = report.path.read_text(encoding="utf-8") if report.path.exists() else ""
    external = external_references(document)
    checks = [
        Check("report written", "an HTML file with plotly inlined",
              f"{report.path.name}, {len(document) / 2**20:.1f} MB, {report.rows:,} requests" if document else "missing",
              bool(document) and "Plotly.newPlot" in document),
        Check("report opens offline", "no external scripts, styles or images",
              f"{len(external)} external reference(s)" + (f": {external[0][:80]}" if external else ""), not external),
    ]
    if archive is not None:
        from .archive import ArchiveError, verify_archive

        try:
            observed, passed = f"{verify_archive(archive):,} rows in Parquet and CSV", True
        except ArchiveError as error:
            observed, passed = str(error), False
        checks.append(Check("archive complete", f"{archive.rows:,} rows, ids {archive.min_id}–{archive.max_id}",
                            observed, passed))
    if deleted is not None and archive is not None:
        checks.append(Check("archived rows deleted", f"{archive.rows:,} rows", f"{deleted:,} rows",
                            deleted == archive.rows))
    return checks
