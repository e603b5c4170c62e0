"""Soak: many users at their limit for a while (``SOAK_SECONDS``, default 75 s: at least one full
UTC minute and the edges of two more), through the real Worker and origin.

Checked: every request answered; per user and per window (``X-RateLimit-Reset``) exactly
``min(sent, limit)`` admitted and the rest 429; exactly one access-log row per request by request
id (nothing lost, nothing logged twice); the stack's memory (RSS of the Worker's and the origin's
process groups) stable from start to end. The same one-row check then fails on a deliberately
broken log (a row deleted, another duplicated). Knobs: ``SOAK_SECONDS``, ``SOAK_USERS``.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from contextlib import closing

import pandas as pd

from gateway_ops import queries
from gateway_ops.accesslog import LocalAccessLog, find_local_database
from gateway_ops.loadtest.engine import EngineOptions, chat_request, run_open
from gateway_ops.loadtest.ratelimit import LOG_COLUMNS, admitted, log_check
from gateway_ops.loadtest.schedule import constant_offsets, open_schedule, user_ids

from helpers import CLIENT_KEY

from .memory import stack_rss_mb

SOAK_S = float(os.environ.get("SOAK_SECONDS", "75"))
USERS = int(os.environ.get("SOAK_USERS", "30"))
LIMIT = 10
PER_USER_RPS = 1.0  # 60 requests a minute per user: six times the limit
#: memory is stable when the end is within this of the start (after warm-up), per process group
MEMORY_GROWTH = 0.25
WARM_UP_S = 30.0


def proxy_failures(frame: pd.DataFrame) -> pd.DataFrame:
    """Answers from wrangler's dev proxy, not from the gateway (see the test)."""
    return frame[(frame["status"] == 503) & (frame["request_id"] == "")
                 & frame["body"].str.contains("restarted mid-request", regex=False)]


def per_window(frame: pd.DataFrame) -> pd.DataFrame:
    """Per user and limiter window (``X-RateLimit-Reset``): sent, admitted, rejected."""
    frame = frame.assign(admitted=admitted(frame))
    grouped = frame.groupby(["user_id", "rl_reset"])
    return pd.DataFrame({"sent": grouped.size(), "admitted": grouped["admitted"].sum(),
                         "rejected": grouped["rate_limited"].sum()}).reset_index()


def one_row_each(log: LocalAccessLog, prefix: str, sent: pd.DataFrame):
    rows = queries.rows_for_user_prefix(log, prefix, 0).reindex(columns=LOG_COLUMNS)
    return log_check(sent, rows)


def sample_memory(stack, samples: list, stop: threading.Event, every_s: float = 5.0) -> None:
    while not stop.is_set():
        samples.append({"t": time.monotonic(), **stack_rss_mb(stack)})
        stop.wait(every_s)


def test_many_users_at_their_limit_for_a_while(make_stack, tmp_path, record_property):
    stack = make_stack(tmp_path / "state", worker_settings={"RATE_LIMIT_PER_MINUTE": str(LIMIT)})
    log = LocalAccessLog(stack.state_dir)
    prefix = f"soak-{uuid.uuid4().hex[:8]}"
    users = user_ids(prefix, USERS)
    request = chat_request(model="gpt-4o-mini", max_tokens=4)
    options = EngineOptions(when_full="wait", timeout_s=30, progress=False, description="soak", api_key=CLIENT_KEY)

    # Warm-up under the soak's own load: the Durable Objects exist and the runtime's heap has grown
    # to its working size (it grows ~100 MB in the first half-minute), so start→end measures drift.
    warm = run_open(stack.url, open_schedule(constant_offsets(PER_USER_RPS * USERS, WARM_UP_S), users), request,
                    options)
    samples: list[dict] = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_memory, args=(stack, samples, stop), daemon=True)
    sampler.start()
    try:
        arrivals = open_schedule(constant_offsets(PER_USER_RPS * USERS, SOAK_S), users)
        run = run_open(stack.url, arrivals, request, options)
    finally:
        stop.set()
        sampler.join()
    samples.append({"t": time.monotonic(), **stack_rss_mb(stack)})
    frame = pd.concat([warm.frame(), run.frame()], ignore_index=True)
    # wrangler's local dev proxy (not the gateway, not on Cloudflare) answers a POST whose hand-off to
    # the Worker failed with its own 503 "restarted mid-request", without X-Request-ID. Counted and
    # kept apart; had the gateway seen one, the checks below would find its row or its admission.
    proxied = proxy_failures(frame)
    assert len(proxied) <= 0.005 * len(frame), proxied[["start_s", "body"]]
    sent = frame.drop(proxied.index)

    # every request answered by the gateway, and nothing but 200 and 429
    assert (sent["status"] > 0).all(), sent.loc[sent["status"] == 0, "error"].value_counts()
    unexpected = sent[~sent["status"].isin([200, 429])]
    assert unexpected.empty, unexpected[["user_id", "status", "rl_limit", "request_id", "body"]].to_string()

    # per user and window: exactly min(sent, limit) admitted
    windows = per_window(sent)
    assert (windows["rl_reset"] != "").all()
    expected = windows["sent"].clip(upper=LIMIT)
    wrong = windows[windows["admitted"] != expected]
    assert wrong.empty, wrong
    assert (windows["admitted"] + windows["rejected"] == windows["sent"]).all()
    full = windows[windows["sent"] > LIMIT]
    assert len(full) >= USERS, "the soak never pushed every user past its limit in some window"

    # exactly one row per request, by request id
    deadline = time.monotonic() + 30
    while (check := one_row_each(log, prefix, sent)).passed is False and time.monotonic() < deadline:
        time.sleep(0.5)
    assert check.passed, check.observed

    # memory stable
    start, end = samples[0], samples[-1]
    for part in ("worker", "origin"):
        assert end[part] <= start[part] * (1 + MEMORY_GROWTH), (part, [round(x[part]) for x in samples])

    figures = {"seconds": SOAK_S, "users": USERS, "limit": LIMIT, "requests": len(frame),
               "dev_proxy_503": len(proxied),
               "admitted": int(admitted(sent).sum()), "rejected_429": int(sent["rate_limited"].sum()),
               "windows": int(windows["rl_reset"].nunique()),
               "rows": len(queries.rows_for_user_prefix(log, prefix, 0)),
               "worker_rss_mb": (start["worker"], end["worker"]), "origin_rss_mb": (start["origin"], end["origin"])}
    figures["worker_rss_samples_mb"] = [round(sample["worker"]) for sample in samples]
    record_property("soak", figures)
    print(f"\nsoak: {figures}")

    # the same check fails on a broken log: one row deleted, another logged twice
    database = find_local_database(stack.state_dir)
    with closing(sqlite3.connect(database, timeout=10)) as db, db:
        ids = [row[0] for row in db.execute("SELECT id FROM requests WHERE user_id LIKE ? ORDER BY id LIMIT 2",
                                            [f"{prefix}%"])]
        db.execute("DELETE FROM requests WHERE id = ?", [ids[0]])
        columns = "request_id, user_id, method, endpoint, model, status, latency_ms, ttfb_ms, tokens_est, stream, " \
                  "error_class, ip_hash, created_at"
        db.execute(f"INSERT INTO requests ({columns}) SELECT {columns} FROM requests WHERE id = ?", [ids[1]])
    broken = one_row_each(log, prefix, sent)
    assert not broken.passed
    assert "1 requests without a row" in broken.observed and "1 request ids logged twice" in broken.observed
