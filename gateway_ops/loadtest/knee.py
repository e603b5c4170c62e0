"""Judging a capacity sweep: the thresholds a step must meet, and the knee (pure; no I/O).

Its own module so that ``capacity`` (which runs and writes a sweep) and ``plots`` (which draws
one) both depend on it, and not on each other.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import LoadTestError


@dataclass(frozen=True)
class Thresholds:
    """A step holds when its p95 latency and its error rate are at or under these."""

    p95_ms: float = 2000.0
    error_rate: float = 0.01

    def __post_init__(self) -> None:
        if not self.p95_ms > 0:
            raise LoadTestError(f"The p95 threshold must be a positive number of ms, got {self.p95_ms}.")
        if not 0 <= self.error_rate < 1:
            raise LoadTestError(f"The error-rate threshold must be in [0, 1), got {self.error_rate}.")


def step_passes(step: dict[str, Any], thresholds: Thresholds) -> bool:
    """A step (a row of ``stats.step_table``) holds: a measured p95 and an error rate within the thresholds."""
    p95 = step.get("p95_ms", math.nan)
    return p95 == p95 and p95 <= thresholds.p95_ms and step.get("error_rate", 1.0) <= thresholds.error_rate


def find_knee(steps: Sequence[dict[str, Any]], thresholds: Thresholds) -> float | None:
    """The highest offered rate that met the thresholds before the first step that did not, or
    None when even the lowest step failed."""
    knee = None
    for step in sorted(steps, key=lambda s: s["offered_rps"]):
        if not step_passes(step, thresholds):
            break
        knee = float(step["offered_rps"])
    return knee
