"""What the engine writes down for every request, and the DataFrame statistics are computed from.

The engine only fills :class:`Record` objects (times in seconds after the run's t0 on the
monotonic clock); everything derived — latency from the *intended* send time, service time from
the actual send, send lag, time to first token, time per output token, UTC wall times — is
computed here, in one vectorised place, so statistics never depend on the code that sends.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import pandas as pd

#: ``error`` of a request the engine never started because too many were in flight (k6's
#: ``dropped_iterations``).
DROPPED = "dropped"

NAN = math.nan


@dataclass(slots=True)
class Record:
    """One request. Times are seconds after t0; NaN when the moment never came."""

    index: int
    step: int
    user_id: str
    scheduled_s: float
    stream: bool = False
    start_s: float = NAN
    first_byte_s: float = NAN
    first_token_s: float = NAN
    last_token_s: float = NAN
    end_s: float = NAN
    status: int = 0
    error: str = ""
    request_id: str = ""
    output_tokens: int = 0
    rl_limit: str = ""
    rl_remaining: str = ""
    rl_reset: str = ""
    retry_after: str = ""
    body: str = ""


RECORD_COLUMNS = [f.name for f in fields(Record)]


def records_frame(records: Sequence[Record], wall_t0: float = 0.0) -> pd.DataFrame:
    """One row per request, with derived columns (milliseconds unless named otherwise):

    * ``latency_ms`` end − scheduled (what a user waiting since the intended send saw),
    * ``service_ms`` end − start, ``ttfb_ms`` first byte − start, ``send_lag_ms`` start − scheduled,
    * ``ttft_ms`` first token − scheduled, ``tpot_ms`` (last − first token) / (tokens − 1),
    * ``ok`` (2xx), ``rate_limited`` (429), ``server_error`` (5xx), ``failed`` (no HTTP answer),
    * ``sent_at`` / ``done_at`` as UTC timestamps and ``sent_epoch_s`` / ``done_epoch_s`` as epoch seconds, from
      ``wall_t0`` (the epoch time of t0).
    """
    frame = pd.DataFrame([asdict(r) for r in records], columns=RECORD_COLUMNS)
    for column in ("scheduled_s", "start_s", "first_byte_s", "first_token_s", "last_token_s", "end_s"):
        frame[column] = frame[column].astype("float64")
    frame["status"] = frame["status"].astype("int64")
    frame["output_tokens"] = frame["output_tokens"].astype("int64")
    frame["latency_ms"] = (frame["end_s"] - frame["scheduled_s"]) * 1000
    frame["service_ms"] = (frame["end_s"] - frame["start_s"]) * 1000
    frame["ttfb_ms"] = (frame["first_byte_s"] - frame["start_s"]) * 1000
    frame["send_lag_ms"] = (frame["start_s"] - frame["scheduled_s"]) * 1000
    frame["ttft_ms"] = (frame["first_token_s"] - frame["scheduled_s"]) * 1000
    between = frame["output_tokens"].where(frame["output_tokens"] > 1) - 1
    frame["tpot_ms"] = (frame["last_token_s"] - frame["first_token_s"]) * 1000 / between
    frame["ok"] = frame["status"].between(200, 299)
    frame["rate_limited"] = frame["status"] == 429
    frame["server_error"] = frame["status"] >= 500
    frame["failed"] = frame["status"] == 0
    frame["sent_epoch_s"] = wall_t0 + frame["start_s"]
    frame["done_epoch_s"] = wall_t0 + frame["end_s"]
    frame["sent_at"] = pd.to_datetime(wall_t0 + frame["start_s"], unit="s", utc=True)
    frame["done_at"] = pd.to_datetime(wall_t0 + frame["end_s"], unit="s", utc=True)
    return frame


def outcome(status: int, error: str) -> str:
    """A request's outcome as one label: ``200``, ``429``, ``503`` … or the error type."""
    return str(status) if status else (error or "unknown")
