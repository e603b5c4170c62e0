"""Plotly figures from aggregate frames: ``build_*_figure(frame) -> go.Figure``.

Each figure has a fixed set of traces whatever the data (empty traces included), so the live
dashboard can copy new x/y values into the same traces of a ``FigureWidget`` instead of
rebuilding it, and the report can draw the very same figures.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .aggregate import STATUS_CLASSES

STATUS_COLORS = {"2xx": "#2e7d32", "429": "#f9a825", "4xx": "#8e24aa", "5xx": "#c62828", "other": "#757575"}
STATUS_NAMES = {"2xx": "2xx ok", "429": "429 rate-limited", "4xx": "4xx other", "5xx": "5xx error", "other": "other"}
HEIGHT = 300
MARGIN = dict(l=50, r=20, t=45, b=40)


def _layout(title: str, **extra) -> dict:
    layout = dict(title=dict(text=title, x=0.01, font=dict(size=15)), height=HEIGHT, margin=MARGIN,
                  template="plotly_white", legend=dict(orientation="h", y=-0.18, traceorder="normal"))
    return {**layout, **extra}


def _values(series: pd.Series) -> list:
    """Plain lists (NaN → None) so figures serialise the same in a widget, a page and a report."""
    return [None if isinstance(v, float) and np.isnan(v) else v for v in series.tolist()]


def _times(index: pd.Index) -> list[str]:
    return [stamp.strftime("%Y-%m-%d %H:%M:%S") for stamp in index]


# -- trace data: plain x/y per trace, in the figure's fixed trace order (cheap: no plotly objects) ------
def requests_traces(per_minute: pd.DataFrame) -> list[dict]:
    """One stacked-bar trace per status class (``aggregate.requests_per_minute``)."""
    x = _times(per_minute.index)
    return [{"x": x, "y": _values(per_minute[name]) if name in per_minute else [0] * len(x)}
            for name in STATUS_CLASSES]


LATENCY_STYLES = {"latency_p50": ("latency p50", "#1565c0", "solid"), "latency_p95": ("latency p95", "#1565c0", "dot"),
                  "ttfb_p50": ("TTFB p50", "#ef6c00", "solid"), "ttfb_p95": ("TTFB p95", "#ef6c00", "dot")}


def latency_traces(latency: pd.DataFrame) -> list[dict]:
    """p50/p95 latency and TTFB per minute (``aggregate.latency_over_time``); None where no traffic."""
    x = _times(latency.index)
    return [{"x": x, "y": _values(latency[column])} for column in LATENCY_STYLES]


def origin_errors_traces(errors: pd.DataFrame) -> list[dict]:
    """502 (origin unreachable) and 504 (origin timed out) per minute (``aggregate.origin_errors_over_time``)."""
    x = _times(errors.index)
    return [{"x": x, "y": _values(errors["502"])}, {"x": x, "y": _values(errors["504"])}]


def top_users_traces(top: pd.DataFrame) -> list[dict]:
    """Admitted requests and 429s per user, busiest on top (``aggregate.top_users``)."""
    ordered = top.iloc[::-1]
    users = ordered["user_id"].tolist()
    return [{"y": users, "x": _values(ordered["admitted"])}, {"y": users, "x": _values(ordered["rate_limited"])}]


# -- figures ----------------------------------------------------------------------------------------
def build_requests_figure(per_minute: pd.DataFrame, title: str = "Requests per minute by status (UTC)") -> go.Figure:
    """Stacked bars: one trace per status class (``aggregate.requests_per_minute``)."""
    figure = go.Figure(layout=_layout(title, barmode="stack", yaxis_title="requests"))
    for name, data in zip(STATUS_CLASSES, requests_traces(per_minute), strict=True):
        figure.add_bar(**data, name=STATUS_NAMES[name], marker_color=STATUS_COLORS[name])
    return figure


def build_latency_figure(latency: pd.DataFrame, title: str = "Latency and time to first byte (ms, UTC)") -> go.Figure:
    """p50/p95 latency and TTFB per minute (``aggregate.latency_over_time``); gaps where no traffic."""
    figure = go.Figure(layout=_layout(title, yaxis_title="ms"))
    for (name, color, dash), data in zip(LATENCY_STYLES.values(), latency_traces(latency), strict=True):
        figure.add_scatter(**data, name=name, mode="lines+markers", line=dict(color=color, dash=dash),
                           marker=dict(size=4), connectgaps=False)
    return figure


def build_origin_errors_figure(errors: pd.DataFrame, title: str = "Origin errors per minute (UTC)") -> go.Figure:
    """502 (origin unreachable) and 504 (origin timed out) per minute (``aggregate.origin_errors_over_time``)."""
    figure = go.Figure(layout=_layout(title, barmode="stack", yaxis_title="responses"))
    unreachable, timed_out = origin_errors_traces(errors)
    figure.add_bar(**unreachable, name="502 unreachable", marker_color="#c62828")
    figure.add_bar(**timed_out, name="504 timed out", marker_color="#6d4c41")
    return figure


def build_top_users_figure(top: pd.DataFrame, title: str = "Top users") -> go.Figure:
    """Horizontal bars, busiest on top: admitted requests and 429s per user (``aggregate.top_users``)."""
    admitted, limited = top_users_traces(top)
    figure = go.Figure(layout=_layout(title, barmode="stack", xaxis_title="requests",
                                      height=max(HEIGHT, 60 + 22 * len(top)), yaxis=dict(automargin=True)))
    figure.add_bar(**admitted, orientation="h", name="admitted", marker_color=STATUS_COLORS["2xx"])
    figure.add_bar(**limited, orientation="h", name="429 rate-limited", marker_color=STATUS_COLORS["429"])
    return figure


def build_tokens_figure(totals: pd.DataFrame, n: int = 20, title: str = "Requests and tokens by user") -> go.Figure:
    """The report's per-user bars: requests and estimated tokens of the ``n`` busiest users."""
    top = totals.sort_values("user_id").sort_values("requests", ascending=False, kind="stable").head(n).iloc[::-1]
    figure = go.Figure(layout=_layout(title, barmode="group", height=max(HEIGHT, 60 + 26 * len(top)),
                                      xaxis=dict(title="requests"), xaxis2=dict(title="tokens", overlaying="x",
                                                                                side="top", showgrid=False),
                                      yaxis=dict(automargin=True), margin=dict(MARGIN, t=90)))
    figure.add_bar(y=top["user_id"].tolist(), x=_values(top["requests"]), orientation="h", name="requests",
                   marker_color="#1565c0", offsetgroup=0)
    figure.add_bar(y=top["user_id"].tolist(), x=_values(top["tokens"]), orientation="h", name="tokens",
                   marker_color="#90a4ae", xaxis="x2", offsetgroup=1)
    return figure


#: The live page's panels, in trace order, with their place in the one combined figure.
PANELS = (("requests", 1, 1), ("latency", 2, 1), ("origin_errors", 2, 2), ("top_users", 3, 1))
PANEL_BUILDERS = {"requests": build_requests_figure, "latency": build_latency_figure,
                  "origin_errors": build_origin_errors_figure, "top_users": build_top_users_figure}
PANEL_TRACES = {"requests": requests_traces, "latency": latency_traces, "origin_errors": origin_errors_traces,
                "top_users": top_users_traces}


def dashboard_trace_data(frames: dict[str, pd.DataFrame]) -> list[dict]:
    """The x/y of every trace of ``build_dashboard_figure(frames)``, in its order (for in-place updates)."""
    return [data for name, _, _ in PANELS for data in PANEL_TRACES[name](frames[name])]


def build_dashboard_figure(frames: dict[str, pd.DataFrame], titles: dict[str, str] | None = None) -> go.Figure:
    """All four live panels as subplots of ONE figure (one widget on the page).

    A page with several plotly ``FigureWidget``s updates only the first: each one imports plotly's
    5 MB widget bundle again, and anywidget drops every later message for a model that took more
    than 2 s to initialise. One figure means one import.

    Each trace's ``meta`` names its panel, so a test can read a panel's data from the page.
    """
    from plotly.subplots import make_subplots

    titles = titles or {}
    panels = {name: PANEL_BUILDERS[name](frames[name], **({"title": titles[name]} if name in titles else {}))
              for name, _, _ in PANELS}
    figure = make_subplots(rows=3, cols=2, specs=[[{"colspan": 2}, None], [{}, {}], [{"colspan": 2}, None]],
                           subplot_titles=[panels[name].layout.title.text for name, _, _ in PANELS],
                           vertical_spacing=0.12, horizontal_spacing=0.08, row_heights=[0.34, 0.33, 0.33])
    for number, (name, row, col) in enumerate(PANELS, start=1):
        legend = "legend" if number == 1 else f"legend{number}"
        for trace in panels[name].data:
            trace.update(meta=name, legend=legend)
            figure.add_trace(trace, row=row, col=col)
    figure.update_layout(height=1050, margin=dict(l=60, r=20, t=70, b=40), template="plotly_white",
                         barmode="stack", **_legends(figure))
    figure.update_yaxes(title_text="requests", rangemode="nonnegative", row=1, col=1)
    figure.update_yaxes(title_text="ms", rangemode="nonnegative", row=2, col=1)
    figure.update_yaxes(rangemode="nonnegative", row=2, col=2)
    figure.update_yaxes(automargin=True, row=3, col=1)
    for annotation, (x_axis, y_axis) in zip(figure.layout.annotations, AXES, strict=False):
        annotation.update(x=figure.layout[x_axis].domain[0], xanchor="left", y=figure.layout[y_axis].domain[1] + 0.035,
                          yanchor="bottom", font=dict(size=14))
    return figure


AXES = (("xaxis", "yaxis"), ("xaxis2", "yaxis2"), ("xaxis3", "yaxis3"), ("xaxis4", "yaxis4"))


def _legends(figure: go.Figure) -> dict:
    """One horizontal legend per panel, between its title and its plot."""
    legends = {}
    for number, (x_axis, y_axis) in enumerate(AXES, start=1):
        key = "legend" if number == 1 else f"legend{number}"
        legends[key] = dict(orientation="h", x=figure.layout[x_axis].domain[0], xanchor="left",
                            y=figure.layout[y_axis].domain[1] + 0.004, yanchor="bottom", font=dict(size=11),
                            traceorder="normal")
    return legends
