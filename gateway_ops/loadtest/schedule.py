"""When each request of a load test is due: absolute offsets from one start time, computed up front.

An open-model test sends request *i* at ``t0 + offset[i]`` whether or not earlier requests have
finished, so a slow gateway cannot slow the test down and hide its own latency (the
coordinated-omission problem). Offsets are computed here as ``i / rate`` — never by summing
sleeps, whose errors would accumulate — and the engine only waits for each absolute time.

Everything here is pure: no clock, no I/O, so schedules are tested exactly.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import LoadTestError


@dataclass(frozen=True)
class Arrival:
    """One request of a schedule: when it is due (seconds after t0), for whom, in which step."""

    index: int
    offset_s: float
    user_id: str
    step: int = 0


def constant_offsets(rate: float, duration_s: float, start_s: float = 0.0) -> list[float]:
    """``floor(rate × duration)`` offsets evenly spaced ``1 / rate`` apart, from ``start_s``.

    :raises LoadTestError: for a rate or duration that is not positive
    """
    if not (rate > 0 and math.isfinite(rate)):
        raise LoadTestError(f"The arrival rate must be a positive number of requests/s, got {rate}.")
    if not (duration_s > 0 and math.isfinite(duration_s)):
        raise LoadTestError(f"The duration must be a positive number of seconds, got {duration_s}.")
    count = math.floor(rate * duration_s + 1e-9)
    return [start_s + i / rate for i in range(count)]


def user_ids(prefix: str, count: int) -> list[str]:
    """``count`` distinct user ids ``<prefix>-u0001`` … (valid X-User-ID values, no LIKE wildcards)."""
    width = max(4, len(str(count)))
    return [f"{prefix}-u{i:0{width}d}" for i in range(1, count + 1)]


def users_needed(total_requests: int, per_user_budget: int) -> int:
    """How many user ids keep every user at or under ``per_user_budget`` requests (at least one)."""
    if per_user_budget < 1:
        raise LoadTestError(f"The per-user budget must be at least 1 request, got {per_user_budget}.")
    return max(1, math.ceil(total_requests / per_user_budget))


def open_schedule(offsets: Sequence[float], users: Sequence[str], step: int = 0, first_index: int = 0) -> list[Arrival]:
    """Arrivals at ``offsets``, users taken round-robin so each gets an even share."""
    if not users:
        raise LoadTestError("A schedule needs at least one user id.")
    return [Arrival(first_index + i, offset, users[i % len(users)], step) for i, offset in enumerate(offsets)]


def step_schedule(rates: Sequence[float], step_s: float, users: Sequence[str]) -> list[Arrival]:
    """Consecutive steps of constant rate, ``step_s`` each, as one schedule (``step`` = rate's index)."""
    if not users:
        raise LoadTestError("A schedule needs at least one user id.")
    arrivals: list[Arrival] = []
    for step, rate in enumerate(rates):
        for offset in constant_offsets(rate, step_s, start_s=step * step_s):
            index = len(arrivals)
            arrivals.append(Arrival(index, offset, users[index % len(users)], step))
    return arrivals


def burst_schedule(users: Sequence[str], per_user: int) -> list[Arrival]:
    """Every user's ``per_user`` requests due at once (t0), interleaved user by user so all
    users' bursts hit the gateway together rather than one user after another."""
    if per_user < 1:
        raise LoadTestError(f"Requests per user must be at least 1, got {per_user}.")
    if not users:
        raise LoadTestError("A burst needs at least one user id.")
    order = [user for _ in range(per_user) for user in users]
    return [Arrival(i, 0.0, user) for i, user in enumerate(order)]


def spread_schedule(users: Sequence[str], per_user: int, spread_s: float) -> list[Arrival]:
    """Each user's ``per_user`` requests evenly over ``spread_s`` seconds, users staggered
    within each interval so the gateway sees a steady stream rather than synchronized spikes."""
    if per_user < 1:
        raise LoadTestError(f"Requests per user must be at least 1, got {per_user}.")
    if not users:
        raise LoadTestError("A spread needs at least one user id.")
    if not (spread_s > 0 and math.isfinite(spread_s)):
        raise LoadTestError(f"The spread must be a positive number of seconds, got {spread_s}.")
    interval = spread_s / per_user
    timed = sorted(
        ((k * interval + u * interval / len(users), user) for k in range(per_user) for u, user in enumerate(users)),
        key=lambda pair: pair[0],
    )
    return [Arrival(i, offset, user) for i, (offset, user) in enumerate(timed)]


def schedule_duration(arrivals: Sequence[Arrival]) -> float:
    """The offset of the last arrival (0 for an empty or instantaneous schedule)."""
    return max((a.offset_s for a in arrivals), default=0.0)
