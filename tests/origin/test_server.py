"""The origin as a real loopback server: streaming timing, connection-level faults, control over
HTTP, ``running_origin`` itself, and the command line."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from gateway_ops.origin import main, running_origin

from .helpers import CHAT, LiveOrigin, fast_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


# --- streaming over a real socket --------------------------------------------------------------


def test_the_first_event_arrives_long_before_the_stream_ends() -> None:
    settings = fast_settings(latency_ms=100, per_token_ms=30, output_tokens=15, jitter=0)
    with running_origin(settings) as url, httpx.Client(base_url=url, timeout=10) as client:
        started = time.monotonic()
        arrivals: list[float] = []
        with client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("data: "):
                    arrivals.append(time.monotonic() - started)
    first, last = arrivals[0], arrivals[-1]
    assert len(arrivals) == 1 + 15 + 1 + 1  # role, tokens, finish, [DONE]
    assert first >= 0.09  # after the time to first token (100 ms) ...
    assert last >= 0.5  # ... while the whole generation takes 100 + 15 * 30 ms
    assert first < 0.5 * last  # not after the whole latency


def test_running_origin_picks_a_free_port_and_frees_it_on_exit() -> None:
    with running_origin(fast_settings()) as url:
        port = httpx.URL(url).port
        assert url.startswith("http://127.0.0.1:") and port and port > 0
        assert httpx.get(f"{url}/_origin/health").json()["status"] == "ok"
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


# --- connection-level faults -------------------------------------------------------------------


def test_hang_never_sends_headers(live: LiveOrigin) -> None:
    with httpx.Client(base_url=live.url, timeout=httpx.Timeout(5.0, read=0.3)) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.post("/v1/chat/completions", json=CHAT, headers={"X-Origin-Fault": "hang"})
        assert time.monotonic() - started >= 0.29
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 200  # others still served
    recorded = live.app.state.recorder.all()
    assert [item.headers.get("x-origin-fault") for item in recorded] == ["hang", None]


def test_hang_set_over_http_applies_to_every_request(live: LiveOrigin) -> None:
    with httpx.Client(base_url=live.url, timeout=httpx.Timeout(5.0, read=0.2)) as client:
        assert client.put("/_origin/faults", json={"hang": True}).status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            client.get("/v1/models")
        client.delete("/_origin/faults")
        assert client.get("/v1/models").status_code == 200


def test_slow_headers_set_over_http_delay_the_headers(live: LiveOrigin) -> None:
    with httpx.Client(base_url=live.url, timeout=5) as client:
        client.put("/_origin/faults", json={"slow_headers_ms": 250})
        started = time.monotonic()
        response = client.post("/v1/chat/completions", json=CHAT)
        elapsed = time.monotonic() - started
    assert response.status_code == 200 and elapsed >= 0.24


def events_until(live: LiveOrigin, fault: str, error: type[Exception], timeout: httpx.Timeout) -> list[dict]:
    """The stream's events read until the client sees ``error`` (which it must), under ``fault``."""
    events: list[dict] = []
    with httpx.Client(base_url=live.url, timeout=timeout) as client:
        with pytest.raises(error):
            with client.stream(
                "POST", "/v1/chat/completions", json={**CHAT, "stream": True}, headers={"X-Origin-Fault": fault}
            ) as response:
                assert response.status_code == 200
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))
    return events


def test_drop_aborts_a_stream_after_one_event(live: LiveOrigin) -> None:
    events = events_until(live, "drop", httpx.RemoteProtocolError, timeout=httpx.Timeout(5.0))
    assert len(events) == 1 and events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert live.app.state.capacity.in_flight == 0  # the dropped stream gave its slot back


def test_drop_aborts_a_json_answer_midway(live: LiveOrigin) -> None:
    with httpx.Client(base_url=live.url, timeout=5) as client:
        client.put("/_origin/faults", json={"drop_connection": True})
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete|complete message body"):
            client.post("/v1/chat/completions", json=CHAT)
        client.delete("/_origin/faults")
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 200


def test_control_endpoints_over_http_show_what_was_forwarded(live: LiveOrigin) -> None:
    with httpx.Client(base_url=live.url, timeout=5) as client:
        client.post("/v1/chat/completions?via=gateway", json=CHAT, headers={"X-Forwarded-User": "alice"})
        (record,) = client.get("/_origin/requests", params={"last": 1}).json()
        stats = client.get("/_origin/stats").json()
    assert record["path"] == "/v1/chat/completions" and record["query"] == "via=gateway"
    assert record["headers"]["x-forwarded-user"] == "alice" and record["json"] == CHAT
    assert record["body_size"] == int(record["headers"]["content-length"])
    assert stats["served"] == 1 and stats["in_flight"] == 0


# --- command line ------------------------------------------------------------------------------


def _start_cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "gateway_ops.origin", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout
    assert stdout is not None
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""


def test_cli_prints_its_ready_line_serves_and_stops_on_terminate() -> None:
    process = _start_cli("--port", "0", "--profile", "instant", "--model", "cli-model", "--slots", "3")
    try:
        line = _first_line(process, timeout=60)
        assert line.startswith("origin ready http://127.0.0.1:"), (line, process.poll())
        url = line.split()[-1]
        assert httpx.get(f"{url}/v1/models").json()["data"][0]["id"] == "cli-model"
        assert httpx.get(f"{url}/_origin/stats").json()["slots"] == 3
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)  # also closes the pipes
    assert process.returncode is not None
    assert "Traceback" not in stderr


def test_cli_refuses_an_unknown_profile_naming_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--profile", "nonsense", "--port", "0"])
    assert exited.value.code == 2
    assert "Unknown origin profile 'nonsense'; valid profiles: instant, large, mac-mini" in capsys.readouterr().err


def test_cli_runs_strict_with_the_key_from_the_environment_and_never_shows_it() -> None:
    key = "sk-cli-origin-7Hq2Zx"
    os.environ["ORIGIN_TEST_API_KEY"] = key  # _start_cli passes a copy of os.environ
    try:
        process = _start_cli("--port", "0", "--profile", "instant", "--models", "alpha,beta",
                             "--reject-unknown-models", "--api-key-env", "ORIGIN_TEST_API_KEY")
    finally:
        del os.environ["ORIGIN_TEST_API_KEY"]
    try:
        line = _first_line(process, timeout=60)
        assert line.startswith("origin ready http://127.0.0.1:"), (line, process.poll())
        url = line.split()[-1]
        assert key not in Path(f"/proc/{process.pid}/cmdline").read_bytes().decode()
        body = {**CHAT, "model": "alpha"}
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.post("/v1/chat/completions", json=body).status_code == 401
            wrong = client.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer no"})
            assert wrong.status_code == 401
            keyed = {"Authorization": f"Bearer {key}"}
            assert client.post("/v1/chat/completions", json=body, headers=keyed).status_code == 200
            unknown = client.post("/v1/chat/completions", json={**body, "model": "gamma"}, headers=keyed)
            assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
            assert [m["id"] for m in client.get("/v1/models", headers=keyed).json()["data"]] == ["alpha", "beta"]
            assert client.get("/_origin/health").json()["access"] == "api-key"
            assert key not in client.get("/_origin/requests").text
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=10)
    assert key not in line + stdout + stderr and "Traceback" not in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--api-key-env", "ORIGIN_TEST_UNSET_VARIABLE"], "ORIGIN_TEST_UNSET_VARIABLE: that environment variable"),
        (["--api-key", "k", "--api-key-env", "HOME"], "give --api-key or --api-key-env, not both"),
        (["--api-key", "k", "--codex-token", "t"], "not both"),
    ],
)
def test_cli_refuses_a_credential_it_cannot_use(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORIGIN_TEST_UNSET_VARIABLE", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["--port", "0", *args])
    assert exited.value.code == 2 and message in capsys.readouterr().err


def test_cli_codex_mode_reads_the_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway_ops.origin.server import build_parser, settings_from_args

    monkeypatch.setenv("ORIGIN_TEST_CODEX_TOKEN", "codex-secret-1")
    argv = ["--codex-token-env", "ORIGIN_TEST_CODEX_TOKEN", "--model", "a", "--models", "b,a"]
    args = build_parser().parse_args(argv)
    settings = settings_from_args(args)
    assert settings.access.mode == "codex" and settings.access.codex_token == "codex-secret-1"
    assert settings.models == ("a", "b") and settings.reject_unknown_models is False


def test_strict_args_for_the_stack_run_the_origin_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway_ops.origin import strict_args
    from gateway_ops.origin.server import build_parser, settings_from_args

    monkeypatch.setenv("GATEWAY_CLIENT_API_KEY", "sk-client-key-3")
    argv = strict_args(api_key_env="GATEWAY_CLIENT_API_KEY", models=["m1", "m2"])
    assert "sk-client-key-3" not in " ".join(argv)
    settings = settings_from_args(build_parser().parse_args(argv))
    assert settings.access.mode == "api-key" and settings.access.api_key == "sk-client-key-3"
    assert settings.models == ("m1", "m2") and settings.reject_unknown_models
    monkeypatch.setenv("GATEWAY_CODEX_TOKEN", "codex-token-4")
    codex = settings_from_args(build_parser().parse_args(strict_args(codex_token_env="GATEWAY_CODEX_TOKEN")))
    assert codex.access.mode == "codex" and codex.models == ("gpt-4o-mini", "llama3.2:3b")


def test_stall_sends_the_first_event_then_nothing_until_the_client_leaves(live: LiveOrigin) -> None:
    events = events_until(live, "stall", httpx.ReadTimeout, timeout=httpx.Timeout(5.0, read=0.4))
    assert len(events) == 1 and events[0]["choices"][0]["delta"]["role"] == "assistant"
    stats = wait_until_released(live)
    assert stats == 0, "the stalled stream kept its generation slot after the client left"


def test_stall_holds_a_json_body_halfway(live: LiveOrigin) -> None:
    with httpx.Client(base_url=live.url, timeout=httpx.Timeout(5.0, read=0.4)) as client:
        client.put("/_origin/faults", json={"stall_after_headers": True})
        with client.stream("POST", "/v1/chat/completions", json=CHAT) as response:
            assert response.status_code == 200
            promised = int(response.headers["content-length"])
            received = bytearray()
            with pytest.raises(httpx.ReadTimeout):
                for chunk in response.iter_bytes():
                    received += chunk
        assert 0 < len(received) < promised
        client.delete("/_origin/faults")
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 200


def test_a_finite_stall_then_finishes_the_answer(live: LiveOrigin) -> None:
    with httpx.Client(base_url=live.url, timeout=5) as client:
        started = time.monotonic()
        response = client.post("/v1/chat/completions", json=CHAT, headers={"X-Origin-Fault": "stall=200"})
        elapsed = time.monotonic() - started
    assert response.status_code == 200 and response.json()["object"] == "chat.completion"
    assert elapsed >= 0.19


def test_an_error_burst_over_http_then_recovery(live: LiveOrigin) -> None:
    with httpx.Client(base_url=live.url, timeout=5) as client:
        assert client.put("/_origin/faults", json={"error_burst": 3, "error_status": 503}).status_code == 200
        statuses = [client.get("/v1/models").status_code for _ in range(5)]
        assert client.get("/_origin/faults").json()["error_burst"] == 0
    assert statuses == [503, 503, 503, 200, 200]


def wait_until_released(live: LiveOrigin, timeout: float = 3.0) -> int:
    """The origin's in-flight count once it drops to 0, or what it is at ``timeout``."""
    deadline = time.monotonic() + timeout
    while live.app.state.capacity.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    return live.app.state.capacity.in_flight
