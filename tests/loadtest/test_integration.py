"""The engine, the rate-limit check, the capacity sweep, their CLI and notebooks, against real
local stacks on loopback.

The CLI's default rate-limit run waits for the next UTC minute (up to a minute) to check that the
next window admits again. So that wait costs no test time, the first test starts that command in
the background and the last one collects its result; everything in between runs meanwhile.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from gateway_ops import cli
from gateway_ops.exceptions import NotebookError
from gateway_ops.loadtest import (
    EngineOptions,
    LoadTestError,
    RateLimitPlan,
    SweepPlan,
    Thresholds,
    chat_request,
    constant_offsets,
    open_schedule,
    run_closed,
    run_open,
    run_rate_limit_check,
    run_sweep,
    summarize,
    user_ids,
)
from gateway_ops.loadtest.records import DROPPED
from gateway_ops.notebooks import run_notebook
from gateway_ops.stack import free_port

from helpers import CLIENT_KEY, MODEL, fresh_user

from .conftest import SERVICE_MS, SLOTS

pytestmark = pytest.mark.stack
runner = CliRunner()
QUIET = EngineOptions(progress=False, api_key=CLIENT_KEY)
DESIGN_STEP_KEYS = {"offered_rps", "achieved_rps", "p50_ms", "p95_ms", "p99_ms", "error_rate"}


@pytest.fixture(scope="module")
def next_window_command(stack, tmp_path_factory):
    """`gateway-ops loadtest ratelimit` with its defaults (next-window check on), in the background."""
    out = tmp_path_factory.mktemp("ratelimit-next-window")
    env = {**os.environ, "GATEWAY_URL": stack.url, "GATEWAY_STATE_DIR": str(stack.state_dir), "GATEWAY_TARGET": "local"}
    env.pop("USER_KEY_SECRET", None)
    with open(out / "output.txt", "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway_ops.cli", "loadtest", "ratelimit", "--users", "2", "--requests-per-user", "55",
             "--out", str(out)], stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    yield process, out
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def test_the_next_window_command_starts_in_the_background(next_window_command):
    process, _ = next_window_command
    assert process.poll() in (None, 0)


# --- engine ------------------------------------------------------------------------------------


def test_open_model_streams_measure_time_to_first_token_and_per_output_token(stack):
    """The session origin streams 8 tokens 25 ms apart after 5 ms."""
    arrivals = open_schedule(constant_offsets(20, 0.5), user_ids(fresh_user("eng-stream"), 2))
    frame = run_open(stack.url, arrivals, chat_request(model=MODEL, stream=True, max_tokens=8), QUIET).frame()
    assert (frame["status"] == 200).all() and frame["request_id"].nunique() == len(frame) == 10
    assert (frame["output_tokens"] == 8).all()
    assert frame["tpot_ms"].median() == pytest.approx(25, abs=8)
    assert (frame["ttft_ms"] >= 25).all() and (frame["latency_ms"] >= 5 + 8 * 25).all()
    assert (frame["rl_limit"] == "50").all()


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_both_transports_record_the_same_things(stack, transport, minute_guard):
    minute_guard()  # the remaining counts below are one window's: a boundary restarts them
    arrivals = open_schedule(constant_offsets(20, 0.25), user_ids(fresh_user(f"eng-{transport}"), 1))
    run = run_open(stack.url, arrivals, chat_request(model=MODEL, max_tokens=2), EngineOptions(transport=transport, progress=False, api_key=CLIENT_KEY))
    frame = run.frame()
    assert run.transport == transport
    assert frame["status"].tolist() == [200] * 5 and (frame["output_tokens"] == 2).all()
    assert (frame["rl_remaining"].astype(int).sort_values(ascending=False) == [49, 48, 47, 46, 45]).all()


def test_starts_beyond_the_in_flight_cap_are_dropped_and_counted(stack):
    arrivals = open_schedule([i * 0.01 for i in range(10)], user_ids(fresh_user("eng-drop"), 1))
    frame = run_open(stack.url, arrivals, chat_request(model=MODEL, stream=True, max_tokens=8),
                     EngineOptions(max_in_flight=2, progress=False, api_key=CLIENT_KEY)).frame()
    report = summarize(frame)
    assert report.dropped == 8 and report.status_codes == {"200": 2}
    assert (frame.loc[frame["error"] == DROPPED, "start_s"].isna()).all()


def test_latency_counts_the_wait_behind_a_slow_request(stack):
    """Coordinated omission: with one request in flight, the third waited for two others, and its
    latency (from the intended send) includes that wait, while its service time does not."""
    arrivals = open_schedule([0.0, 0.0, 0.0], user_ids(fresh_user("eng-co"), 1))
    frame = run_open(stack.url, arrivals, chat_request(model=MODEL, max_tokens=2),
                     EngineOptions(max_in_flight=1, when_full="wait", progress=False, api_key=CLIENT_KEY)).frame()
    third = frame.sort_values("start_s").iloc[2]
    assert third["send_lag_ms"] >= 2 * frame["service_ms"].min() * 0.9
    assert third["latency_ms"] == pytest.approx(third["send_lag_ms"] + third["service_ms"])
    assert third["latency_ms"] > 2 * third["service_ms"]


def test_closed_model_users_send_back_to_back(stack):
    run = run_closed(stack.url, user_ids(fresh_user("eng-closed"), 2), chat_request(model=MODEL, max_tokens=1), duration_s=0.5,
                     options=QUIET)
    frame = run.frame()
    assert len(frame) >= 4 and (frame["status"] == 200).all()
    assert set(frame["user_id"]) == set(user_ids(frame["user_id"].iloc[0].rsplit("-u", 1)[0], 2))
    assert frame["send_lag_ms"].max() < 50


def test_the_engine_runs_from_inside_a_running_event_loop_as_in_jupyter(stack):
    async def cell():
        return run_open(stack.url, open_schedule([0.0], [fresh_user("eng-loop")]), chat_request(model=MODEL, max_tokens=1), QUIET)

    assert asyncio.run(cell()).records[0].status == 200


def test_an_unreachable_gateway_is_one_sentence():
    with pytest.raises(LoadTestError, match="cannot be reached"):
        run_sweep(f"http://127.0.0.1:{free_port()}", SweepPlan(), progress=False)


# --- rate-limit check ----------------------------------------------------------------------------


def test_the_rate_limit_check_passes_on_the_local_stack(stack, access_log):
    run = run_rate_limit_check(stack.url, access_log, RateLimitPlan(users=3, requests_per_user=55,
                                                                     check_next_window=False),
                               api_key=CLIENT_KEY, progress=False)
    assert run.passed, [c for c in run.checks if not c.passed]
    assert run.per_user["accepted"].tolist() == [50, 50, 50] and run.per_user["rejected_429"].tolist() == [5, 5, 5]
    assert len(run.log_rows) == 165
    assert run.plan.model == "gpt-4o-mini"  # the first model the origin lists
    served = {c.name: c for c in run.checks}["the origin served the admitted requests"]
    assert served.passed and served.observed == "150 of 150 served"


def test_the_rate_limit_check_fails_naming_the_cause_when_the_origin_refuses_the_key(gateway_env, tmp_path,
                                                                                    monkeypatch):
    """The limiter admits exactly the limit either way; with a wrong key the origin refuses every
    admitted request (401), and a check that passed then would pass on a broken event."""
    monkeypatch.setenv("GATEWAY_CLIENT_API_KEY", "sk-wrong-key")
    out = tmp_path / "wrong-key"
    result = runner.invoke(cli.app, ["loadtest", "ratelimit", "--users", "1", "--requests-per-user", "52",
                                     "--no-next-window", "--model", MODEL, "--out", str(out)])
    assert result.exit_code == 1, result.output
    recorded = json.loads((out / "result.json").read_text())
    failed = {c["name"]: c for c in recorded["checks"] if not c["passed"]}
    assert list(failed) == ["the origin served the admitted requests"]
    assert failed["the origin served the admitted requests"]["observed"].startswith(
        "50 of 50 answered 401: the origin refused the key (401 invalid_api_key")
    assert "sk-wrong-key" not in result.output + (out / "result.json").read_text() + (out / "requests.csv").read_text()
    # without --model, the model list is asked first: refused, it is one sentence and nothing is sent
    listed = runner.invoke(cli.app, ["loadtest", "ratelimit", "--users", "1", "--requests-per-user", "3",
                                     "--no-next-window", "--out", str(tmp_path / "no-model")])
    assert listed.exit_code == 1 and "Error: Asking for /v1/models, the origin refused the key" in listed.output
    assert "Traceback" not in listed.output


def test_an_unknown_model_fails_the_check_naming_the_model(stack, access_log):
    run = run_rate_limit_check(stack.url, access_log, RateLimitPlan(users=1, requests_per_user=2, check_next_window=False,
                                                                     model="no-such-model"),
                               api_key=CLIENT_KEY, progress=False)
    failed = [c for c in run.checks if not c.passed]
    assert [c.name for c in failed] == ["the origin served the admitted requests"]
    assert "the origin does not know the model 'no-such-model' (404 model_not_found" in failed[0].observed


def test_the_spread_mode_passes_too(stack, access_log):
    plan = RateLimitPlan(users=2, requests_per_user=52, mode="spread", spread_s=2.0, check_next_window=False)
    run = run_rate_limit_check(stack.url, access_log, plan, api_key=CLIENT_KEY, progress=False)
    assert run.passed, [c for c in run.checks if not c.passed]
    assert run.burst["scheduled_s"].max() > 1.9


def test_a_broken_limit_fails_the_command_and_the_notebook(make_stack, tmp_path, monkeypatch):
    """The Worker admits 80 per minute while the check expects 50: the promise is broken, so the
    check must say so (exit 1, a failing notebook) — and only in the checks that guard it."""
    broken = make_stack(tmp_path / "state", worker_settings={"RATE_LIMIT_PER_MINUTE": "80"})
    monkeypatch.setenv("GATEWAY_STATE_DIR", str(broken.state_dir))
    monkeypatch.setenv("GATEWAY_TARGET", "local")
    monkeypatch.delenv("USER_KEY_SECRET", raising=False)
    out = tmp_path / "cli"
    result = runner.invoke(cli.app, ["loadtest", "ratelimit", "--url", broken.url, "--users", "2",
                                     "--requests-per-user", "60", "--limit", "50", "--no-next-window", "--out", str(out)])
    assert result.exit_code == 1, result.output
    recorded = json.loads((out / "result.json").read_text())
    assert recorded["passed"] is False
    assert sorted(c["name"] for c in recorded["checks"] if not c["passed"]) == [
        "X-RateLimit-* headers consistent",
        "accepted == min(requests, limit) per user",
        "every rejection is a 429 with the limit's message",
    ]
    assert [u["accepted"] for u in recorded["per_user"]] == [60, 60]

    monkeypatch.setenv("GATEWAY_URL", broken.url)
    with pytest.raises(NotebookError, match="The per-user limit did not hold"):
        run_notebook("06_rate_limit_check", {"users": 1, "requests_per_user": 55}, run_dir=tmp_path / "runs")
    failed = json.loads((tmp_path / "runs" / "06_rate_limit_check" / "result.json").read_text())
    assert failed["passed"] is False


# --- capacity sweep ------------------------------------------------------------------------------


def test_the_knee_matches_the_origins_slot_model(slots_origin, make_stack, tmp_path):
    """4 slots × 200 ms fixed service = 20 requests/s. Below it, requests never queue (p95 ≈ 200 ms
    plus the gateway); above it the queue grows every second. The knee must fall in [15, 20]."""
    capacity_rps = SLOTS * 1000 / SERVICE_MS
    gateway = make_stack(tmp_path / "state", upstream_url=slots_origin)
    plan = SweepPlan(rates=(5.0, 10.0, 15.0, 25.0, 40.0), step_s=2.0, thresholds=Thresholds(p95_ms=2 * SERVICE_MS),
                     stop_after_failures=1)
    sweep = run_sweep(gateway.url, plan, progress=False)  # this origin is open: no key, any model
    steps = sweep.steps.set_index("offered_rps")
    assert sweep.knee_rps is not None and 0.75 * capacity_rps <= sweep.knee_rps <= capacity_rps, sweep.steps.to_string()
    assert sweep.knee_rps == 15.0
    assert steps.loc[25.0, "p95_ms"] > 2 * SERVICE_MS  # past capacity the backlog shows as latency
    assert steps.loc[15.0, "achieved_rps"] == pytest.approx(15, rel=0.1)
    assert 40.0 not in steps.index  # stopped after the first failing step
    assert all(c.passed for c in sweep.checks)
    # Little's law from the knee (15 req/s) × the unloaded latency (200 ms + the gateway) gives back the slots
    assert sweep.concurrency_advice().value == SLOTS, sweep.concurrency_advice()


def test_the_capacity_command_writes_steps_and_knee(gateway_env, tmp_path):
    result = runner.invoke(cli.app, ["loadtest", "capacity", "--rates", "4,8", "--duration", "1.5", "--out",
                                     str(tmp_path)])
    assert result.exit_code == 0, result.output
    recorded = json.loads((tmp_path / "result.json").read_text())
    assert recorded["passed"] is True and recorded["knee_rps"] == 8.0
    assert [s["offered_rps"] for s in recorded["steps"]] == [4.0, 8.0]
    assert all(DESIGN_STEP_KEYS <= set(s) for s in recorded["steps"])
    assert (tmp_path / "capacity.html").exists() and (tmp_path / "requests.csv").exists()
    assert "knee: 8 req/s" in result.output
    advice = recorded["origin_concurrency"]
    assert advice["knee_rps"] == 8.0 and advice["origin_max_concurrency"] >= 1
    assert f"ORIGIN_MAX_CONCURRENCY for this origin: {advice['origin_max_concurrency']}. Little's law" in result.output
    assert f"gateway-ops origin concurrency {advice['origin_max_concurrency']} --target" in result.output


def test_a_sweep_the_origin_refuses_fails_naming_the_cause(stack):
    plan = SweepPlan(rates=(4.0,), step_s=1.0, model=MODEL)
    sweep = run_sweep(stack.url, plan, api_key="sk-wrong-key", progress=False)
    checks = {c.name: c for c in sweep.checks}
    refused = checks["the origin served the sweep's requests"]
    assert not refused.passed and "4 of 4 answered 401: the origin refused the key" in refused.observed
    assert not checks["capacity found (knee)"].passed


def test_bad_command_input_is_one_line_and_sends_nothing(gateway_env):
    bad_rates = runner.invoke(cli.app, ["loadtest", "capacity", "--rates", "4,x"])
    assert bad_rates.exit_code == 1 and "Error: Rates must be comma-separated numbers" in bad_rates.output
    too_big = runner.invoke(cli.app, ["loadtest", "ratelimit", "--users", "100", "--requests-per-user", "100"])
    assert too_big.exit_code == 1 and "more than fits in one UTC minute" in too_big.output
    unreachable = runner.invoke(cli.app, ["loadtest", "ratelimit", "--url", f"http://127.0.0.1:{free_port()}"])
    assert unreachable.exit_code == 1 and "cannot be reached" in unreachable.output
    assert "Traceback" not in bad_rates.output + too_big.output + unreachable.output


# --- notebooks -----------------------------------------------------------------------------------


@pytest.mark.notebook
def test_the_rate_limit_notebook_passes_with_parameters(gateway_env, tmp_path):
    run = run_notebook("06_rate_limit_check", {"users": 2, "requests_per_user": 55, "mode": "burst"}, run_dir=tmp_path)
    assert run.passed and run.result is not None, json.dumps(run.result, indent=2)
    assert [u["accepted"] for u in run.result["per_user"]] == [50, 50]
    assert run.result["next_window_checked"] is False
    assert (tmp_path / "06_rate_limit_check" / "rate_limit.html").exists()


@pytest.mark.notebook
def test_the_capacity_notebook_passes_with_parameters_and_streams(gateway_env, tmp_path):
    run = run_notebook("07_capacity_test", {"rates": [4.0, 8.0], "step_s": 1.5, "stream": True, "answer_length": 4},
                       run_dir=tmp_path)
    assert run.passed and run.result is not None, json.dumps(run.result, indent=2)
    assert run.result["knee_rps"] == 8.0
    assert all(DESIGN_STEP_KEYS <= set(step) for step in run.result["steps"])
    assert all(step["ttft_p50_ms"] >= 25 for step in run.result["steps"])  # 5 ms + the first 25 ms token
    assert run.result["origin_concurrency"]["origin_max_concurrency"] >= 1
    assert run.result["recommendations"][0] == {"per_user_limit": 10, "attendees": 25, "peak_rps": 4.17,
                                                "share_of_knee": 0.521, "holds": True}


# --- last: the background command's result --------------------------------------------------------


def test_the_rate_limit_command_checks_the_next_window_by_default(next_window_command):
    process, out = next_window_command
    process.wait(timeout=120)
    output = (out / "output.txt").read_text()
    assert process.returncode == 0, output
    recorded = json.loads((out / "result.json").read_text())
    assert recorded["passed"] is True and recorded["next_window_checked"] is True
    names = [c["name"] for c in recorded["checks"]]
    assert "next window admits again" in names and len(names) == 9
    assert "Traceback" not in output
