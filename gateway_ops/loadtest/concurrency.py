"""From a capacity sweep to the gate's setting: the ``ORIGIN_MAX_CONCURRENCY`` to recommend (pure).

Little's law: requests in a system = arrival rate × time each spends there. At the knee the origin
sustained ``knee_rps`` while answering in about its unloaded latency, so it held about
``knee_rps × unloaded latency`` requests at once. That many slots let the gate pass the knee's
throughput; more would only let the origin's own queue grow (latency with no extra throughput),
fewer would cap it below what it proved it can do. The product is rounded **up** (a fractional slot
cannot be granted, and rounding down would refuse load the origin held). The unloaded latency is the
p50 of the sweep's lowest step, which ran well below the knee.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class ConcurrencyAdvice:
    """The recommended setting, what it came from, and one sentence saying why."""

    value: int | None
    knee_rps: float | None
    unloaded_ms: float | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"origin_max_concurrency": self.value, "knee_rps": self.knee_rps,
                "unloaded_latency_ms": self.unloaded_ms, "reason": self.reason}


def unloaded_latency_ms(steps: pd.DataFrame) -> float | None:
    """The p50 latency of the lowest offered rate (None when it was not measured)."""
    if steps.empty:
        return None
    lowest = steps.sort_values("offered_rps").iloc[0]
    value = float(lowest.get("p50_ms", math.nan))
    return value if value == value and value > 0 else None


def recommend_concurrency(knee_rps: float | None, unloaded_ms: float | None) -> ConcurrencyAdvice:
    """``ceil(knee_rps × unloaded latency)``, at least 1; no value without a knee or a latency."""
    if knee_rps is None or unloaded_ms is None:
        return ConcurrencyAdvice(None, knee_rps, unloaded_ms,
                                 "No recommendation: the sweep found no knee (even its lowest rate failed), so the "
                                 "origin's capacity is unknown. Lower the rates and run it again.")
    held = knee_rps * unloaded_ms / 1000
    value = max(1, math.ceil(held - 1e-9))
    return ConcurrencyAdvice(value, knee_rps, unloaded_ms,
                             f"Little's law: at the knee ({knee_rps:g} req/s) with the unloaded latency "
                             f"({unloaded_ms:.0f} ms) the origin held about {held:.2f} requests at once; rounded up "
                             f"to {value} so the gate passes the knee's throughput, and beyond it requests wait at "
                             f"the gateway (fairly, or 503 origin_busy) instead of in the origin's own queue.")
