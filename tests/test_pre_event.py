"""The pre-event workflow's job, run here against the local stack instead of Cloudflare.

The test takes the shell script of the workflow's step as it is (only `--target cloudflare`
becomes `--target local`), feeds it the inputs as GitHub would, and checks what the job leaves: the
executed notebooks, summary.md/summary.html, the job summary table, and its exit status — 0 when
every check held, 1 when the gateway is broken.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gateway_ops import cli
from gateway_ops.ci.pre_event import PreEventPlan, declared_parameters, missing_settings
from gateway_ops.paths import PROJECT_ROOT
from gateway_ops.settings import load_settings
from gateway_ops.stack import free_port
from helpers import CLIENT_KEY

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "pre-event.yml"
#: The credential the job passes on, as a repository secret would be: the one the tests' strict origin
#: accepts (helpers.CLIENT_KEY), so the job can pass, and a value to look for in every output.
SENTINEL = CLIENT_KEY


def workflow_script() -> str:
    """The step that runs `gateway-ops pre-event`, pointed at the local stack and this venv."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    script = next(step["run"] for job in workflow["jobs"].values() for step in job["steps"]
                  if "gateway-ops pre-event" in step.get("run", ""))
    assert "--target cloudflare" in script and ".venv/bin/gateway-ops" in script
    return (script.replace("--target cloudflare", "--target local")
            .replace(".venv/bin/gateway-ops", str(Path(sys.executable).parent / "gateway-ops")))


def run_job(folder: Path, **inputs: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(folder / "step-summary.md"),
           "GATEWAY_CLIENT_API_KEY": SENTINEL, "GATEWAY_RUNS_DIR": str(folder / "runs"),
           **{f"INPUT_{name.upper()}": value for name, value in inputs.items()}}
    return subprocess.run(["bash", "-e", "-c", workflow_script()], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=240)


def table_notebooks(markdown: str) -> dict[str, list[str]]:
    """notebook → the pass column of its rows, from the summary table."""
    found: dict[str, list[str]] = {}
    for line in markdown.splitlines()[1:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if line.startswith("| ") and len(cells) == 5 and cells[0] != "notebook":
            found.setdefault(cells[0], []).append(cells[4])
    return found


@pytest.mark.stack
@pytest.mark.notebook
@pytest.mark.timeout(300)
def test_the_workflow_job_passes_against_a_working_gateway(gateway_env, tmp_path):
    done = run_job(tmp_path, gateway_url=gateway_env.url, users="1", requests_per_user="52", expected_limit="50",
                   rates="2", capacity="true", model="")
    assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "pre-event"
    for name in ("04_smoke_test", "06_rate_limit_check", "07_capacity_test"):
        assert (out / name / f"{name}.ipynb").exists()
        assert json.loads((out / name / "result.json").read_text())["passed"] is True
    job_summary = (tmp_path / "step-summary.md").read_text()
    assert job_summary.startswith("## Pre-event check")
    rows = table_notebooks(job_summary)
    assert set(rows) == {"04_smoke_test", "06_rate_limit_check", "07_capacity_test"}
    assert all(cell == "✅ pass" for cells in rows.values() for cell in cells)
    assert (out / "summary.md").read_text() == job_summary.rstrip("\n") + "\n"
    assert "PASSED" in (out / "summary.html").read_text()
    written = "".join(path.read_text(errors="replace") for path in out.rglob("*") if path.is_file())
    assert SENTINEL not in written + done.stdout + done.stderr, "a credential reached a notebook or the log"


@pytest.mark.stack
@pytest.mark.notebook
@pytest.mark.timeout(300)
def test_the_workflow_job_fails_and_says_why_when_the_gateway_is_down(gateway_env, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    done = run_job(tmp_path, gateway_url=dead, users="1", requests_per_user="52", expected_limit="50",
                   rates="2", capacity="false", model="")
    assert done.returncode == 1, done.stdout + done.stderr
    rows = table_notebooks((tmp_path / "step-summary.md").read_text())
    assert set(rows) == {"04_smoke_test", "06_rate_limit_check"}, "no capacity sweep unless asked"
    assert all("❌ FAIL" in cells for cells in rows.values())
    assert "FAILED" in (tmp_path / "pre-event" / "summary.html").read_text()
    assert "Some checks failed" in done.stdout


def test_a_cloudflare_run_without_credentials_stops_before_any_notebook(tmp_path, monkeypatch):
    for name in ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "GATEWAY_URL"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli.app, ["pre-event", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "Set CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID, GATEWAY_URL" in result.output
    assert not (tmp_path / "out").exists()
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "t")
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "a")
    assert missing_settings(load_settings(), PreEventPlan(gateway_url="https://gw.example")) == []
    assert missing_settings(load_settings(), PreEventPlan(target="local")) == []


def test_only_declared_parameters_reach_a_notebook_and_the_rest_are_named():
    kept, unused = declared_parameters("04_smoke_test", {"target": "cloudflare", "gateway_url": "",
                                                         "no_such_parameter": 3})
    assert kept == {"target": "cloudflare"}, "empty values leave the notebook's default"
    assert unused == ["no_such_parameter"]
    plan = PreEventPlan(capacity=False)
    assert [name for name, _ in plan.notebooks()] == ["04_smoke_test", "06_rate_limit_check"]
    assert [name for name, _ in PreEventPlan(capacity=True).notebooks()][-1] == "07_capacity_test"
