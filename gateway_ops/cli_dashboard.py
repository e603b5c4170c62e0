"""Commands: `dashboard` (the live page, with Voilà), `report` (event report) and `archive` (export, upload, delete)."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from .accesslog import open_access_log
from .cli_support import Since, Target, Until, friendly_errors, stop_on_sigterm
from .settings import load_settings

DEFAULT_DASHBOARD_PORT = 8866

app = typer.Typer()


@app.command()
@friendly_errors
def dashboard(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = DEFAULT_DASHBOARD_PORT,
    target: Target = None,
    refresh: Annotated[int, typer.Option(min=1, max=60, help="seconds between refreshes")] = 5,
    window: Annotated[int, typer.Option(help="per-user table window in minutes: 5, 15 or 60")] = 15,
    limit: Annotated[int, typer.Option(min=1, help="the Worker's per-user limit, for the near/over highlight")] = 50,
) -> None:
    """Serve the live dashboard (notebook 08) as a web page with Voilà until Ctrl-C or SIGTERM."""
    from .dashboards.serve import DashboardServer
    from .exceptions import PortInUseError
    from .notebooks import new_run_dir
    from .stack import port_is_free

    if window not in (5, 15, 60):
        raise typer.BadParameter("use 5, 15 or 60", param_hint="--window")
    settings = load_settings()
    open_access_log(settings, target)  # settings problems (unknown target, missing token) as one line, now
    if not port_is_free(port):
        raise PortInUseError(f"Port {port} is already in use on 127.0.0.1: choose another with --port.")
    stop_on_sigterm()
    parameters = {"target": target or settings.GATEWAY_TARGET, "refresh_seconds": refresh, "window_minutes": window,
                  "limit_per_minute": limit, "live": True, "out_dir": str(new_run_dir() / "08_live_dashboard")}
    with DashboardServer(port, parameters) as server:
        typer.echo(f"dashboard {server.url}  (Ctrl-C stops it)")
        stopped = threading.Event()
        try:
            while not stopped.wait(0.5):
                server.check_alive()
        except KeyboardInterrupt:
            pass
    typer.echo("stopped")


@app.command()
@friendly_errors
def report(
    out: Annotated[Optional[Path], typer.Option(help="HTML file to write (default: runs/<time>/event_report.html)")] = None,
    target: Target = None,
    since: Since = None,
    until: Until = None,
    title: Annotated[str, typer.Option(help="the report's title")] = "Event report",
) -> None:
    """Write a self-contained HTML report of the event (opens offline) and print its path."""
    from .dashboards.report import write_report
    from .notebooks import new_run_dir

    written = write_report(open_access_log(load_settings(), target), out or new_run_dir() / "event_report.html",
                           since=since, until=until, title=title, progress=True)
    summary = written.summary
    typer.echo(f"{summary['requests']:,} requests from {summary['attendees_active']:,} attendees, "
               f"{summary['rate_limited']:,} rate-limited, {summary['errors_5xx']:,} 5xx")
    typer.echo(f"report {written.path.resolve()}")


@app.command()
@friendly_errors
def archive(
    out: Annotated[Optional[Path], typer.Option(help="folder for the files (default: runs/<time>/archive)")] = None,
    target: Target = None,
    since: Since = None,
    until: Until = None,
    r2_bucket: Annotated[Optional[str], typer.Option(help="also upload the files to this R2 bucket")] = None,
    r2_prefix: Annotated[str, typer.Option(help="key prefix in the bucket")] = "",
    delete: Annotated[bool, typer.Option("--delete", help="then delete the archived rows from D1")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask before deleting")] = False,
) -> None:
    """Export a time range of the access log to Parquet and CSV; optionally upload to R2 and delete from D1."""
    from .dashboards.archive import delete_archived, export_archive, upload_archive
    from .notebooks import new_run_dir

    settings = load_settings()
    log = open_access_log(settings, target)
    written = export_archive(log, out or new_run_dir() / "archive", since, until, progress=True)
    typer.echo(f"archived {written.rows:,} rows ({written.since} → {written.until}) to {written.parquet} "
               f"and {written.csv}")
    if r2_bucket:
        from .cloudflare_api import make_client, require_account_id

        keys = upload_archive(written, make_client(settings), require_account_id(settings), r2_bucket, r2_prefix)
        typer.echo(f"uploaded to r2://{r2_bucket}/: {', '.join(keys)}")
    if delete:
        if not yes and not typer.confirm(f"Delete these {written.rows:,} archived rows from the access log?"):
            typer.echo("Nothing deleted.")
            return
        deleted = delete_archived(log, written, confirm=True)
        typer.echo(f"deleted {deleted:,} archived rows from the access log")
