"""Faults of the Worker's own storage (D1, KV, the limiter's Durable Object), made real underneath
the running Worker (tests/faults/breakage.py): each gets a clear answer, a log row while D1 is up,
and the gateway is healthy once the storage is back."""
from __future__ import annotations

import httpx
import pytest

from helpers import fresh_user

from .breakage import d1_writes_failing, kv_failing, limiter_failing
from .expect import assert_healthy, call, no_row, one_row

def test_a_d1_write_failure_never_touches_the_answer_and_is_reported(faults_stack, faults_log, faults_origin):
    user = fresh_user("d1-down")
    with d1_writes_failing(faults_stack.state_dir):
        answers = [call(faults_stack.url, user), call(faults_stack.url, user, stream=True)]
        assert [a.status for a in answers] == [200, 200] and answers[1].events[-1] == "[DONE]"
        for answer in answers:
            no_row(faults_log, answer.request_id)  # D1 is down: nothing could be written …
        worker_output = "\n".join(faults_stack.worker.output)
        for answer in answers:  # … and the Worker says which request's row was lost
            assert f"access log write failed {answer.request_id}" in worker_output
        assert httpx.get(f"{faults_stack.url}/health", timeout=5).json()["status"] == "ok"
    assert_healthy(faults_stack.url, faults_log)


def test_the_d1_check_can_fail(faults_stack, faults_log):
    """``no_row`` is not vacuous: with D1 up, the same request's row is there."""
    answer = call(faults_stack.url, fresh_user("d1-up"))
    with pytest.raises(AssertionError):
        no_row(faults_log, answer.request_id)


def test_a_kv_failure_is_a_503_kv_unavailable_with_retry_after(faults_stack, faults_log, faults_origin):
    user = fresh_user("kv-down")
    call(faults_stack.url, fresh_user("kv-warm"))  # the KV namespace exists once a request has read it
    faults_origin.delete("/_origin/requests")
    with kv_failing(faults_stack.state_dir):
        answer = call(faults_stack.url, user)
        assert answer.status == 503, answer
        assert "try again" in answer.json()["error"].lower()
        assert answer.headers is not None and int(answer.headers["retry-after"]) > 0
        row = one_row(faults_log, answer.request_id)
        assert (row["user_id"], row["status"], row["error_class"]) == (user, 503, "kv_unavailable")
    assert faults_origin.get("/_origin/requests").json() == []  # nothing reached the origin
    assert_healthy(faults_stack.url, faults_log)


def test_a_limiter_failure_is_a_502_for_that_user_only(faults_stack, faults_log, faults_origin):
    user, other = fresh_user("limiter-down"), fresh_user("limiter-ok")
    assert call(faults_stack.url, user).status == 200  # the user's limiter object exists now
    with limiter_failing(faults_stack.state_dir, user):
        answer = call(faults_stack.url, user)
        assert answer.status == 502
        assert answer.json() == {"error": "The rate limiter is unavailable; try again shortly."}
        row = one_row(faults_log, answer.request_id)
        assert (row["user_id"], row["status"], row["error_class"]) == (user, 502, "limiter_unavailable")
        assert call(faults_stack.url, other).status == 200
    back = call(faults_stack.url, user)
    assert back.status == 200 and one_row(faults_log, back.request_id)["status"] == 200
    assert_healthy(faults_stack.url, faults_log)
