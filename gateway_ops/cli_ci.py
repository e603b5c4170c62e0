"""Commands for CI: `ci-summary` (result.json files as one table) and `pre-event` (the workflow's check)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli_support import friendly_errors, stop_on_sigterm
from .settings import load_settings

app = typer.Typer()


@app.command("ci-summary")
@friendly_errors
def ci_summary(
    folder: Annotated[Path, typer.Argument(help="folder to search for result.json files (recursively)")],
) -> None:
    """Every result.json under a folder as one markdown table; exit 1 if any check failed or none ran."""
    from .ci.summary import markdown_table, summarize

    summary = summarize(folder)
    typer.echo(markdown_table(summary), nl=False)
    if not summary.passed:
        raise typer.Exit(1)


@app.command("pre-event")
@friendly_errors
def pre_event(
    target: Annotated[str, typer.Option(help="cloudflare (the deployed gateway) or local")] = "cloudflare",
    url: Annotated[Optional[str], typer.Option(help="gateway URL (default: GATEWAY_URL)")] = None,
    model: Annotated[str, typer.Option(help="model for the test requests (default: each notebook's)")] = "",
    capacity: Annotated[bool, typer.Option("--capacity/--no-capacity", help="also run the capacity sweep (07)")] = False,
    users: Annotated[int, typer.Option(min=1, help="rate-limit check: test users")] = 3,
    requests_per_user: Annotated[int, typer.Option(min=1, help="rate-limit check: requests per user")] = 60,
    expected_limit: Annotated[int, typer.Option(min=0, help="the per-user limit the gateway should enforce")] = 50,
    rates: Annotated[str, typer.Option(help="capacity sweep: offered rates in requests/s, e.g. 5,10")] = "5,10",
    step_s: Annotated[float, typer.Option(min=0.5, help="capacity sweep: seconds per rate")] = 10.0,
    out: Annotated[Optional[Path], typer.Option(help="folder for the executed notebooks and summaries")] = None,
) -> None:
    """Smoke test and rate-limit check (and capacity sweep) with papermill, then the summary; exit 1 on any failure."""
    from .ci.pre_event import PreEventPlan, run_pre_event

    if target not in ("cloudflare", "local"):
        raise typer.BadParameter("use cloudflare or local", param_hint="--target")
    try:
        offered = tuple(float(rate) for rate in rates.split(",") if rate.strip())
    except ValueError:
        raise typer.BadParameter("comma-separated numbers, e.g. 5,10", param_hint="--rates") from None
    stop_on_sigterm()
    plan = PreEventPlan(target=target, gateway_url=url or "", model=model, capacity=capacity, users=users,
                        requests_per_user=requests_per_user, expected_limit=expected_limit, rates=offered,
                        step_s=step_s)
    run = run_pre_event(load_settings(), plan, out, say=typer.echo)
    typer.echo(f"summary {run.folder / 'summary.html'}")
    typer.secho("All checks passed." if run.passed else "Some checks failed: see the summary.",
                fg=typer.colors.GREEN if run.passed else typer.colors.RED)
    if not run.passed:
        raise typer.Exit(1)
