"""How many attendees can the origin serve? An open-model step sweep, its knee, and what it means.

The sweep offers constant arrival rates in steps (each step a fresh open-model run, drained
before the next, so a backlog in one step does not distort the next). Each step spreads its
requests over enough distinct user ids that the per-user limit never answers: the sweep measures
the origin, not the limiter. The **knee** is the highest offered rate that still met the latency
and error thresholds, taken before the first step that failed them (a noisy pass above a failure
does not count). Because the gateway admits at most ``limit`` requests per attendee per minute,
``attendees × limit / 60`` is the most load it can ever pass on: comparing that with the knee
gives the recommendation table, attendees × per-user limit.

Pure parts (:func:`recommendations`, :func:`sweep_checks`, and the thresholds and knee in
``knee``) are separate from :func:`run_sweep`, which sends, and :func:`write_sweep_result`, which
writes (and is the only part that loads ``plots``).
"""
from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..attendees.oauth import TokenLoan, lending
from ..client import Credentials
from ..results import Check, write_result
from .concurrency import ConcurrencyAdvice, recommend_concurrency, unloaded_latency_ms
from .engine import EngineOptions, Run, chat_request, run_open
from .errors import LoadTestError
from .knee import Thresholds, find_knee, step_passes
from .preflight import check_gateway, model_for_run
from .records import records_frame
from .served import any_server_error, origin_served_check
from .schedule import constant_offsets, open_schedule, user_ids, users_needed
from .stats import jsonable, step_table, summarize

DEFAULT_LIMITS = (10, 20, 30, 50)
DEFAULT_ATTENDEES = (25, 50, 100, 150)


def rates_for_attendees(attendees: Sequence[int], per_user_rpm: float) -> list[float]:
    """Offered rates (req/s) for attendee counts each sending ``per_user_rpm`` requests/minute."""
    if not per_user_rpm > 0:
        raise LoadTestError(f"The per-user rate must be positive requests/minute, got {per_user_rpm}.")
    return [round(n * per_user_rpm / 60, 3) for n in attendees]


def parse_rates(text: str) -> list[float]:
    """``"2,4,8"`` → ``[2.0, 4.0, 8.0]``.

    :raises LoadTestError: for anything but a comma-separated list of positive numbers
    """
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise LoadTestError(f"Rates must be comma-separated numbers of requests/s, e.g. 2,4,8 — got {text!r}.") from None
    if not rates or any(not (r > 0 and math.isfinite(r)) for r in rates):
        raise LoadTestError(f"Rates must be positive numbers of requests/s, e.g. 2,4,8 — got {text!r}.")
    return rates


@dataclass(frozen=True)
class SweepPlan:
    """What to offer and how to judge it."""

    rates: tuple[float, ...] = (5.0, 10.0)
    step_s: float = 2.0
    stream: bool = False
    prompt_tokens: int = 16
    max_tokens: int | None = None
    #: the model every request asks for (None: the first one the origin lists at /v1/models)
    model: str | None = None
    #: requests per user id in a step; under the gateway's per-user limit so it never answers 429
    per_user_budget: int = 40
    thresholds: Thresholds = field(default_factory=Thresholds)
    #: stop the sweep after this many failing steps (None: run every step)
    stop_after_failures: int | None = 2
    #: the engine's own lateness above which the measurement is not trusted
    max_send_lag_ms: float = 100.0
    max_in_flight: int = 1000
    timeout_s: float = 60.0
    transport: str = "aiohttp"

    def __post_init__(self) -> None:
        if not self.rates:
            raise LoadTestError("The sweep needs at least one rate.")
        if any(not (r > 0 and math.isfinite(r)) for r in self.rates):
            raise LoadTestError(f"Rates must be positive requests/s, got {list(self.rates)}.")
        if list(self.rates) != sorted(self.rates):
            raise LoadTestError(f"Rates must be in increasing order, got {list(self.rates)}.")
        if not self.step_s > 0:
            raise LoadTestError(f"The step duration must be positive seconds, got {self.step_s}.")
        if any(r * self.step_s < 1 for r in self.rates):
            raise LoadTestError(f"Each step must send at least one request: {self.step_s} s × the lowest rate is under 1.")


def max_attendees(knee_rps: float, per_user_limit: int) -> int:
    """Attendees the origin holds even if every one of them sends at the per-user limit."""
    return math.floor(knee_rps * 60 / per_user_limit + 1e-9)


def recommendations(knee_rps: float | None, limits: Sequence[int] = DEFAULT_LIMITS,
                    attendees: Sequence[int] = DEFAULT_ATTENDEES) -> pd.DataFrame:
    """One row per (per-user limit, attendee count): the peak load the gateway can pass on
    (everyone at the limit), that load as a share of the knee, and whether the origin holds it."""
    rows = []
    for limit in limits:
        for count in attendees:
            peak = count * limit / 60
            share = peak / knee_rps if knee_rps else math.inf
            rows.append({"per_user_limit": limit, "attendees": count, "peak_rps": round(peak, 2),
                         "share_of_knee": round(share, 3), "holds": bool(knee_rps) and share <= 1.0})
    return pd.DataFrame(rows)


def recommendation_table(knee_rps: float | None, limits: Sequence[int] = DEFAULT_LIMITS,
                         attendees: Sequence[int] = DEFAULT_ATTENDEES) -> pd.DataFrame:
    """The table a facilitator reads: rows per-user limit, columns attendee counts, each cell the
    peak load and ✓/✗, plus the most attendees that limit allows."""
    long = recommendations(knee_rps, limits, attendees)
    cells = long.assign(cell=[f"{'✓' if ok else '✗'} {rps:g} req/s" for ok, rps in zip(long["holds"], long["peak_rps"], strict=True)])
    table = cells.pivot(index="per_user_limit", columns="attendees", values="cell")
    table.columns = [f"{n} attendees" for n in table.columns]
    table.insert(0, "max attendees", [max_attendees(knee_rps, limit) if knee_rps else 0 for limit in table.index])
    table.index.name = "per-user limit (req/min)"
    return table


def sweep_checks(steps: pd.DataFrame, knee: float | None, plan: SweepPlan, frame: pd.DataFrame | None = None
                 ) -> list[Check]:
    """Whether the sweep found a capacity, whether the origin served it at all (``frame``: its
    records — a refused key or an unknown model is not a capacity), and whether its measurement
    can be trusted."""
    t = plan.thresholds
    lowest = plan.rates[0]
    checks = [Check(
        "capacity found (knee)",
        f"p95 ≤ {t.p95_ms:g} ms and errors ≤ {t.error_rate:.1%} at {lowest:g} req/s or more",
        "none: even the lowest rate failed" if knee is None else f"{knee:g} req/s",
        knee is not None,
    )]
    if frame is not None:
        checks.append(origin_served_check(frame[frame["status"] != 429], name="the origin served the sweep's requests",
                                          model=plan.model, tolerated=any_server_error))
    limited = int(steps["rate_limited"].sum()) if len(steps) else 0
    checks.append(Check("per-user limit stayed out of the way", "0 responses 429", f"{limited} responses 429",
                        limited == 0))
    lag = float(steps["send_lag_p99_ms"].max()) if len(steps) else math.nan
    checks.append(Check("engine kept its schedule", f"send lag p99 ≤ {plan.max_send_lag_ms:g} ms",
                        f"{lag:.1f} ms", lag == lag and lag <= plan.max_send_lag_ms))
    return checks


@dataclass
class Sweep:
    """Everything one sweep produced."""

    plan: SweepPlan
    runs: list[Run]
    frame: pd.DataFrame
    steps: pd.DataFrame
    knee_rps: float | None
    checks: list[Check]

    def concurrency_advice(self) -> ConcurrencyAdvice:
        """The ``ORIGIN_MAX_CONCURRENCY`` this sweep recommends for the measured origin (``concurrency``)."""
        return recommend_concurrency(self.knee_rps, unloaded_latency_ms(self.steps))

    def step_records(self) -> list[dict[str, Any]]:
        """``steps`` as JSON-ready dicts (NaN → None)."""
        return jsonable(self.steps.to_dict("records"))


def run_sweep(url: str, plan: SweepPlan, *, key_secret: str | None = None, api_key: str | None = None,
              loan: TokenLoan | None = None, progress: bool = True, run_id: str | None = None) -> Sweep:
    """Runs the steps in order through the gateway at ``url`` and judges them.

    Every request carries ``api_key`` (GATEWAY_CLIENT_API_KEY) and ``plan.model`` (default: the
    first model the origin lists). In codex mode ``loan`` lends every step's users a token
    (``oauth:{user}``) for the sweep and removes it afterwards, also on failure.

    :raises LoadTestError: when the gateway does not answer /health, or no model can be found
    """
    check_gateway(url)
    run_id = run_id or uuid.uuid4().hex[:8]
    step_users = [user_ids(f"cap-{run_id}-s{step}", users_needed(len(constant_offsets(rate, plan.step_s)),
                                                                 plan.per_user_budget))
                  for step, rate in enumerate(plan.rates)]
    asker = f"cap-{run_id}-models"
    with lending(loan, [asker, *(user for users in step_users for user in users)]):
        model = model_for_run(url, plan.model, Credentials(key_secret, api_key).headers(asker))
        return _sweep(url, replace(plan, model=model), step_users, key_secret=key_secret, api_key=api_key,
                      progress=progress)


def _sweep(url: str, plan: SweepPlan, step_users: list[list[str]], *, key_secret: str | None, api_key: str | None,
           progress: bool) -> Sweep:
    assert plan.model, "the sweep chooses the model before its steps"
    request = chat_request(model=plan.model, prompt_tokens=plan.prompt_tokens, max_tokens=plan.max_tokens,
                           stream=plan.stream)
    runs: list[Run] = []
    frames: list[pd.DataFrame] = []
    failures = 0
    for step, rate in enumerate(plan.rates):
        offsets = constant_offsets(rate, plan.step_s)
        options = EngineOptions(transport=plan.transport, max_in_flight=plan.max_in_flight, timeout_s=plan.timeout_s,
                                key_secret=key_secret, api_key=api_key, progress=progress,
                                description=f"{rate:g} req/s")
        run = run_open(url, open_schedule(offsets, step_users[step], step=step), request, options)
        runs.append(run)
        frames.append(records_frame(run.records, run.wall_t0))
        summary = step_table(frames[-1], plan.rates, plan.step_s)
        if not step_passes(summary.iloc[0].to_dict(), plan.thresholds):
            failures += 1
            if plan.stop_after_failures is not None and failures >= plan.stop_after_failures:
                break
    frame = pd.concat(frames, ignore_index=True)
    steps = step_table(frame, plan.rates, plan.step_s)
    knee = find_knee(steps.to_dict("records"), plan.thresholds)
    return Sweep(plan, runs, frame, steps, knee, sweep_checks(steps, knee, plan, frame))


def write_sweep_result(sweep: Sweep, out_dir: str | Path, *, limits: Sequence[int] = DEFAULT_LIMITS,
                       attendees: Sequence[int] = DEFAULT_ATTENDEES, url: str = "") -> dict[str, Any]:
    """``result.json`` (checks, steps, knee_rps, recommendations, origin_concurrency, plan), ``requests.csv`` and the
    plot as HTML into ``out_dir``; returns what result.json holds."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sweep.frame.to_csv(out / "requests.csv", index=False)
    plan = asdict(sweep.plan)
    from .plots import sweep_figure

    sweep_figure(sweep.steps, sweep.knee_rps, sweep.plan.thresholds).write_html(
        out / "capacity.html", include_plotlyjs="directory")
    return write_result(
        out / "result.json", sweep.checks, url=url, steps=sweep.step_records(), knee_rps=sweep.knee_rps,
        thresholds=asdict(sweep.plan.thresholds),
        recommendations=json.loads(recommendations(sweep.knee_rps, limits, attendees).to_json(orient="records")),
        origin_concurrency=jsonable(sweep.concurrency_advice().as_dict()),
        summary=jsonable(summarize(sweep.frame).as_dict()), plan=jsonable(plan),
    )
