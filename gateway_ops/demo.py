"""`make demo`: rehearse an event on the local stack and leave a record of it under ``runs/``.

Starts the local stack, runs the event notebooks that apply to a rehearsal with small
parameters, prints what passed and where each executed notebook is, and stops the stack.

The origin is as strict as a real one: it requires ``Authorization: Bearer GATEWAY_CLIENT_API_KEY``
and knows only the models it lists. The rehearsal's own simulated origin takes the key from the
environment; when none is set, the rehearsal generates one that only its simulated origin and its
own clients know (nothing outside the rehearsal needs it). With ``upstream_url`` (an existing
origin) nothing is generated: the key must be the one that origin accepts. Before any notebook
runs, one request for ``/v1/models`` through the gateway proves the key works — a refused key
stops the rehearsal with one sentence instead of ten failing notebooks.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, UTC

from .client import ClientError, Credentials, listed_models
from .exceptions import GatewayOpsError, NotebookError
from .notebooks import NotebookRun, new_run_dir, run_notebook
from .origin import strict_args
from .paths import NOTEBOOKS_DIR
from .settings import Settings, load_settings
from .stack import StackConfig, local_stack

CLIENT_KEY_ENV = "GATEWAY_CLIENT_API_KEY"

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
    # Every control on, its probe, off again (the controls found are restored); before the report, so
    # the report's timeline of interventions shows them.
    ("10_event_controls", {"target": "local"}),
    ("09_event_report", {"target": "local"}),
]


def _gateway_url_for(name: str, url: str) -> dict[str, str]:
    """Points a notebook at this rehearsal's stack, if it takes a gateway_url parameter."""
    import papermill

    declared = papermill.inspect_notebook(str(NOTEBOOKS_DIR / f"{name}.ipynb"))
    return {"gateway_url": url} if "gateway_url" in declared else {}


@contextmanager
def rehearsal_client_key(settings: Settings, upstream_url: str | None, say: Callable[[str], None]) -> Iterator[None]:
    """GATEWAY_CLIENT_API_KEY for the rehearsal: the one set, or — only for the rehearsal's own
    simulated origin — a generated one, in this process's environment (which the origin and the
    notebook kernels inherit) until the block ends."""
    if settings.client_api_key or upstream_url:
        yield
        return
    previous = os.environ.get(CLIENT_KEY_ENV)
    os.environ[CLIENT_KEY_ENV] = f"demo-{secrets.token_urlsafe(24)}"
    say(f"{CLIENT_KEY_ENV} is not set: the rehearsal's simulated origin and its clients share a generated key.")
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CLIENT_KEY_ENV, None)
        else:
            os.environ[CLIENT_KEY_ENV] = previous


def check_origin_accepts_key(url: str, settings: Settings, origin: str) -> list[str]:
    """The models the origin lists, asked through the gateway with the client credential.

    :raises GatewayOpsError: one sentence naming the cause (e.g. the origin refused the key)
    """
    try:
        return listed_models(url, Credentials.from_settings(settings).headers("demo-preflight"))
    except ClientError as error:
        unset = "" if settings.client_api_key else f" ({CLIENT_KEY_ENV} is not set)"
        raise GatewayOpsError(f"The rehearsal cannot start against {origin}{unset}. {error}") from None


def run_demo(settings: Settings, say: Callable[[str], None] = print, profile: str = "mac-mini",
             upstream_url: str | None = None) -> list[NotebookRun]:
    """Runs the rehearsal; returns one NotebookRun per notebook (the caller decides the exit code).

    A failing notebook is reported and the rehearsal goes on, so one run shows every problem.

    :raises GatewayOpsError: when the origin refuses the rehearsal's first request (e.g. the key)
    """
    with rehearsal_client_key(settings, upstream_url, say):
        return _rehearse(load_settings(), say, profile, upstream_url)


def _rehearse(settings: Settings, say: Callable[[str], None], profile: str, upstream_url: str | None
              ) -> list[NotebookRun]:
    run_dir = new_run_dir()
    runs: list[NotebookRun] = []
    report: str | None = None
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    origin = upstream_url or f"the simulated origin (profile {profile!r}, strict: key and models checked)"
    say(f"Starting the local stack ({origin}, state in {settings.GATEWAY_STATE_DIR}) …")
    config = StackConfig(profile=profile, state_dir=settings.GATEWAY_STATE_DIR, upstream_url=upstream_url,
                         origin_args=[] if upstream_url else strict_args(api_key_env=CLIENT_KEY_ENV))
    with local_stack(config) as stack:
        say(f"ready {stack.url}")
        models = check_origin_accepts_key(stack.url, settings, upstream_url or "the simulated origin")
        say(f"The origin accepts the client key and lists {len(models)} model(s): {', '.join(models[:3])}")
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
