"""The pre-event check CI runs against the deployed gateway (``.github/workflows/pre-event.yml``).

Runs notebooks 04 (smoke) and 06 (rate limit), and 07 (capacity) when asked, with papermill into
one folder, then writes the summary of every ``result.json`` there as ``summary.md`` and
``summary.html`` and, under GitHub Actions, appends it to the job summary (``GITHUB_STEP_SUMMARY``).
Credentials stay in the environment (CLOUDFLARE_API_TOKEN, GATEWAY_CLIENT_API_KEY, …): the
notebooks' kernels inherit it, and nothing secret is passed as a parameter. The same function runs
against the local stack (``target="local"``), which is how the tests exercise it.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import GatewayOpsError, NotebookError
from ..notebooks import new_run_dir, run_notebook
from ..paths import NOTEBOOKS_DIR
from ..settings import Settings
from .summary import Summary, html_page, markdown_table, summarize

SMOKE, RATE_LIMIT, CAPACITY = "04_smoke_test", "06_rate_limit_check", "07_capacity_test"


@dataclass(frozen=True)
class PreEventPlan:
    """What to run and how big; every field is a notebook parameter (never a secret)."""

    target: str = "cloudflare"
    gateway_url: str = ""
    model: str = ""
    capacity: bool = False
    users: int = 3
    requests_per_user: int = 60
    expected_limit: int = 50
    rates: tuple[float, ...] = (5.0, 10.0)
    step_s: float = 10.0

    def notebooks(self) -> list[tuple[str, dict[str, Any]]]:
        common = {"gateway_url": self.gateway_url, "model": self.model}
        logged = {**common, "target": self.target}  # these two read the access log too
        runs: list[tuple[str, dict[str, Any]]]
        runs = [(SMOKE, {**logged, "user_id": "pre-event-smoke"}),
                (RATE_LIMIT, {**logged, "users": self.users, "requests_per_user": self.requests_per_user,
                              "expected_limit": self.expected_limit})]
        if self.capacity:
            runs.append((CAPACITY, {**common, "rates": list(self.rates), "step_s": self.step_s}))
        return runs


@dataclass
class PreEventRun:
    folder: Path
    summary: Summary
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.summary.passed


def declared_parameters(name: str, parameters: dict[str, Any], notebooks_dir: Path = NOTEBOOKS_DIR,
                        ) -> tuple[dict[str, Any], list[str]]:
    """Keeps the parameters the notebook declares; empty values are left to the notebook's default.

    Returns them and the names that were given but that the notebook does not take (e.g. ``model``
    before a notebook has it), so the summary can say they were not used.
    """
    import papermill

    declared = papermill.inspect_notebook(str(Path(notebooks_dir) / f"{name}.ipynb"))
    given = {key: value for key, value in parameters.items() if value not in ("", None)}
    return ({key: value for key, value in given.items() if key in declared},
            sorted(key for key in given if key not in declared))


def missing_settings(settings: Settings, plan: PreEventPlan) -> list[str]:
    """Names of the environment variables a run against Cloudflare needs and does not have."""
    if plan.target != "cloudflare":
        return []
    needed = {"CLOUDFLARE_API_TOKEN": settings.CLOUDFLARE_API_TOKEN,
              "CLOUDFLARE_ACCOUNT_ID": settings.CLOUDFLARE_ACCOUNT_ID,
              "GATEWAY_URL": plan.gateway_url or settings.GATEWAY_URL}
    return [name for name, value in needed.items() if not value]


def record_crash(folder: Path, error: Exception) -> None:
    """A notebook that stopped before writing result.json still leaves one, saying it failed."""
    path = folder / "result.json"
    if path.exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    check = {"name": "notebook ran to the end", "expected": "no error", "observed": str(error), "passed": False}
    path.write_text(json.dumps({"passed": False, "checks": [check]}, indent=2) + "\n")


def write_summaries(run: PreEventRun, step_summary: str | None = None) -> None:
    """summary.md and summary.html in the run's folder; the markdown also goes to the job summary."""
    notes = "".join(f"- {note}\n" for note in run.notes)
    markdown = "## Pre-event check\n\n" + markdown_table(run.summary) + ("\n" + notes if notes else "")
    (run.folder / "summary.md").write_text(markdown)
    (run.folder / "summary.html").write_text(html_page(run.summary))
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")


def run_pre_event(settings: Settings, plan: PreEventPlan, out: Path | None = None,
                  say: Callable[[str], None] = print) -> PreEventRun:
    """Runs the plan's notebooks into ``out`` (default: a new ``runs/`` folder) and summarises them.

    A failing notebook is recorded and the others still run, so one run shows every problem.

    :raises GatewayOpsError: when a Cloudflare run lacks credentials or the gateway URL
    """
    missing = missing_settings(settings, plan)
    if missing:
        raise GatewayOpsError(f"Set {', '.join(missing)} in the environment (repository secrets in CI) "
                              "to check the deployed gateway.")
    # Absolute: each notebook runs with its own folder as working directory.
    folder = (Path(out) if out else new_run_dir()).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    for name, wanted in plan.notebooks():
        parameters, unused = declared_parameters(name, wanted)
        if unused:
            notes.append(f"{name} takes no {', '.join(unused)} parameter: not used")
        say(f"Running {name} …")
        try:
            run = run_notebook(name, parameters, run_dir=folder)
            say(f"  {'PASS' if run.passed else 'FAIL'}  {name}  →  {run.notebook}")
        except NotebookError as error:
            record_crash(folder / name, error)
            say(f"  FAIL  {name}: {error}")
    result = PreEventRun(folder=folder, summary=summarize(folder), notes=notes)
    write_summaries(result, os.environ.get("GITHUB_STEP_SUMMARY"))
    return result
