"""Faults of the origin, through the real Worker: each gets a clear answer, one log row, and the
gateway stays healthy. The origin's faults come from its own knobs (``X-Origin-Fault`` on one
request, ``PUT /_origin/faults`` for all), see gateway_ops/origin/faults.py."""
from __future__ import annotations

import time

import httpx
import pytest

from helpers import client_headers, fresh_user, wait_until

from .breakage import origin_down
from .conftest import HEADERS_TIMEOUT_MS, IDLE_TIMEOUT_MS
from .expect import CHAT, assert_healthy, call, one_row


def test_origin_down_is_a_502_and_the_gateway_recovers_when_it_is_back(faults_stack, faults_log):
    user = fresh_user("down")
    with origin_down(faults_stack):
        answer = call(faults_stack.url, user)
        assert answer.status == 502 and answer.json() == {"error": "The origin could not be reached."}
        assert answer.elapsed < 5
        row = one_row(faults_log, answer.request_id)
        assert (row["user_id"], row["status"], row["error_class"]) == (user, 502, "upstream_unreachable")
        assert httpx.get(f"{faults_stack.url}/health", timeout=5).json()["status"] == "ok"
    assert_healthy(faults_stack.url, faults_log)


def test_an_origin_hanging_before_its_headers_is_a_504_at_the_timeout(faults_stack, faults_log, faults_origin):
    answer = call(faults_stack.url, fresh_user("hang"), fault="hang")
    assert answer.status == 504
    assert answer.json() == {"error": f"The origin did not answer within {HEADERS_TIMEOUT_MS} ms."}
    assert HEADERS_TIMEOUT_MS / 1000 <= answer.elapsed < HEADERS_TIMEOUT_MS / 1000 + 5
    row = one_row(faults_log, answer.request_id)
    assert (row["status"], row["error_class"], row["ttfb_ms"]) == (504, "upstream_timeout", None)
    assert_healthy(faults_stack.url, faults_log)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_slow_headers_within_the_timeout_are_waited_for(faults_stack, faults_log, faults_origin, stream):
    delay_ms = HEADERS_TIMEOUT_MS // 2
    answer = call(faults_stack.url, fresh_user("slow"), fault=f"slow={delay_ms}", stream=stream)
    assert answer.status == 200 and answer.error is None
    if stream:
        assert answer.events[-1] == "[DONE]"
    row = one_row(faults_log, answer.request_id)
    assert row["status"] == 200 and row["error_class"] is None and row["ttfb_ms"] >= delay_ms


def test_slow_headers_past_the_timeout_are_a_504(faults_stack, faults_log, faults_origin):
    answer = call(faults_stack.url, fresh_user("slow"), fault=f"slow={HEADERS_TIMEOUT_MS * 3}")
    assert answer.status == 504 and "did not answer" in answer.json()["error"]
    assert one_row(faults_log, answer.request_id)["error_class"] == "upstream_timeout"
    assert_healthy(faults_stack.url, faults_log)


def test_a_json_body_stalling_after_the_headers_is_a_504_at_the_idle_timeout(faults_stack, faults_log, faults_origin):
    answer = call(faults_stack.url, fresh_user("stall"), fault="stall")
    assert answer.status == 504, answer
    assert f"{IDLE_TIMEOUT_MS} ms" in answer.json()["error"]
    assert answer.elapsed < IDLE_TIMEOUT_MS / 1000 + 5
    row = one_row(faults_log, answer.request_id)
    assert (row["status"], row["error_class"]) == (504, "upstream_idle_timeout")
    assert_healthy(faults_stack.url, faults_log)


def test_a_stream_stalling_after_its_first_event_ends_with_an_error_event(faults_stack, faults_log, faults_origin):
    answer = call(faults_stack.url, fresh_user("stall"), fault="stall", stream=True)
    assert answer.status == 200 and answer.error is None, answer  # the headers had gone: the stream ends cleanly
    assert answer.events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert answer.events[-1]["error"]["code"] == "upstream_idle_timeout"
    assert answer.elapsed < IDLE_TIMEOUT_MS / 1000 + 5
    row = one_row(faults_log, answer.request_id)
    assert (row["status"], row["error_class"], row["stream"]) == (504, "upstream_idle_timeout", 1)
    assert_healthy(faults_stack.url, faults_log)


def test_a_slow_but_steady_stream_is_not_cut_by_the_idle_timeout(faults_stack, faults_log, faults_origin):
    """Each silence is under the idle timeout (the origin sends a token every 25 ms): the whole answer."""
    answer = call(faults_stack.url, fresh_user("steady"), fault=f"stall={IDLE_TIMEOUT_MS // 2}", stream=True)
    assert answer.status == 200 and answer.events[-1] == "[DONE]"
    assert one_row(faults_log, answer.request_id)["error_class"] is None


def test_an_origin_dropping_a_stream_ends_it_with_an_error_event_and_a_502_row(faults_stack, faults_log, faults_origin):
    answer = call(faults_stack.url, fresh_user("drop"), fault="drop", stream=True)
    assert answer.status == 200 and answer.error is None, answer
    assert answer.events[-1]["error"]["code"] == "upstream_stream_error"
    row = one_row(faults_log, answer.request_id)
    assert (row["status"], row["error_class"], row["stream"]) == (502, "upstream_stream_error", 1)
    assert_healthy(faults_stack.url, faults_log)


def test_an_origin_dropping_mid_json_is_a_502(faults_stack, faults_log, faults_origin):
    answer = call(faults_stack.url, fresh_user("drop"), fault="drop")
    assert answer.status == 502 and "origin" in answer.json()["error"].lower()
    row = one_row(faults_log, answer.request_id)
    assert (row["status"], row["error_class"]) == (502, "upstream_body_error")
    assert_healthy(faults_stack.url, faults_log)


def test_malformed_json_from_the_origin_is_relayed_as_sent_and_logged(faults_stack, faults_log, faults_origin):
    """The gateway does not rewrite an origin's body: the client gets the origin's bytes (and can
    see they are broken); the row has no token count rather than a guessed one."""
    from gateway_ops.origin.app import MALFORMED_BODY

    answer = call(faults_stack.url, fresh_user("malformed"), fault="malformed")
    assert answer.status == 200 and answer.body == MALFORMED_BODY
    assert answer.headers is not None and answer.headers["content-type"].startswith("application/json")
    row = one_row(faults_log, answer.request_id)
    assert (row["status"], row["error_class"], row["tokens_est"]) == (200, None, None)
    assert_healthy(faults_stack.url, faults_log)


@pytest.mark.parametrize("status", [500, 503])
def test_a_burst_of_origin_errors_is_passed_on_one_row_each_then_recovers(faults_stack, faults_log, faults_origin,
                                                                         status):
    faults_origin.put("/_origin/faults", json={"error_burst": 4, "error_status": status}).raise_for_status()
    user = fresh_user("burst")
    answers = [call(faults_stack.url, user) for _ in range(6)]
    assert [a.status for a in answers] == [status] * 4 + [200] * 2
    for answer in answers[:4]:
        assert answer.json()["error"]["code"] == "origin_fault"  # the origin's own error, passed on
    rows = [one_row(faults_log, a.request_id) for a in answers]
    assert [(r["status"], r["error_class"]) for r in rows] == [(status, "upstream_error")] * 4 + [(200, None)] * 2
    assert_healthy(faults_stack.url, faults_log)


def test_a_client_leaving_mid_stream_frees_the_origin_and_is_logged_499(faults_stack, faults_log, faults_origin):
    """A 10 s answer (no max_tokens): the client reads its first event and leaves; the origin's
    slot is free long before the answer would have ended, and the row says the client left.
    (With a silent origin, wrangler's local proxy does not pass the disconnect on: there the
    idle timeout ends it, logged 504 — measured; on Cloudflare the Worker sees the disconnect.)"""
    faults_origin.delete("/_origin/stats")
    long_answer = {key: value for key, value in CHAT.items() if key != "max_tokens"}
    started = time.monotonic()
    with httpx.Client(timeout=10) as client:
        with client.stream("POST", f"{faults_stack.url}/v1/chat/completions", headers=client_headers(fresh_user("leaver")),
                           json={**long_answer, "stream": True}) as response:
            request_id = response.headers["x-request-id"]
            next(response.iter_raw())  # the first event arrived; then the client goes away
    freed = wait_until(lambda: faults_origin.get("/_origin/stats").json()["in_flight"] == 0, timeout=5, interval=0.05)
    assert freed and time.monotonic() - started < 7, "the origin kept working for a client that left"
    row = one_row(faults_log, request_id)
    assert (row["status"], row["error_class"], row["stream"]) == (499, "client_closed", 1)
