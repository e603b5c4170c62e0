"""Does the per-user limit hold? A burst per user inside one UTC minute, then the checks.

The gateway counts each user's requests per UTC minute. So the check first makes sure the whole
burst fits in what is left of the current minute (if not, it waits for the next one to start —
it never starts a burst just before a boundary), fires every user's requests (all at once, or
spread evenly over some seconds), and then checks, per user:

* accepted == min(requests, limit), every other answer a 429 with the limit's message —
  "accepted" meaning admitted by the limiter (an answer that is not a 429 and carries the
  ``X-RateLimit-*`` headers);
* the origin served the admitted requests: a refusal (401 wrong key, 403, 404 unknown model) or a
  failure (500, 502 origin down, 504) fails the check with its cause — a limit that "holds" while
  no attendee gets an answer is a broken event. Only 503 is tolerated (a burst may well overload a
  small origin, which is the capacity test's business, not the limit's), as long as some were served;
* every 429 carries ``Retry-After`` agreeing with ``X-RateLimit-Reset``, and the ``X-RateLimit-*``
  headers are consistent (Limit as expected, Reset the end of the minute, Remaining counting down
  one by one and 0 on every 429);
* the next window admits again (after waiting for the next minute: one request per user);
* the access log holds exactly one row per request sent, by request id, per user and status.

Pure parts (timing the window, judging a records frame) are apart from :func:`run_rate_limit_check`,
which sends, waits and reads the log.
"""
from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from tqdm.auto import tqdm

from .. import queries
from ..minute_window import WINDOW_S, wait_before_start, wait_for_window
from ..accesslog import AccessLog
from ..attendees.oauth import TokenLoan, lending
from ..client import Credentials
from ..results import Check, write_result
from .engine import EngineOptions, chat_request, run_open
from .errors import LoadTestError
from .preflight import check_gateway, model_for_run
from .records import records_frame
from .served import origin_served_check
from .schedule import burst_schedule, spread_schedule, user_ids
from .stats import jsonable

#: the most of a minute a burst may need (the rest is margin for clocks and stragglers)
MAX_WINDOW_USE_S = 50.0
#: tolerated disagreement between our clock and the gateway's, in seconds
CLOCK_TOLERANCE_S = 2.0
LOG_COLUMNS = ["request_id", "user_id", "status"]


def limit_message(limit: int) -> str:
    """The body the Worker answers a rejected request with."""
    return json.dumps({"error": f"Rate limit exceeded. {limit} requests/minute."}, separators=(",", ":"))


@dataclass(frozen=True)
class RateLimitPlan:
    """Who sends how much, how, and what the gateway is expected to allow."""

    users: int = 3
    requests_per_user: int = 60
    expected_limit: int = 50
    mode: Literal["burst", "spread"] = "burst"
    spread_s: float = 10.0
    check_next_window: bool = True
    #: throughput assumed when estimating how long a burst takes (to fit it in one minute)
    assumed_rps: float = 100.0
    margin_s: float = 3.0
    #: the model every request asks for (None: the first one the origin lists at /v1/models)
    model: str | None = None
    #: requests in flight at once (a burst sends min(total, this) together)
    max_in_flight: int = 1000
    timeout_s: float = 30.0
    log_timeout_s: float = 20.0
    transport: str = "aiohttp"

    def __post_init__(self) -> None:
        if self.users < 1:
            raise LoadTestError(f"The rate-limit check needs at least 1 user, got {self.users}.")
        if self.requests_per_user < 1:
            raise LoadTestError(f"Requests per user must be at least 1, got {self.requests_per_user}.")
        if self.expected_limit < 1:
            raise LoadTestError(f"The expected limit must be at least 1 request/minute, got {self.expected_limit}.")
        if self.mode not in ("burst", "spread"):
            raise LoadTestError(f"The mode must be 'burst' or 'spread', got {self.mode!r}.")
        if not self.assumed_rps > 0 or self.margin_s < 0 or not self.spread_s > 0:
            raise LoadTestError("assumed_rps and spread_s must be positive and margin_s 0 or more.")
        if window_needed_s(self) > MAX_WINDOW_USE_S:
            raise LoadTestError(
                f"{self.users} users × {self.requests_per_user} requests would need about "
                f"{window_needed_s(self):.0f} s, more than fits in one UTC minute: use fewer users or requests, "
                f"a shorter spread, or a higher assumed_rps if the gateway is faster."
            )

    @property
    def total(self) -> int:
        return self.users * self.requests_per_user

    @property
    def expected_accepted(self) -> int:
        return min(self.requests_per_user, self.expected_limit)


# --- timing the window (pure) ------------------------------------------------------------------


def window_needed_s(plan: RateLimitPlan) -> float:
    """Seconds of one minute the requests need: the spread, or the burst at the assumed rate, plus margin."""
    sending = plan.spread_s if plan.mode == "spread" else plan.total / plan.assumed_rps
    return sending + plan.margin_s


# --- judging the records (pure) ----------------------------------------------------------------


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def admitted(frame: pd.DataFrame) -> pd.Series:
    """Requests the limiter let through: answered, not 429, carrying the X-RateLimit-* headers
    (the gateway adds them to every admitted answer, the origin's errors included)."""
    return (frame["status"] > 0) & ~frame["rate_limited"] & (frame["rl_limit"] != "")


def per_user_table(frame: pd.DataFrame, plan: RateLimitPlan) -> pd.DataFrame:
    """One row per user: sent, accepted (admitted by the limiter), rejected (429), origin errors
    (admitted but not 2xx), other (no answer, or refused before the limiter), windows seen."""
    frame = frame.assign(admitted=admitted(frame), origin_error=admitted(frame) & ~frame["ok"])
    grouped = frame.groupby("user_id", sort=True)
    table = pd.DataFrame({
        "sent": grouped.size(),
        "accepted": grouped["admitted"].sum().astype(int),
        "rejected_429": grouped["rate_limited"].sum().astype(int),
        "origin_errors": grouped["origin_error"].sum().astype(int),
        "windows": grouped["rl_reset"].agg(lambda s: s[s != ""].nunique()),
    })
    table["other"] = table["sent"] - table["accepted"] - table["rejected_429"]
    table["expected_accepted"] = plan.expected_accepted
    return table.reset_index()


def _counts(values: pd.Series, unit: str) -> str:
    return ", ".join(f"{value} ({n} {unit}{'s' if n != 1 else ''})" for value, n in values.value_counts().sort_index().items())


def window_check(frame: pd.DataFrame) -> Check:
    """Each user's answers all name one window (one X-RateLimit-Reset)."""
    windows = frame.groupby("user_id")["rl_reset"].agg(lambda s: s[s != ""].nunique())
    spanning = int((windows > 1).sum())
    missing = int((frame["rl_reset"] == "").sum())
    observed = (f"all {len(windows)} users in one window" if spanning == 0 else f"{spanning} users spanned 2+ windows")
    if missing:
        observed += f"; {missing} answers without X-RateLimit-Reset"
    return Check("each user's requests in one UTC minute", "1 window per user", observed, spanning == 0 and missing == 0)


def accepted_check(per_user: pd.DataFrame, plan: RateLimitPlan) -> Check:
    wrong = per_user[per_user["accepted"] != plan.expected_accepted]
    return Check(
        "accepted == min(requests, limit) per user",
        f"{plan.expected_accepted} per user (min({plan.requests_per_user}, {plan.expected_limit}))",
        _counts(per_user["accepted"], "user"),
        wrong.empty and len(per_user) == plan.users,
    )


def answered_check(frame: pd.DataFrame) -> Check:
    """Every request got an HTTP answer from the gateway: no timeout, no broken connection."""
    labels = frame["status"].astype(str).where(frame["status"] > 0, frame["error"])
    return Check("every request answered by the gateway", "an HTTP status for each", _counts(labels, "request"),
                 bool((frame["status"] > 0).all()))


def rejection_check(frame: pd.DataFrame, plan: RateLimitPlan) -> Check:
    expected_n = plan.users * max(0, plan.requests_per_user - plan.expected_limit)
    rejected = frame[frame["rate_limited"]]
    message = limit_message(plan.expected_limit)
    bodies_ok = rejected["body"].map(_same_json(message))
    observed = f"{len(rejected)} × 429"
    if len(rejected) and not bodies_ok.all():
        observed += f", {int((~bodies_ok).sum())} with another body, e.g. {rejected.loc[~bodies_ok, 'body'].iloc[0][:120]!r}"
    return Check("every rejection is a 429 with the limit's message", f"{expected_n} × 429 {message}", observed,
                 len(rejected) == expected_n and bool(bodies_ok.all()))


def _same_json(expected: str) -> Callable[[str], bool]:
    want = json.loads(expected)

    def same(body: str) -> bool:
        try:
            return json.loads(body) == want
        except ValueError:
            return False

    return same


def retry_after_check(frame: pd.DataFrame) -> Check:
    """Every 429 carries Retry-After: whole seconds in [1, 60], agreeing with X-RateLimit-Reset."""
    rejected = frame[frame["rate_limited"]]
    bad = 0
    for retry, reset, done in zip(rejected["retry_after"], rejected["rl_reset"], rejected["done_epoch_s"], strict=True):
        retry_s, reset_s = _int(retry), _int(reset)
        if retry_s is None or reset_s is None or not 1 <= retry_s <= WINDOW_S:
            bad += 1
        elif abs(retry_s - (reset_s - done)) > CLOCK_TOLERANCE_S + 1:  # Retry-After is rounded up
            bad += 1
    observed = f"{len(rejected) - bad} of {len(rejected)} valid" if len(rejected) else "no 429 to check"
    return Check("429s carry Retry-After agreeing with the reset", "all valid", observed, bad == 0)


def header_check(frame: pd.DataFrame, plan: RateLimitPlan) -> Check:
    """Limit as expected; Reset the end of the minute the request was sent in; Remaining 0 on
    429s and counting down limit−1, limit−2, … over each user's admitted requests."""
    problems: list[str] = []
    limits = frame["rl_limit"].map(_int)
    if not (limits == plan.expected_limit).all():
        problems.append(f"X-RateLimit-Limit {_counts(frame['rl_limit'].replace('', 'missing'), 'answer')}")
    resets = frame["rl_reset"].map(_int)
    reset_ok = [r is not None and r % WINDOW_S == 0 and -CLOCK_TOLERANCE_S < r - sent <= WINDOW_S + CLOCK_TOLERANCE_S
                for r, sent in zip(resets, frame["sent_epoch_s"], strict=True)]
    if not all(reset_ok):
        problems.append(f"{reset_ok.count(False)} resets not at the end of the request's minute")
    remaining = frame["rl_remaining"].map(_int)
    if not (remaining[frame["rate_limited"]] == 0).all():
        problems.append("429 with X-RateLimit-Remaining ≠ 0")
    for user, part in frame[admitted(frame)].groupby("user_id"):
        seen = sorted((remaining[part.index]).tolist(), reverse=True)
        want = list(range(plan.expected_limit - 1, plan.expected_limit - 1 - len(part), -1))
        if seen != want:
            problems.append(f"{user}: Remaining {seen[:5]}… instead of {want[:5]}…")
            break
    return Check("X-RateLimit-* headers consistent", f"Limit {plan.expected_limit}, Reset = end of minute, "
                 "Remaining counting down to 0", "; ".join(problems) or "consistent", not problems)


def next_window_check(next_frame: pd.DataFrame, burst: pd.DataFrame, plan: RateLimitPlan) -> Check:
    """One request per user in the next minute: admitted, a fresh count, a reset 60 s later."""
    previous = burst.groupby("user_id")["rl_reset"].agg(lambda s: max((_int(v) or 0) for v in s))
    good = 0
    for user, let_in, remaining, reset in zip(next_frame["user_id"], admitted(next_frame), next_frame["rl_remaining"],
                                              next_frame["rl_reset"], strict=True):
        if (let_in and _int(remaining) == plan.expected_limit - 1
                and _int(reset) == previous.get(user, -1) + WINDOW_S):
            good += 1
    labels = next_frame["status"].astype(str).where(next_frame["status"] > 0, next_frame["error"])
    return Check("next window admits again", f"{plan.users} admitted, Remaining {plan.expected_limit - 1}, Reset +60 s",
                 f"{good} of {len(next_frame)} as expected ({_counts(labels, 'answer')})",
                 good == plan.users and len(next_frame) == plan.users)


def log_check(sent: pd.DataFrame, rows: pd.DataFrame) -> Check:
    """Exactly one access-log row per request sent (by X-Request-ID), with the same user and
    status, and the same counts per user and status."""
    answered = sent[sent["status"] > 0]
    rows = rows.reindex(columns=LOG_COLUMNS)
    rows = rows.assign(status=pd.to_numeric(rows["status"], errors="coerce").fillna(-1).astype(int))
    problems = []
    if (answered["request_id"] == "").any():
        problems.append(f"{int((answered['request_id'] == '').sum())} answers without X-Request-ID")
    duplicated = int(rows["request_id"].duplicated().sum())
    if duplicated:
        problems.append(f"{duplicated} request ids logged twice")
    ours = answered.set_index("request_id")[["user_id", "status"]]
    logged = rows.drop_duplicates("request_id").set_index("request_id")[["user_id", "status"]]
    missing = ours.index.difference(logged.index)
    extra = logged.index.difference(ours.index)
    if len(missing):
        problems.append(f"{len(missing)} requests without a row")
    if len(extra):
        problems.append(f"{len(extra)} rows for requests this check did not send")
    both = ours.index.intersection(logged.index)
    differ = int((ours.loc[both] != logged.loc[both]).any(axis=1).sum())
    if differ:
        problems.append(f"{differ} rows with another user or status")
    sent_counts = answered.groupby(["user_id", "status"]).size()
    log_counts = rows.groupby(["user_id", "status"]).size()
    if not sent_counts.sort_index().equals(log_counts.sort_index()):
        problems.append("counts per user and status differ")
    observed = f"{len(rows)} rows for {len(answered)} answered requests" + (": " + "; ".join(problems) if problems else "")
    return Check("access log: one row per request, per user and status", f"{len(answered)} rows, matching",
                 observed, not problems)


def judge(burst: pd.DataFrame, next_frame: pd.DataFrame | None, rows: pd.DataFrame, plan: RateLimitPlan
          ) -> tuple[pd.DataFrame, list[Check]]:
    """The per-user table and every check, from the records and the access-log rows."""
    per_user = per_user_table(burst, plan)
    checks = [
        window_check(burst),
        accepted_check(per_user, plan),
        answered_check(burst),
        rejection_check(burst, plan),
        retry_after_check(burst),
        header_check(burst, plan),
        origin_served_check(burst[admitted(burst)], name="the origin served the admitted requests",
                            model=plan.model),
    ]
    if next_frame is not None:
        checks.append(next_window_check(next_frame, burst, plan))
    sent = burst if next_frame is None else pd.concat([burst, next_frame], ignore_index=True)
    checks.append(log_check(sent, rows))
    return per_user, checks


# --- running it (I/O) --------------------------------------------------------------------------


@dataclass
class RateLimitRun:
    """Everything one check produced."""

    plan: RateLimitPlan
    prefix: str
    burst: pd.DataFrame
    next_window: pd.DataFrame | None
    log_rows: pd.DataFrame
    per_user: pd.DataFrame
    checks: list[Check]
    waited_s: float

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)


def countdown(seconds: float, reason: str, *, progress: bool = True, sleep: Callable[[float], None] = time.sleep) -> None:
    """Sleeps ``seconds``, showing a progress bar that says why."""
    if seconds <= 0:
        return
    steps = max(1, math.ceil(seconds))
    with tqdm(total=steps, desc=reason, unit="s", disable=not progress, leave=False) as bar:
        for _ in range(steps):
            sleep(seconds / steps)
            bar.update(1)


def _log_rows(log: AccessLog, prefix: str, after_id: int, expected: int, timeout_s: float,
              sleep: Callable[[float], None]) -> pd.DataFrame:
    """The run's rows, polled until as many as expected have been written (or the timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = queries.rows_for_user_prefix(log, prefix, after_id).reindex(columns=LOG_COLUMNS)
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        sleep(0.25)


def run_rate_limit_check(url: str, log: AccessLog, plan: RateLimitPlan, *, key_secret: str | None = None,
                         api_key: str | None = None, loan: TokenLoan | None = None, progress: bool = True, clock: Callable[[], float] = time.time,
                         sleep: Callable[[float], None] = time.sleep, run_id: str | None = None) -> RateLimitRun:
    """Sends the burst (waiting first if the minute is too far gone), the next-window requests if
    planned, reads the access log and judges it all. Never raises for a gateway that fails a check.

    Every request carries ``api_key`` (GATEWAY_CLIENT_API_KEY) and ``plan.model`` (default: the
    first model the origin lists, asked by a user outside the run's prefix). In codex mode ``loan``
    lends the run's users a token (``oauth:{user}``) for the run and removes it afterwards.

    :raises LoadTestError: when the gateway does not answer /health, or no model can be found
    :raises AccessLogError: when the access log cannot be read (checked before sending)
    """
    check_gateway(url)
    prefix = f"rl-{run_id or uuid.uuid4().hex[:10]}"
    after_id = queries.last_request_id(log)  # also: an unreadable log fails now, not after the burst
    users = user_ids(prefix, plan.users)
    asker = f"models-{prefix}"  # outside the prefix: its request is not one of the run's rows
    with lending(loan, [*users, asker]):
        plan = replace(plan, model=model_for_run(url, plan.model, Credentials(key_secret, api_key).headers(asker)))
        return _run(url, log, plan, prefix, users, after_id, key_secret=key_secret, api_key=api_key,
                    progress=progress, clock=clock, sleep=sleep)


def _run(url: str, log: AccessLog, plan: RateLimitPlan, prefix: str, users: list[str], after_id: int, *,
         key_secret: str | None, api_key: str | None, progress: bool, clock: Callable[[], float],
         sleep: Callable[[float], None]) -> RateLimitRun:
    waited = wait_before_start(clock(), window_needed_s(plan))
    countdown(waited, "waiting for the next UTC minute", progress=progress, sleep=sleep)
    arrivals = (burst_schedule(users, plan.requests_per_user) if plan.mode == "burst"
                else spread_schedule(users, plan.requests_per_user, plan.spread_s))
    options = EngineOptions(transport=plan.transport, max_in_flight=min(plan.total, plan.max_in_flight), when_full="wait",
                            timeout_s=plan.timeout_s, key_secret=key_secret, api_key=api_key, progress=progress,
                            description=f"{plan.mode}: {plan.users} users × {plan.requests_per_user}")
    assert plan.model, "the run chooses the model before the burst"
    request = chat_request(model=plan.model, max_tokens=1)
    run = run_open(url, arrivals, request, options)
    burst = records_frame(run.records, run.wall_t0)
    next_frame = None
    if plan.check_next_window:
        resets = [r for r in burst["rl_reset"].map(_int) if r is not None]
        reset = max(resets) if resets else math.ceil(clock() / WINDOW_S) * WINDOW_S
        wait = wait_for_window(clock(), reset)
        countdown(wait, "waiting for the next window", progress=progress, sleep=sleep)
        waited += wait
        again = run_open(url, burst_schedule(users, 1), request,
                         EngineOptions(transport=plan.transport, when_full="wait", timeout_s=plan.timeout_s,
                                       key_secret=key_secret, api_key=api_key, progress=False))
        next_frame = records_frame(again.records, again.wall_t0)
    sent = burst if next_frame is None else pd.concat([burst, next_frame], ignore_index=True)
    rows = _log_rows(log, prefix, after_id, int((sent["status"] > 0).sum()), plan.log_timeout_s, sleep)
    per_user, checks = judge(burst, next_frame, rows, plan)
    return RateLimitRun(plan, prefix, burst, next_frame, rows, per_user, checks, waited)


def write_rate_limit_result(run: RateLimitRun, out_dir: str | Path, *, url: str = "") -> dict[str, Any]:
    """``result.json`` (checks, per-user table, plan), ``requests.csv`` and the plot as HTML into
    ``out_dir``; returns what result.json holds."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sent = run.burst if run.next_window is None else pd.concat(
        [run.burst.assign(phase="burst"), run.next_window.assign(phase="next window")], ignore_index=True)
    sent.to_csv(out / "requests.csv", index=False)
    from .plots import rate_limit_figure

    rate_limit_figure(run.per_user, run.plan.expected_limit).write_html(out / "rate_limit.html",
                                                                        include_plotlyjs="directory")
    return write_result(
        out / "result.json", run.checks, url=url, user_prefix=run.prefix,
        next_window_checked=run.next_window is not None, waited_s=round(run.waited_s, 1),
        per_user=jsonable(run.per_user.to_dict("records")), plan=jsonable(asdict(run.plan)),
    )
