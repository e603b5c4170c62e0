"""Before anything is created: can this token do the job, and will the event fit the plan?

``check_token`` verifies the token, then lists Workers scripts, KV namespaces and D1 databases —
read-only probes of exactly the endpoints bootstrap and deploy use — and names any missing
permission the way the dashboard does. ``plan_checks`` compares an event's expected traffic with
the Workers Free plan's daily limits, so the facilitator is warned before the event, not during it.
Both return ``Check`` rows; a failed row is a warning in plain words.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from ..results import Check
from .errors import TOKENS_PAGE, CloudflareAuthError, CloudflarePermissionError, PreflightError, cloudflare_errors
from .resources import D1_PERMISSION, KV_PERMISSION, WORKERS_PERMISSION

#: (permission as the dashboard names it, what the probe does, SDK call); the smallest page each
#: endpoint accepts (Cloudflare's schema: KV per_page ≥ 5, D1 per_page ≥ 10)
PROBES = (
    (WORKERS_PERMISSION, "list Workers scripts", lambda client, account: client.workers.scripts.list(account_id=account)),
    (KV_PERMISSION, "list KV namespaces", lambda client, account: client.kv.namespaces.list(account_id=account, per_page=5)),
    (D1_PERMISSION, "list D1 databases", lambda client, account: client.d1.database.list(account_id=account, per_page=10)),
)


def _verify(client: Any, account_id: str) -> str:
    """The token's status ("active", "disabled", "expired"). User tokens verify at /user/tokens/verify,
    account-owned tokens at /accounts/{id}/tokens/verify: try both before calling the token invalid."""
    try:
        with cloudflare_errors("verifying the API token"):
            return client.user.tokens.verify().status
    except CloudflareAuthError:
        with cloudflare_errors("verifying the API token"):
            return client.accounts.tokens.verify(account_id=account_id).status


def check_token(client: Any, account_id: str) -> list[Check]:
    """Token valid and active, then one check per permission bootstrap needs.

    :raises CloudflareError: when Cloudflare cannot be asked at all (network, outage)
    """
    try:
        status = _verify(client, account_id)
    except CloudflareAuthError:
        return [Check("API token valid", "active", "rejected by Cloudflare (invalid, or revoked)", False)]
    checks = [Check("API token valid", "active", status, status == "active")]
    if status != "active":
        return checks
    for permission, probe, call in PROBES:
        try:
            with cloudflare_errors(f"trying to {probe}", permission):
                page = call(client, account_id)
                next(iter(page), None)
            checks.append(Check(f"permission: {permission}", f"can {probe}", "yes", True))
        except CloudflarePermissionError:
            checks.append(Check(f"permission: {permission}", f"can {probe}", "no (HTTP 403)", False))
    return checks


def missing_permissions(checks: list[Check]) -> list[str]:
    return [c.name.removeprefix("permission: ") for c in checks if c.name.startswith("permission: ") and not c.passed]


def require_token(checks: list[Check], account_id: str) -> None:
    """Turns failed token checks into one sentence saying what to fix.

    :raises PreflightError: when the token is invalid, inactive or lacks a permission
    """
    token = checks[0]
    if not token.passed:
        raise PreflightError(
            f"The API token is not usable ({token.observed}): create a token with the \"Edit Cloudflare Workers\" "
            f"template plus D1 Edit at {TOKENS_PAGE}, and put it in CLOUDFLARE_API_TOKEN."
        )
    missing = missing_permissions(checks)
    if len(missing) == len(PROBES):
        raise PreflightError(
            f"The API token cannot use account {account_id}: check that CLOUDFLARE_ACCOUNT_ID is the token's account, "
            f"or give the token {', '.join(missing)} at {TOKENS_PAGE}."
        )
    if missing:
        raise PreflightError(
            f"The API token lacks {' and '.join(missing)}: add {'it' if len(missing) == 1 else 'them'} to the token "
            f"at {TOKENS_PAGE} (Edit → Permissions → Account), then run the command again."
        )


# --- the plan's daily limits ------------------------------------------------------------------

@dataclass(frozen=True)
class PlanLimits:
    """Daily limits of a Cloudflare plan that a workshop can hit (reset at 00:00 UTC)."""

    name: str = "Workers Free"
    worker_requests_per_day: int = 100_000
    durable_object_requests_per_day: int = 100_000
    durable_object_rows_written_per_day: int = 100_000
    durable_object_rows_read_per_day: int = 5_000_000
    d1_rows_written_per_day: int = 100_000
    d1_rows_read_per_day: int = 5_000_000
    kv_reads_per_day: int = 100_000
    kv_writes_per_day: int = 1_000


#: developers.cloudflare.com: Workers limits, Durable Objects pricing, D1 pricing, KV limits.
WORKERS_FREE = PlanLimits()
#: Rows D1 writes per logged request: the row itself plus one per index (migrations/0001_init.sql).
D1_ROWS_PER_REQUEST = 3
#: How often a gated request renews its lease while its answer lasts (worker/src/gate/admission.ts RENEW_MS).
GATE_RENEW_SECONDS = 10.0
#: How long one read of the event controls serves an isolate (worker/src/controls/cache.ts CONTROLS_TTL_MS):
#: a busy isolate reads the controls' D1 copy (one row, migration 0006) at most once per this many seconds.
CONTROLS_TTL_SECONDS = 1.0
#: One admin change (``gateway-ops control …``, a tier, a reissue): the controls object, plus the user's own
#: object for a per-user change.
ADMIN_CHANGE_DO_REQUESTS = 2
#: …the object's state rows (controls or user entry, version, published version, budget start).
ADMIN_CHANGE_DO_ROWS_WRITTEN = 4
#: …the published copy (control_state), the audit row (control_events) and its AUTOINCREMENT counter.
ADMIN_CHANGE_D1_ROWS_WRITTEN = 3
#: …the copy's row read by the upsert (and once more when the object republishes).
ADMIN_CHANGE_D1_ROWS_READ = 2
#: A live dashboard with the admin token reads ``/admin/status`` once per refresh (its origin panel and
#: controls line share the answer) at its default 5 s refresh; each read calls the controls object (and the gate object when
#: the gate is on) and reads the D1 copy's row to check it is published.
DASHBOARD_STATUS_READS_PER_MINUTE = 12
#: Rows the controls object reads to answer: its state rows (and the user directory, usually small).
CONTROLS_OBJECT_ROWS_READ = 5


def gate_calls_per_request(answer_seconds: float) -> int:
    """Durable Object requests the origin gate adds to one request: acquire, release, and one lease
    renewal per full ``GATE_RENEW_SECONDS`` the answer lasts (long streams)."""
    return 2 + math.floor(max(answer_seconds, 0.0) / GATE_RENEW_SECONDS)


@dataclass(frozen=True)
class EventPlan:
    """What the facilitator expects: attendees × requests per minute each × hours."""

    attendees: int
    requests_per_minute: float
    hours: float
    auth_mode: str = "openai"
    limit_per_minute: int = 50
    #: Times per minute a dashboard re-reads the whole access log (0: it reads only new rows).
    dashboard_full_reads_per_minute: float = 0.0
    #: ORIGIN_MAX_CONCURRENCY set: every request that reaches the origin also calls the gate object.
    gate: bool = False
    #: How long an answer lasts on average (s): a gated answer renews its lease every 10 s.
    answer_seconds: float = 0.0
    #: Worker isolates serving at once (Cloudflare decides; a room of attendees is served by a few): each
    #: reads the event controls' D1 copy at most once a second while it has requests.
    isolates: int = 10
    #: Event-control changes during the event (controls, tiers, reissues, revocations).
    admin_changes: int = 50
    #: Live dashboards open with the admin token for the whole event (each polls ``/admin/status``).
    dashboards: int = 1

    def __post_init__(self) -> None:
        if self.attendees < 1 or self.requests_per_minute <= 0 or self.hours <= 0:
            raise PreflightError("The event needs at least 1 attendee, more than 0 requests per minute and more "
                                 "than 0 hours.")
        if self.auth_mode not in ("openai", "codex"):
            raise PreflightError("auth_mode must be openai or codex.")
        if self.isolates < 1 or self.admin_changes < 0 or self.dashboards < 0:
            raise PreflightError("isolates must be at least 1, admin changes and dashboards at least 0.")

    @property
    def requests(self) -> int:
        """Every request counts for Workers, the DO and the log, including those answered 429."""
        return math.ceil(self.attendees * self.requests_per_minute * self.hours * 60)

    @property
    def requests_per_minute_total(self) -> float:
        return self.attendees * self.requests_per_minute


def controls_reads(plan: EventPlan) -> int:
    """D1 rows the requests' reads of the event controls cost: one per busy isolate per second at most,
    and never more than one per request. No Durable Object request: requests read the D1 copy."""
    return min(plan.requests, math.ceil(plan.isolates * plan.hours * 3600 / CONTROLS_TTL_SECONDS))


def estimate_usage(plan: EventPlan) -> dict[str, int]:
    """Daily usage the event causes, per limit (assumes the event fits in one UTC day)."""
    minutes = plan.hours * 60
    rows = plan.requests * D1_ROWS_PER_REQUEST
    # a full re-read scans every row so far: sum over reads of (rate × t) = reads/min × rate × T² / 2
    full_reads = plan.dashboard_full_reads_per_minute * plan.requests_per_minute_total * minutes ** 2 / 2
    # The gate: acquire + release (+ renewals) per request, each writing its lease row (insert, delete,
    # update). Counted for every request, an upper bound: a 429 never reaches the gate.
    gate_calls = plan.requests * gate_calls_per_request(plan.answer_seconds) if plan.gate else 0
    # Admin: each change, and each /admin/status read of a live dashboard (the controls object, plus the
    # gate object when it is on).
    status_reads = math.ceil(plan.dashboards * DASHBOARD_STATUS_READS_PER_MINUTE * minutes)
    admin_calls = plan.admin_changes * ADMIN_CHANGE_DO_REQUESTS + status_reads * (2 if plan.gate else 1)
    return {
        "worker_requests_per_day": plan.requests,
        # the limiter's one RPC per request (blocked users excepted), plus the gate's calls and the admin's
        "durable_object_requests_per_day": plan.requests + gate_calls + admin_calls,
        # window row upserted; lease rows; the controls object's state on a change
        "durable_object_rows_written_per_day": plan.requests + gate_calls + plan.admin_changes * ADMIN_CHANGE_DO_ROWS_WRITTEN,
        "durable_object_rows_read_per_day": plan.requests + (status_reads + plan.admin_changes) * CONTROLS_OBJECT_ROWS_READ,
        "d1_rows_written_per_day": rows + plan.admin_changes * ADMIN_CHANGE_D1_ROWS_WRITTEN,
        # dashboards read each new row once; the controls' copy: one row per isolate-second, per status read
        "d1_rows_read_per_day": math.ceil(plan.requests + full_reads) + controls_reads(plan) + status_reads
        + plan.admin_changes * ADMIN_CHANGE_D1_ROWS_READ,
        "kv_reads_per_day": plan.requests * (2 if plan.auth_mode == "codex" else 1),  # tier:, oauth:
        "kv_writes_per_day": plan.attendees if plan.auth_mode == "codex" else 0,  # oauth: tokens loaded
    }


LABELS = {
    "worker_requests_per_day": "Workers requests/day",
    "durable_object_requests_per_day": "Durable Object requests/day (limiter, + gate: acquire, release, renewals; "
                                       "+ admin calls; the event controls add none per request)",
    "durable_object_rows_written_per_day": "Durable Object rows written/day",
    "durable_object_rows_read_per_day": "Durable Object rows read/day",
    "d1_rows_written_per_day": "D1 rows written/day (row + 2 index entries per request)",
    "d1_rows_read_per_day": "D1 rows read/day (dashboards, + event controls: ≤ 1 per busy isolate per second)",
    "kv_reads_per_day": "KV reads/day (tier:{user}, plus oauth:{user} in codex mode)",
    "kv_writes_per_day": "KV writes/day (oauth:{user} tokens in codex mode)",
}


def usage_frame(plan: EventPlan, limits: PlanLimits = WORKERS_FREE) -> pd.DataFrame:
    """Expected daily usage next to each limit, as a share (1.0 = the whole daily limit)."""
    usage = estimate_usage(plan)
    return pd.DataFrame([{"daily limit": LABELS[key].split(" (")[0], "expected": used, "limit": getattr(limits, key),
                          "share": used / getattr(limits, key)} for key, used in usage.items()])


def plan_checks(plan: EventPlan, limits: PlanLimits = WORKERS_FREE) -> list[Check]:
    """One check per daily limit (fails when the event would exceed it), plus the per-user rate."""
    usage = estimate_usage(plan)
    checks = []
    for key, used in usage.items():
        limit = getattr(limits, key)
        share = used / limit
        observed = f"{used:,} ({share:.0%} of the limit)"
        if share > 1:
            minutes = limit / max(used / (plan.hours * 60), 1e-9)
            observed += f": exhausted after about {_duration(minutes)}"
        checks.append(Check(LABELS[key], f"≤ {limit:,} ({limits.name})", observed, used <= limit))
    checks.append(Check(
        "requests per attendee per minute", f"≤ {plan.limit_per_minute} (RATE_LIMIT_PER_MINUTE)",
        f"{plan.requests_per_minute:g}" + ("" if plan.requests_per_minute <= plan.limit_per_minute else
                                           f": requests beyond {plan.limit_per_minute} each minute get 429"),
        plan.requests_per_minute <= plan.limit_per_minute,
    ))
    return checks


def max_attendees(plan: EventPlan, limits: PlanLimits = WORKERS_FREE) -> int:
    """The most attendees this event shape fits in the plan's daily limits."""
    low, high = 0, max(plan.attendees, 1)
    while all(c.passed for c in plan_checks(_with(plan, high), limits)[:-1]) and high < 10**7:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if all(c.passed for c in plan_checks(_with(plan, middle), limits)[:-1]):
            low = middle
        else:
            high = middle
    return low


def _with(plan: EventPlan, attendees: int) -> EventPlan:
    return replace(plan, attendees=max(attendees, 1))


def _duration(minutes: float) -> str:
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def preflight(client: Any, account_id: str, plan: EventPlan | None = None) -> list[Check]:
    """Token checks, then (when an event plan is given) plan-limit checks."""
    checks = check_token(client, account_id)
    return checks + (plan_checks(plan) if plan is not None else [])

