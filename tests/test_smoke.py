"""The smoke test passes against a working stack and fails, clearly, when a part is broken."""
from __future__ import annotations

from gateway_ops.results import checks_frame
from gateway_ops.smoke import run_smoke
from gateway_ops.stack import free_port


def by_name(checks):
    return {check.name: check for check in checks}


def test_smoke_passes_against_the_local_stack(stack, access_log):
    checks = run_smoke(stack.url, access_log, user_id="smoke-ok")
    assert [c.name for c in checks] == ["gateway health", "chat completion", "request id returned",
                                        "rate-limit headers", "access-log row"]
    assert all(c.passed for c in checks), checks_frame(checks).to_string()


def test_smoke_fails_the_chat_check_when_the_origin_errors(stack, access_log, origin):
    origin.put("/_origin/faults", json={"error_rate": 1.0})
    checks = by_name(run_smoke(stack.url, access_log, user_id="smoke-broken"))
    assert checks["gateway health"].passed
    assert not checks["chat completion"].passed
    assert checks["chat completion"].observed.startswith("500")


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

    checks = by_name(run_smoke(stack.url, EmptyLog(tmp_path), user_id="smoke-nolog", log_timeout=0.5))
    assert checks["chat completion"].passed
    assert not checks["access-log row"].passed and checks["access-log row"].observed == "no row"
