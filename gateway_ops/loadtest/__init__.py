"""Load tests of the gateway: prove the per-user limit, find the origin's capacity.

    schedule     when each request is due (absolute offsets; pure)
    transports   the HTTP clients behind one interface (aiohttp default, httpx)
    engine       open- and closed-model sending, one Record per request
    records      the records as a DataFrame with derived timings
    stats        HDR-histogram percentiles, vegeta-style report, per-step table
    ratelimit    the rate-limit check (notebook 06, `gateway-ops loadtest ratelimit`)
    knee         a sweep's thresholds and knee (pure)
    capacity     the step sweep, its knee, the recommendation table (notebook 07, `loadtest capacity`)
    plots        plotly figures from the DataFrames (imported on use)
"""
from .capacity import (
    Sweep,
    SweepPlan,
    parse_rates,
    rates_for_attendees,
    recommendation_table,
    recommendations,
    run_sweep,
    write_sweep_result,
)
from .engine import Engine, EngineOptions, RequestTemplate, Run, chat_request, run_closed, run_open
from .errors import LoadTestError
from .knee import Thresholds, find_knee
from .ratelimit import RateLimitPlan, RateLimitRun, run_rate_limit_check, write_rate_limit_result
from .records import Record, records_frame
from .schedule import Arrival, burst_schedule, constant_offsets, open_schedule, spread_schedule, step_schedule, user_ids
from .stats import Report, percentiles, report_text, step_table, summarize

__all__ = [
    "Arrival", "Engine", "EngineOptions", "LoadTestError", "RateLimitPlan", "RateLimitRun", "Record", "Report",
    "RequestTemplate", "Run", "Sweep", "SweepPlan", "Thresholds", "burst_schedule", "chat_request",
    "constant_offsets", "find_knee", "open_schedule", "parse_rates", "percentiles", "rates_for_attendees",
    "recommendation_table", "recommendations", "records_frame", "report_text", "run_closed", "run_open",
    "run_rate_limit_check", "run_sweep", "spread_schedule", "step_schedule", "step_table", "summarize",
    "user_ids", "write_rate_limit_result", "write_sweep_result",
]
