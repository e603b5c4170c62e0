"""The gateway's UTC-minute window, as arithmetic on epoch seconds (pure, standard library only).

The Worker counts each user's requests per UTC minute. Anything that counts against that limit —
the rate-limit check, the tests, the benches — must not let a count straddle a boundary (where
admitting again is correct), so it asks here how long to wait first. Kept apart from
``loadtest.ratelimit`` so that a test or a bench can use it without importing pandas.
"""
from __future__ import annotations

WINDOW_S = 60
#: after a window boundary, wait this much more before sending (clock skew with the gateway)
BOUNDARY_GUARD_S = 0.5


def seconds_left_in_minute(epoch_s: float) -> float:
    """Seconds from ``epoch_s`` to the end of its UTC minute (60 exactly on a boundary)."""
    return WINDOW_S - epoch_s % WINDOW_S


def wait_before_start(epoch_s: float, needed_s: float) -> float:
    """0 when ``needed_s`` still fits in this UTC minute, else the wait until just after the next
    boundary: a burst never starts in the tail of a minute."""
    left = seconds_left_in_minute(epoch_s)
    return 0.0 if left >= needed_s else left + BOUNDARY_GUARD_S


def wait_for_window(epoch_s: float, reset_epoch_s: float) -> float:
    """Seconds until just after ``reset_epoch_s`` (the next window's start), 0 if it has passed."""
    return max(0.0, reset_epoch_s + BOUNDARY_GUARD_S - epoch_s)
