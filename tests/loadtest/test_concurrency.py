"""The capacity sweep's recommendation for ORIGIN_MAX_CONCURRENCY (pure)."""
from __future__ import annotations

import pandas as pd

from gateway_ops.loadtest.concurrency import recommend_concurrency, unloaded_latency_ms


def test_littles_law_rounded_up():
    advice = recommend_concurrency(8.0, 500.0)  # 4 slots × 500 ms: the origin held 4 at the knee
    assert advice.value == 4 and "Little's law" in advice.reason and "4.00" in advice.reason
    assert recommend_concurrency(6.0, 520.0).value == 4  # 3.12 at once: 3 slots would cap it below the knee
    assert recommend_concurrency(0.5, 100.0).value == 1  # never 0: that would refuse everything


def test_no_knee_no_recommendation():
    advice = recommend_concurrency(None, 500.0)
    assert advice.value is None and "no knee" in advice.reason
    assert advice.as_dict()["origin_max_concurrency"] is None


def test_unloaded_latency_is_the_lowest_steps_p50():
    steps = pd.DataFrame([{"offered_rps": 8.0, "p50_ms": 900.0}, {"offered_rps": 2.0, "p50_ms": 510.0}])
    assert unloaded_latency_ms(steps) == 510.0
    assert unloaded_latency_ms(pd.DataFrame([{"offered_rps": 2.0, "p50_ms": float("nan")}])) is None
    assert unloaded_latency_ms(pd.DataFrame()) is None
