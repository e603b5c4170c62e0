"""`make demo`: rehearse an event on the local stack and leave a record of it under ``runs/``.

Starts the local stack, runs the event notebooks that apply to a rehearsal with small
parameters, prints what passed and where each executed notebook is, and stops the stack.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, UTC

from .exceptions import NotebookError
from .notebooks import NotebookRun, new_run_dir, run_notebook
from .paths import NOTEBOOKS_DIR
from .settings import Settings
from .stack import StackConfig, local_stack

#: (notebook, parameters) in event order, sized for a rehearsal of a few minutes.
DEMO_NOTEBOOKS: list[tuple[str, dict]] = [
    ("01_bootstrap", {"target": "local"}),
    ("02_secrets", {"target": "local"}),
    ("03_deploy", {"target": "local", "user_id": "demo-deploy"}),
    ("04_smoke_test", {"target": "local"}),
    ("05_attendees", {"attendee_count": 5}),
    # One user: a burst of more would overflow the Mac-mini origin's queue (64) and fill the report with 503s.
    ("06_rate_limit_check", {"users": 1, "requests_per_user": 60}),
    ("07_capacity_test", {"rates": [1.0, 2.0, 3.0, 4.0, 6.0], "step_s": 4.0, "answer_length": 16, "p95_ms": 1500.0}),
    ("08_live_dashboard", {"target": "local"}),
    ("09_event_report", {"target": "local"}),
]


def _gateway_url_for(name: str, url: str) -> dict[str, str]:
    """Points a notebook at this rehearsal's stack, if it takes a gateway_url parameter."""
    import papermill

    declared = papermill.inspect_notebook(str(NOTEBOOKS_DIR / f"{name}.ipynb"))
    return {"gateway_url": url} if "gateway_url" in declared else {}


def run_demo(settings: Settings, say: Callable[[str], None] = print, profile: str = "mac-mini") -> list[NotebookRun]:
    """Runs the rehearsal; returns one NotebookRun per notebook (the caller decides the exit code).

    A failing notebook is reported and the rehearsal goes on, so one run shows every problem.
    """
    run_dir = new_run_dir()
    runs: list[NotebookRun] = []
    report: str | None = None
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    say(f"Starting the local stack (simulated origin profile {profile!r}, state in {settings.GATEWAY_STATE_DIR}) …")
    with local_stack(StackConfig(profile=profile, state_dir=settings.GATEWAY_STATE_DIR)) as stack:
        say(f"ready {stack.url}")
        for name, parameters in DEMO_NOTEBOOKS:
            say(f"Running {name} …")
            parameters = {**parameters, **_gateway_url_for(name, stack.url)}
            if name == "09_event_report":
                parameters["since"] = started  # the report covers this rehearsal only
            try:
                run = run_notebook(name, parameters, run_dir=run_dir)
            except NotebookError as error:
                say(f"  FAIL  {name}: {error}")
                runs.append(NotebookRun(name=name, notebook=run_dir / name / f"{name}.ipynb", result=None))
                continue
            say(f"  {'PASS' if run.passed else 'FAIL'}  {name}  →  {run.notebook}")
            if run.result and run.result.get("report"):
                report = str(run.result["report"])
                say(f"  event report: {report}")
            runs.append(run)
    say(f"Stopped the local stack. Records of this rehearsal: {run_dir}")
    if report:
        say(f"Event report of this rehearsal: {report}")
    return runs
