"""Statistics of a load test, computed from the records DataFrame (never inside the engine).

Latency percentiles come from an HDR histogram (``hdrhistogram``: microsecond values, 3
significant digits, so p99 of 10,000 samples costs no sort and is exact to 0.1 %). The report
follows vegeta's: achieved vs target rate, throughput of successes, p50/p90/p95/p99/max, success
ratio, status codes with 429 apart from 5xx, an error set by type, plus send lag and, for
streams, time to first token and time per output token.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from hdrh.histogram import HdrHistogram

from .records import DROPPED

PERCENTILES = (50, 90, 95, 99)
_HIGHEST_US = 3_600 * 1_000_000  # one hour


def histogram(values_ms: Iterable[float]) -> HdrHistogram:
    """An HDR histogram of the finite, non-negative values (milliseconds, stored in µs)."""
    hist = HdrHistogram(1, _HIGHEST_US, 3)
    for value in values_ms:
        if value == value and value >= 0:  # skips NaN
            hist.record_value(min(max(1, round(value * 1000)), _HIGHEST_US))
    return hist


def percentiles(values_ms: Iterable[float], points: Sequence[float] = PERCENTILES) -> dict[str, float]:
    """``{"p50": ms, …, "max": ms}``; NaN for every point when there is no value."""
    hist = histogram(values_ms)
    if hist.get_total_count() == 0:
        return {**{f"p{p:g}": math.nan for p in points}, "max": math.nan}
    result = {f"p{p:g}": hist.get_value_at_percentile(p) / 1000 for p in points}
    result["max"] = hist.get_max_value() / 1000
    return result


@dataclass(frozen=True)
class Report:
    """A vegeta-style summary of one run (or one step of a sweep). Times in milliseconds."""

    requests: int
    duration_s: float
    target_rps: float | None
    rate_rps: float
    throughput_rps: float
    success_ratio: float
    latency_ms: dict[str, float]
    service_ms: dict[str, float]
    send_lag_ms: dict[str, float]
    ttft_ms: dict[str, float]
    tpot_ms: dict[str, float]
    status_codes: dict[str, int]
    rate_limited: int
    server_errors: int
    errors: dict[str, int]
    dropped: int
    output_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(frame: pd.DataFrame, target_rps: float | None = None) -> Report:
    """The report of the requests in ``frame`` (a :func:`records_frame`).

    ``rate_rps`` is how fast requests were sent (first to last intended send, as vegeta's rate);
    ``throughput_rps`` is successes per second from the first intended send to the last answer.
    """
    total = len(frame)
    if total == 0:
        empty = percentiles([])
        return Report(0, 0.0, target_rps, 0.0, 0.0, 0.0, empty, empty, empty, empty, empty, {}, 0, 0, {}, 0)
    sent = frame[frame["error"] != DROPPED]
    first, last_send = frame["scheduled_s"].min(), sent["start_s"].max() if len(sent) else math.nan
    last_end = frame["end_s"].max()
    span = (last_send - first) if len(sent) > 1 else math.nan
    duration = (last_end - first) if last_end == last_end else 0.0
    successes = int(frame["ok"].sum())
    statuses = frame.loc[frame["status"] > 0, "status"].value_counts().sort_index()
    errors = frame.loc[frame["error"] != "", "error"].value_counts()
    ok = frame[frame["ok"]]
    return Report(
        requests=total,
        duration_s=float(duration),
        target_rps=target_rps,
        rate_rps=float((len(sent) - 1) / span) if span and span > 0 else math.nan,
        throughput_rps=float(successes / duration) if duration > 0 else math.nan,
        success_ratio=successes / total,
        latency_ms=percentiles(sent["latency_ms"]),
        service_ms=percentiles(sent["service_ms"]),
        send_lag_ms=percentiles(sent["send_lag_ms"]),
        ttft_ms=percentiles(ok["ttft_ms"]),
        tpot_ms=percentiles(ok["tpot_ms"]),
        status_codes={str(code): int(n) for code, n in statuses.items()},
        rate_limited=int(frame["rate_limited"].sum()),
        server_errors=int(frame["server_error"].sum()),
        errors={str(kind): int(n) for kind, n in errors.items()},
        dropped=int((frame["error"] == DROPPED).sum()),
        output_tokens=int(ok["output_tokens"].sum()),
    )


def _ms(value: float) -> str:
    return "—" if value != value else f"{value:.1f}ms"


def report_text(report: Report) -> str:
    """The report as vegeta prints it (a few aligned lines)."""
    lat, lag = report.latency_ms, report.send_lag_ms
    target = f" (target {report.target_rps:g}/s)" if report.target_rps else ""
    codes = "  ".join(f"{code}:{n}" for code, n in report.status_codes.items()) or "none"
    lines = [
        f"Requests      [total, rate, throughput]   {report.requests}, {report.rate_rps:.2f}/s{target}, "
        f"{report.throughput_rps:.2f}/s",
        f"Duration      [total]                     {report.duration_s:.3f}s",
        "Latencies     [p50, p90, p95, p99, max]   " + ", ".join(_ms(lat[k]) for k in ("p50", "p90", "p95", "p99", "max")),
        f"Send lag      [p50, p99, max]             {_ms(lag['p50'])}, {_ms(lag['p99'])}, {_ms(lag['max'])}",
        f"Success       [ratio]                     {report.success_ratio:.2%}",
        f"Status Codes  [code:count]                {codes}   (429 rate-limited: {report.rate_limited}, "
        f"5xx: {report.server_errors})",
    ]
    if report.ttft_ms["p50"] == report.ttft_ms["p50"]:
        lines.append(f"Streams       [TTFT p50, p95, TPOT p50]   {_ms(report.ttft_ms['p50'])}, "
                     f"{_ms(report.ttft_ms['p95'])}, {_ms(report.tpot_ms['p50'])}")
    errors = ", ".join(f"{kind}: {n}" for kind, n in report.errors.items())
    lines.append(f"Error Set                                 {errors or 'none'}"
                 + (f" (dropped starts: {report.dropped})" if report.dropped else ""))
    return "\n".join(lines)


def achieved_rps(part: pd.DataFrame, offered_rps: float) -> float:
    """Successes per second over the span in which the answers came back (first to last answer,
    plus one arrival interval): equal to the offered rate when every request succeeds at a steady
    latency, lower when a backlog stretches the answers out. Unlike successes / (duration + wait),
    it does not penalise a short step for its constant latency."""
    ends = part["end_s"].dropna()
    if ends.empty:
        return 0.0
    span = ends.max() - ends.min() + 1 / offered_rps
    return float(part["ok"].sum() / span)


def step_table(frame: pd.DataFrame, offered: Sequence[float], step_s: float) -> pd.DataFrame:
    """One row per step of a sweep (``step`` column = index into ``offered``): the step fields every
    sweep's result.json carries (offered_rps, achieved_rps, p50_ms, p95_ms, p99_ms, error_rate) and more.

    ``achieved_rps`` is :func:`achieved_rps`; ``error_rate`` counts every request that did not
    succeed (429, 5xx, transport errors, dropped starts).
    """
    rows = []
    for step, rate in enumerate(offered):
        part = frame[frame["step"] == step]
        if part.empty:
            continue
        report = summarize(part, rate)
        rows.append({
            "offered_rps": float(rate),
            "achieved_rps": round(achieved_rps(part, rate), 3),
            "p50_ms": report.latency_ms["p50"],
            "p95_ms": report.latency_ms["p95"],
            "p99_ms": report.latency_ms["p99"],
            "error_rate": round(1 - report.success_ratio, 6),
            "requests": report.requests,
            "rate_limited": report.rate_limited,
            "server_errors": report.server_errors,
            "failed": sum(report.errors.values()) - report.dropped,
            "dropped": report.dropped,
            "send_lag_p99_ms": report.send_lag_ms["p99"],
            "ttft_p50_ms": report.ttft_ms["p50"],
            "ttft_p95_ms": report.ttft_ms["p95"],
            "tpot_p50_ms": report.tpot_ms["p50"],
            "duration_s": step_s,
        })
    return pd.DataFrame(rows)


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None, recursively (result.json is strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value
