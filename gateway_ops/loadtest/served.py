"""Did the origin serve what the gateway let through? A check no broken event can pass.

A rate-limit check counts what the limiter admitted; if the origin then refused every admitted
request (a wrong key: 401, an unknown model: 404, the origin down: 502), the limit "held" on an
event where no attendee gets an answer. :func:`origin_served_check` fails such a run and names the
cause in one sentence (:func:`gateway_ops.client.explain_refusal`). Pure: it judges a records frame.
"""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from ..client import explain_refusal
from ..results import Check


def overload_only(status: int) -> bool:
    """503: the origin was busy (a burst may overload a small origin — the capacity test's business)."""
    return status == 503


def any_server_error(status: int) -> bool:
    """Every 5xx: in a capacity sweep, server errors past the knee are the measurement itself."""
    return status >= 500


def origin_served_check(frame: pd.DataFrame, *, name: str, model: str | None = None,
                        tolerated: Callable[[int], bool] = overload_only) -> Check:
    """Passes when every answer in ``frame`` is 2xx or a ``tolerated`` status, and at least one is 2xx.

    Refusals (401/403/404, any other 4xx) never pass: they are the same for every request, so
    one means the event is misconfigured.
    """
    answered = frame[frame["status"] > 0]
    statuses = answered["status"].astype(int)
    ok = statuses.between(200, 299)
    bad = answered[~ok & ~statuses.map(tolerated)]
    total = len(answered)
    expected = "2xx from the origin for the admitted requests"
    if total == 0:
        return Check(name, expected, "no request was answered", False)
    if bad.empty and ok.any():
        others = total - int(ok.sum())
        return Check(name, expected, f"{int(ok.sum())} of {total} served" + (f", {others} busy (503)" if others else ""),
                     True)
    sample = bad if not bad.empty else answered
    status, body = (sample.groupby(["status", "body"]).size().sort_values(ascending=False).index[0])
    cause = explain_refusal(int(status), str(body), model=model)
    count = int((answered["status"] == status).sum())
    return Check(name, expected, f"{count} of {total} answered {int(status)}: {cause}", False)
