"""The smoke test passes against a working stack and fails, clearly, when a part is broken."""
from __future__ import annotations

from gateway_ops.results import checks_frame
from gateway_ops.smoke import run_smoke
from gateway_ops.stack import free_port
from helpers import CLIENT_KEY


def by_name(checks):
    return {check.name: check for check in checks}


def test_smoke_passes_against_the_local_stack(stack, access_log):
    checks = run_smoke(stack.url, access_log, user_id="smoke-ok", api_key=CLIENT_KEY)
    assert [c.name for c in checks] == ["gateway health", "chat completion", "request id returned",
                                        "rate-limit headers", "access-log row"]
    assert all(c.passed for c in checks), checks_frame(checks).to_string()


def test_smoke_fails_the_chat_check_when_the_origin_errors(stack, access_log, origin):
    origin.put("/_origin/faults", json={"error_rate": 1.0})
    checks = by_name(run_smoke(stack.url, access_log, user_id="smoke-broken", api_key=CLIENT_KEY, model="gpt-4o-mini"))
    assert checks["gateway health"].passed
    assert not checks["chat completion"].passed
    assert checks["chat completion"].observed.startswith("the origin failed (500")


def test_smoke_reports_a_gateway_that_is_not_there(access_log):
    checks = run_smoke(f"http://127.0.0.1:{free_port()}", access_log, timeout=3)
    assert len(checks) == 1
    assert not checks[0].passed and "ConnectError" in checks[0].observed


def test_smoke_fails_when_the_row_is_not_in_the_log(stack, tmp_path):
    from gateway_ops.accesslog import LocalAccessLog

    class EmptyLog(LocalAccessLog):
        def query(self, sql, params=()):
            import pandas as pd

            return pd.DataFrame()

    checks = by_name(run_smoke(stack.url, EmptyLog(tmp_path), user_id="smoke-nolog", log_timeout=0.5,
                                api_key=CLIENT_KEY))
    assert checks["chat completion"].passed
    assert not checks["access-log row"].passed and checks["access-log row"].observed == "no row"


def test_smoke_says_the_origin_refused_the_key(stack, access_log):
    """The strict origin requires the client key: a wrong one (or none) is named as such."""
    for key in ("sk-wrong-key", None):
        checks = by_name(run_smoke(stack.url, access_log, user_id="smoke-wrong-key", api_key=key))
        assert checks["gateway health"].passed and not checks["chat completion"].passed
        assert "the origin refused the key (401 invalid_api_key" in checks["chat completion"].observed
        assert "sk-wrong-key" not in checks_frame(list(checks.values())).to_string()
    # with a model given, the completion itself is refused: same sentence, and its row is still logged
    checks = by_name(run_smoke(stack.url, access_log, user_id="smoke-wrong-key", api_key="sk-wrong-key",
                               model="gpt-4o-mini"))
    assert checks["chat completion"].observed.startswith("the origin refused the key (401 invalid_api_key")
    assert checks["access-log row"].passed


def test_smoke_names_a_model_the_origin_does_not_know(stack, access_log):
    checks = by_name(run_smoke(stack.url, access_log, user_id="smoke-model", api_key=CLIENT_KEY, model="smoke-test"))
    assert not checks["chat completion"].passed
    assert checks["chat completion"].observed.startswith(
        "the origin does not know the model 'smoke-test' (404 model_not_found")


def test_smoke_asks_for_a_model_the_origin_lists(stack, access_log, origin):
    assert all(c.passed for c in run_smoke(stack.url, access_log, user_id="smoke-listed", api_key=CLIENT_KEY))
    chats = [r for r in origin.get("/_origin/requests").json() if r["path"] == "/v1/chat/completions"]
    assert chats[-1]["json"]["model"] == "gpt-4o-mini"
