"""The ``gateway-ops`` command line: each command gathers its options and calls the library once.

This module holds the local-stack commands and mounts the other areas (``cli_cloudflare``,
``cli_dashboard``, ``cli_attendees``, ``cli_control``, ``cli_loadtest``), each a ``typer.Typer`` registered the same
way; shared options and error handling are in ``cli_support``. Library errors
(``GatewayOpsError``) become one line on stderr and exit status 1 — never a traceback for a
foreseeable failure.
"""
from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Annotated, Optional

import typer

from .accesslog import open_access_log
from . import cli_attendees, cli_ci, cli_cloudflare, cli_control, cli_dashboard, cli_loadtest, cli_origin
from .cli_support import GatewayUrl, Model, Profile, Target, friendly_errors, stop_on_sigterm
from .exceptions import GatewayOpsError
from .results import checks_frame
from .settings import load_settings
from .smoke import run_smoke
from .stack import LocalStack, StackConfig

app = typer.Typer(help="Operate organized-gateway: local stack, smoke tests, access log.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)


@app.command()
@friendly_errors
def up(
    port: Annotated[int, typer.Option(help="gateway port on 127.0.0.1")] = 8787,
    upstream_port: Annotated[int, typer.Option(help="simulated origin port")] = 18789,
    upstream_url: Annotated[Optional[str], typer.Option(help="use this origin instead of the simulated one")] = None,
    profile: Profile = "mac-mini",
) -> None:
    """Run the local stack in the foreground until Ctrl-C or SIGTERM."""
    settings = load_settings()
    stop_on_sigterm()
    stack = LocalStack(StackConfig(port=port, upstream_port=upstream_port, upstream_url=upstream_url,
                                   profile=profile, state_dir=settings.GATEWAY_STATE_DIR))
    with stack:
        typer.echo(f"ready {stack.url}", err=False)
        sys.stdout.flush()
        stopped = threading.Event()
        try:
            while not stopped.wait(0.5):
                for part in (stack.worker, stack.origin):
                    if part is not None and part.exited():
                        raise GatewayOpsError(f"{part.name} stopped unexpectedly:\n{part.tail()}")
        except KeyboardInterrupt:
            pass
    typer.echo("stopped")


@app.command()
@friendly_errors
def smoke(
    url: GatewayUrl = None,
    target: Target = None,
    user_id: Annotated[str, typer.Option(help="X-User-ID of the test request")] = "smoke-test",
    model: Model = None,
) -> None:
    """Health, one real request, and its row in the access log; exit 0 only if all pass.

    The request carries GATEWAY_CLIENT_API_KEY as `Authorization: Bearer …` (from the environment)."""
    settings = load_settings()
    checks = run_smoke(url or settings.gateway_url, open_access_log(settings, target), user_id=user_id,
                       key_secret=settings.user_key_secret, api_key=settings.client_api_key, model=model)
    typer.echo(checks_frame(checks).to_string(index=False))
    if not all(c.passed for c in checks):
        raise typer.Exit(1)


@app.command()
@friendly_errors
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run on the access log, e.g. 'SELECT * FROM user_summary'")],
    target: Target = None,
    format: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Run read-only SQL (one SELECT) on the access log and print the result."""
    from .readonly_sql import check_read_only

    if format not in ("table", "csv", "json"):
        raise typer.BadParameter("use table, csv or json", param_hint="--format")
    check_read_only(sql)  # the remote D1 API would run a write; locally the file is opened read-only too
    frame = open_access_log(load_settings(), target).query(sql)
    if format == "csv":
        from .spreadsheet_csv import to_csv

        typer.echo(to_csv(frame), nl=False)  # spreadsheet-safe; --format json is byte-exact
    elif format == "json":
        typer.echo(json.dumps(json.loads(frame.to_json(orient="records")), indent=2))
    else:
        typer.echo("(no rows)" if frame.empty else frame.to_string(index=False))


@app.command()
@friendly_errors
def demo(
    profile: Profile = "mac-mini",
    upstream_url: Annotated[Optional[str], typer.Option(
        help="rehearse against this origin instead of the simulated one (needs GATEWAY_CLIENT_API_KEY)")] = None,
) -> None:
    """Rehearse an event on the local stack: start it, run the notebooks, report, stop.

    The origin requires GATEWAY_CLIENT_API_KEY; for its own simulated origin the rehearsal
    generates one when it is not set."""
    from .demo import run_demo

    stop_on_sigterm()
    runs = run_demo(load_settings(), say=typer.echo, profile=profile, upstream_url=upstream_url)
    failed = [run.name for run in runs if not run.passed]
    if failed:
        typer.secho(f"Failed: {', '.join(failed)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.secho(f"All {len(runs)} notebook(s) passed.", fg=typer.colors.GREEN)


for area in (cli_cloudflare, cli_dashboard, cli_attendees, cli_control, cli_loadtest, cli_ci, cli_origin):
    app.add_typer(area.app)  # no name: the area's commands and groups join the top level


@app.callback()
def main_options(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show progress logs")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
