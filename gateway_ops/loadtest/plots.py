"""Plotly figures of load-test results, built from DataFrames (no I/O, no widgets).

Imported lazily by the writers and the notebooks, so the engine runs without plotly loaded.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .knee import Thresholds


def sweep_figure(steps: pd.DataFrame, knee_rps: float | None, thresholds: Thresholds) -> go.Figure:
    """Throughput, latency percentiles (and TTFT for streams) and error rate against offered load,
    with the knee and the thresholds marked."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=("Throughput", "Latency", "Errors"),
                        horizontal_spacing=0.08)
    offered = steps["offered_rps"] if len(steps) else pd.Series(dtype=float)
    fig.add_trace(go.Scatter(x=offered, y=offered, name="offered", mode="lines",
                             line={"dash": "dot", "color": "gray"}), row=1, col=1)
    fig.add_trace(go.Scatter(x=offered, y=steps.get("achieved_rps"), name="achieved", mode="lines+markers"),
                  row=1, col=1)
    for column, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"), ("ttft_p50_ms", "TTFT p50")):
        if column in steps and steps[column].notna().any():
            fig.add_trace(go.Scatter(x=offered, y=steps[column], name=label, mode="lines+markers"), row=1, col=2)
    fig.add_hline(y=thresholds.p95_ms, line={"dash": "dash", "color": "red"}, row=1, col=2,
                  annotation_text=f"p95 limit {thresholds.p95_ms:g} ms")
    fig.add_trace(go.Bar(x=offered, y=steps.get("error_rate"), name="error rate"), row=1, col=3)
    fig.add_hline(y=thresholds.error_rate, line={"dash": "dash", "color": "red"}, row=1, col=3)
    if knee_rps is not None:
        for col in (1, 2, 3):
            fig.add_vline(x=knee_rps, line={"color": "green"}, row=1, col=col)
    title = f"Capacity sweep — knee {knee_rps:g} req/s" if knee_rps is not None else "Capacity sweep — no step held"
    fig.update_layout(title=title, height=380, margin={"t": 70, "b": 40})
    fig.update_xaxes(title_text="offered req/s")
    fig.update_yaxes(title_text="req/s", row=1, col=1)
    fig.update_yaxes(title_text="ms", row=1, col=2)
    fig.update_yaxes(title_text="share", tickformat=".0%", row=1, col=3)
    return fig


def rate_limit_figure(per_user: pd.DataFrame, limit: int) -> go.Figure:
    """Accepted and rejected requests per user, stacked, against the expected limit."""
    fig = go.Figure([
        go.Bar(x=per_user["user_id"], y=per_user["accepted"], name="accepted by the limiter", marker_color="seagreen"),
        go.Bar(x=per_user["user_id"], y=per_user["rejected_429"], name="rejected (429)", marker_color="indianred"),
        go.Bar(x=per_user["user_id"], y=per_user["other"], name="other", marker_color="gray"),
    ])
    fig.add_hline(y=limit, line={"dash": "dash"}, annotation_text=f"limit {limit}/min")
    fig.update_layout(barmode="stack", title="Requests per user in one UTC minute", height=360,
                      xaxis_title="user", yaxis_title="requests")
    return fig


def timeline_figure(frame: pd.DataFrame) -> go.Figure:
    """When each answer came back, by user and outcome (a burst's shape at a glance)."""
    outcome = frame["status"].astype(str).where(frame["status"] > 0, frame["error"])
    fig = go.Figure()
    for label, part in frame.assign(outcome=outcome).groupby("outcome"):
        fig.add_trace(go.Scattergl(x=part["end_s"], y=part["user_id"], mode="markers", name=label,
                                   marker={"size": 5}))
    fig.update_layout(title="Answers over time", xaxis_title="seconds after start", height=320)
    return fig
