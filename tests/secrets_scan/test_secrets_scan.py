"""Secrets scan: the stack, the commands and the notebooks run with recognisable fake secrets in
their environment, then every output is scanned for them — executed notebooks, result.json files,
reports, archives, key files, command stdout/stderr, the Worker's and the origin's logs and the
whole local state folder (the access log's D1 file included). None may appear, in any form the
scanner knows (tests/secrets_scan/scanner.py); and the scanner is shown finding a planted one.
"""
from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway_ops.keys import user_key
from gateway_ops.notebooks import run_notebook
from helpers import fresh_user

from .scanner import fake_secrets, needles, scan_bytes, scan_paths

NOTEBOOKS: dict[str, dict[str, Any]] = {
    "02_secrets": {"target": "local"},
    "04_smoke_test": {},
    "05_attendees": {"attendee_count": 3, "tier_check_limit": 1},
    "09_event_report": {"since": "1h"},
}


def commands(out: Path) -> dict[str, list[str]]:
    return {
        "smoke": ["-v", "smoke"],
        "query csv": ["query", "SELECT * FROM requests", "--format", "csv"],
        "query json": ["query", "SELECT * FROM requests", "--format", "json"],
        "attendees keys": ["attendees", "keys", "--count", "3", "--out", str(out / "keys.csv"), "--cards",
                           str(out / "cards.html")],
        "attendees tier": ["attendees", "tier", "scan-tier-user", "7"],
        "attendees tiers": ["attendees", "tiers"],
        "loadtest ratelimit": ["-v", "loadtest", "ratelimit", "--users", "2", "--requests-per-user", "52",
                               "--no-next-window", "--out", str(out / "ratelimit")],
        "report": ["report", "--out", str(out / "report.html"), "--since", "1h"],
        "archive": ["archive", "--out", str(out / "archive"), "--since", "1h"],
        "bootstrap dry run": ["bootstrap", "--target", "local", "--dry-run"],
    }


@pytest.fixture
def secrets(monkeypatch, tmp_path):
    """Fake secrets in the environment of everything this test starts (stack, commands, kernels)."""
    values = fake_secrets()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GATEWAY_RUNS_DIR", str(tmp_path / "runs"))
    return values


@pytest.mark.notebook  # run_notebook is called inside a comprehension, which the marker scan does not see
def test_no_output_holds_a_secret(make_stack, tmp_path, monkeypatch, secrets, record_property):
    stack = make_stack(tmp_path / "state", worker_settings={
        name: secrets[name] for name in ("USER_KEY_SECRET", "IP_HASH_SALT", "ADMIN_TOKEN")})
    monkeypatch.setenv("GATEWAY_URL", stack.url)
    monkeypatch.setenv("GATEWAY_STATE_DIR", str(stack.state_dir))
    monkeypatch.setenv("GATEWAY_TARGET", "local")

    # traffic that carries the credentials: a keyed user, a wrong key, a bearer API key
    user = fresh_user("scan")
    keyed = {"X-User-ID": user, "X-User-Key": user_key(secrets["USER_KEY_SECRET"], user),
             "Authorization": f"Bearer {secrets['GATEWAY_CLIENT_API_KEY']}", "CF-Connecting-IP": "203.0.113.7"}
    assert httpx.get(f"{stack.url}/v1/models", headers=keyed, timeout=10).status_code == 200
    assert httpx.get(f"{stack.url}/v1/models", headers={**keyed, "X-User-Key": "wrong"}, timeout=10).status_code == 401

    out = tmp_path / "out"
    out.mkdir()
    captured: dict[str, bytes] = {}
    for name, argv in commands(out).items():
        done = subprocess.run([sys.executable, "-m", "gateway_ops.cli", *argv], capture_output=True, timeout=300,
                              env={**os.environ, "COLUMNS": "200"})
        captured[f"{name}: stdout"], captured[f"{name}: stderr"] = done.stdout, done.stderr
        assert done.returncode == 0 or name == "bootstrap dry run", (name, done.stdout[-500:], done.stderr[-500:])

    runs = {name: run_notebook(name, parameters, run_dir=tmp_path / "runs" / "scan")
            for name, parameters in NOTEBOOKS.items()}
    assert all(run.passed for run in runs.values()), {name: run.result for name, run in runs.items()}

    captured["worker log"] = "\n".join(stack.worker.output).encode()
    captured["origin log"] = "\n".join(stack.origin.output).encode()
    findings = [f for where, blob in captured.items() for f in scan_bytes(blob, where, secrets)]
    file_findings, files = scan_paths([out, tmp_path / "runs", stack.state_dir], secrets)
    findings += file_findings

    outputs = {"files": files, "captured streams": len(captured), "notebooks": len(runs), "commands": len(commands(out)),
               "secrets": len(secrets), "forms": len(needles("x"))}
    record_property("secrets_scan", outputs)
    print(f"\nsecrets scan: {outputs}")
    assert files > 20 and (tmp_path / "runs" / "scan" / "05_attendees" / "result.json").exists()
    assert not findings, "\n".join(map(str, findings))


def test_the_scanner_finds_a_planted_secret_in_every_form(tmp_path):
    secrets = fake_secrets()
    value = secrets["USER_KEY_SECRET"]
    result = tmp_path / "runs" / "result.json"
    result.parent.mkdir(parents=True)
    plantings = {
        "verbatim": f'{{"passed": true, "note": "{value}"}}',
        "random core": f'{{"token": "…{value[-32:]}"}}',  # a truncated copy
        "url-encoded": f"https://gateway.example/?k={value.replace('-', '%2D')}",
        "base64": base64.b64encode(value.encode()).decode(),
        "hex": value.encode().hex(),
    }
    for form, text in plantings.items():
        result.write_text(text)
        found, files = scan_paths([tmp_path / "runs"], secrets)
        assert files == 1 and any(f.secret == "USER_KEY_SECRET" for f in found), form
    result.write_text('{"passed": true, "checks": []}')
    assert scan_paths([tmp_path / "runs"], secrets)[0] == []
