"""The origin gate's promises through the local stack (real Worker, simulated origin on loopback).

Two stacks in front of the same kind of origin (16 slots, 600 ms per answer, deep queue, so on its
own it takes everything): one with ``ORIGIN_MAX_CONCURRENCY=2`` and a 1.5 s queue timeout, one
without a gate. The same burst goes to both. The origin records the most requests it held at once
(generating + queued): with the gate it never exceeds 2; without, the same check fails.
"""
from __future__ import annotations

import json

import httpx
import pytest

from conftest import start_stack
from gateway_ops.accesslog import LocalAccessLog
from gateway_ops.dashboards.origins import NO_TOKEN, OriginPanel, admin_views
from gateway_ops.controls.client import AdminClient
from gateway_ops.loadtest.engine import EngineOptions, chat_request, run_open
from gateway_ops.loadtest.schedule import burst_schedule
from gateway_ops.settings import Settings
from helpers import fresh_user, wait_for_rows

pytestmark = pytest.mark.stack

MAX = 2
QUEUE_TIMEOUT_MS = 1500
ADMIN_TOKEN = "gate-test-admin-token-3f9c"
ORIGIN = ["--slots", "16", "--latency-ms", "600", "--per-token-ms", "0", "--output-tokens", "4",
          "--max-queue", "1024", "--jitter", "0"]
SETTINGS = {"RATE_LIMIT_PER_MINUTE": "1000", "ADMIN_TOKEN": ADMIN_TOKEN}
GATE = {"ORIGIN_MAX_CONCURRENCY": str(MAX), "ORIGIN_QUEUE_TIMEOUT_MS": str(QUEUE_TIMEOUT_MS)}
BURST = 12


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("gated"), origin_args=ORIGIN, worker_settings={**SETTINGS, **GATE})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ungated(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("ungated"), origin_args=ORIGIN, worker_settings=SETTINGS)
    yield running
    running.stop()


def burst(stack, user: str):
    """``BURST`` requests from one user, all due at once; returns (records frame, the origin's stats)."""
    httpx.delete(f"{stack.origin_url}/_origin/stats", timeout=5)
    options = EngineOptions(max_in_flight=BURST, when_full="wait", timeout_s=30, progress=False)
    run = run_open(stack.url, burst_schedule([user], BURST), chat_request(), options)
    return run.frame(), httpx.get(f"{stack.origin_url}/_origin/stats", timeout=5).json()


def origin_bounded(stats: dict, limit: int = MAX) -> bool:
    """The promise: the origin never held more than the gate's limit (and did hold something)."""
    return 0 < stats["peak_held"] <= limit


@pytest.fixture(scope="module")
def gated_burst(gated):
    user = fresh_user("gate-on")
    frame, stats = burst(gated, user)
    return user, frame, stats


def test_with_the_gate_the_origin_never_holds_more_than_the_limit(gated_burst, ungated):
    _, frame, stats = gated_burst
    assert origin_bounded(stats), stats
    assert frame["ok"].sum() >= MAX  # the gate let work through, it did not just refuse
    _, ungated_stats = burst(ungated, fresh_user("gate-off"))
    assert not origin_bounded(ungated_stats), ungated_stats  # the same check fails without the gate
    assert ungated_stats["peak_held"] > MAX


def test_past_the_queue_timeout_the_answer_is_503_origin_busy_with_retry_after(gated_burst):
    _, frame, _ = gated_burst
    refused = frame[~frame["ok"]]
    assert len(refused) > 0 and set(refused["status"]) == {503}, frame[["status", "error", "body"]]
    waited_ms = (refused["end_s"] - refused["start_s"]) * 1000
    assert (waited_ms >= QUEUE_TIMEOUT_MS - 50).all() and (waited_ms <= QUEUE_TIMEOUT_MS + 1000).all(), waited_ms
    assert (refused["retry_after"].astype(int) >= 1).all()
    assert all("error" in json.loads(body) for body in refused["body"])


def test_rows_carry_the_origin_and_the_gate_wait(gated_burst, gated):
    user, frame, _ = gated_burst
    rows = wait_for_rows(LocalAccessLog(gated.state_dir), user, BURST)
    assert len(rows) == BURST
    served, busy = rows[rows["status"] == 200], rows[rows["status"] == 503]
    assert len(served) == int(frame["ok"].sum()) and len(busy) == BURST - len(served)
    assert set(served["origin"]) == {"0"} and served["gate_wait_ms"].notna().all()
    assert (served["gate_wait_ms"] > 0).any()  # the later ones queued at the gate
    assert set(busy["error_class"]) == {"origin_busy"}
    assert (busy["gate_wait_ms"] >= QUEUE_TIMEOUT_MS - 50).all(), busy[["gate_wait_ms", "origin"]]


def test_without_the_gate_rows_have_an_origin_and_no_gate_wait(ungated):
    user = fresh_user("no-gate-row")
    assert httpx.post(f"{ungated.url}/v1/chat/completions", headers={"X-User-ID": user},
                      json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}, timeout=10).status_code == 200
    rows = wait_for_rows(LocalAccessLog(ungated.state_dir), user, 1)
    assert rows["origin"].tolist() == ["0"] and rows["gate_wait_ms"].isna().all()


def test_origin_panel_reads_the_gate_status_with_the_token(gated, monkeypatch):
    with AdminClient(gated.url, ADMIN_TOKEN) as client:
        status = client.status()
    assert status["gate"]["enabled"] is True and status["origins"][0]["max_concurrency"] == MAX
    monkeypatch.setenv("ADMIN_TOKEN", ADMIN_TOKEN)
    html = admin_views(Settings(_env_file=None), "cloudflare", url=gated.url)[0].refresh()
    assert "Gate on" in html and f">{status['origins'][0]['host']}<" in html


def test_origin_panel_says_so_without_a_token_or_with_a_wrong_one(gated, monkeypatch, tmp_path):
    monkeypatch.delenv("ADMIN_TOKEN", raising=False)
    panel = admin_views(Settings(_env_file=None, GATEWAY_STATE_DIR=tmp_path), "local", url=gated.url)[0]
    assert panel.read is None and NO_TOKEN.split(":")[0] in panel.refresh()
    wrong = OriginPanel(AdminClient(gated.url, "not-the-token").status)
    assert "refused the admin token (401)" in wrong.refresh() and "not-the-token" not in wrong.refresh()


def test_a_pool_of_two_simulated_origins_shares_the_load_each_within_its_limit(tmp_path):
    from gateway_ops.stack import free_port

    pool = start_stack(tmp_path / "pool", origin_args=ORIGIN, pool_ports=[free_port()],
                       worker_settings={**SETTINGS, **GATE})
    try:
        assert pool.config.pool_ports and len(pool.origin_urls) == 2
        user = fresh_user("pool")
        for url in pool.origin_urls:
            httpx.delete(f"{url}/_origin/stats", timeout=5)
        options = EngineOptions(max_in_flight=2 * MAX, when_full="wait", timeout_s=30, progress=False)
        run = run_open(pool.url, burst_schedule([user], 2 * MAX), chat_request(), options)
        assert run.frame()["ok"].all()  # 4 requests, 2 slots per origin: nobody waits long
        held = [httpx.get(f"{url}/_origin/stats", timeout=5).json()["peak_held"] for url in pool.origin_urls]
        assert all(0 < peak <= MAX for peak in held), held
        rows = wait_for_rows(LocalAccessLog(pool.state_dir), user, 2 * MAX)
        assert set(rows["origin"]) == {"0", "1"}
    finally:
        pool.stop()
