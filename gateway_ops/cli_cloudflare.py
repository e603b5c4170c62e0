"""Commands: preflight, bootstrap, secrets, deploy and tail (Cloudflare operations).

Each command gathers its options and calls ``gateway_ops.cloudflare`` once; errors are one line.
Secret values are read from an environment variable or a hidden prompt — never from an option
or argument (those end up in shell history and ``ps``) — and are never echoed.
"""
from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from .cli_support import Model, Target, friendly_errors, stop_on_sigterm
from .exceptions import SettingsError
from .results import checks_frame
from .settings import load_settings

app = typer.Typer()
secrets_app = typer.Typer(help="Worker secrets: set one without echoing it, or list their names.",
                          no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")


def _cloudflare(settings):
    from .cloudflare.wrangler_toml import read_config
    from .cloudflare_api import make_client, require_account_id

    return make_client(settings), require_account_id(settings), read_config().worker_name


@app.command()
@friendly_errors
def preflight(
    attendees: Annotated[Optional[int], typer.Option(help="expected attendees (with --rpm and --hours: plan limits)")] = None,
    rpm: Annotated[float, typer.Option(help="requests per attendee per minute")] = 2.0,
    hours: Annotated[float, typer.Option(help="event duration in hours")] = 3.0,
    auth_mode: Annotated[str, typer.Option(help="openai or codex (codex reads one more KV key per request)")] = "openai",
    skip_token: Annotated[bool, typer.Option("--skip-token", help="only the plan limits (no Cloudflare calls)")] = False,
    gate: Annotated[bool, typer.Option("--gate", help="ORIGIN_MAX_CONCURRENCY set: count the gate's Durable Object calls")] = False,
    answer_seconds: Annotated[float, typer.Option(help="with --gate: average answer duration (s); a lease renewal per 10 s")] = 0.0,
    isolates: Annotated[int, typer.Option(help="Worker isolates serving at once; each reads the event controls' D1 row at most once a second")] = 10,
) -> None:
    """Check the token's permissions and whether the event fits the plan's daily limits."""
    from .cloudflare.preflight import EventPlan, check_token, max_attendees, plan_checks

    checks = []
    if not skip_token:
        client, account, _ = _cloudflare(load_settings())
        checks += check_token(client, account)
    if attendees is not None:
        plan = EventPlan(attendees=attendees, requests_per_minute=rpm, hours=hours, auth_mode=auth_mode, gate=gate,
                         answer_seconds=answer_seconds, isolates=isolates)
        checks += plan_checks(plan)
    if not checks:
        raise typer.BadParameter("give --attendees for the plan check, or drop --skip-token")
    typer.echo(checks_frame(checks).to_string(index=False))
    if attendees is not None:
        typer.echo(f"At {rpm:g} requests/min for {hours:g} h, the Workers Free plan fits about "
                   f"{max_attendees(plan):,} attendees.")
    if not all(c.passed for c in checks):
        raise typer.Exit(1)


@app.command()
@friendly_errors
def bootstrap(
    target: Target = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show the plan; create and write nothing")] = False,
) -> None:
    """Find-or-create KV + D1, write their ids into worker/wrangler.toml, apply D1 migrations."""
    from .cloudflare.bootstrap import bootstrap as run_bootstrap

    report = run_bootstrap(load_settings(), target, dry_run=dry_run)
    typer.echo(report.frame().drop(columns="ok").to_string(index=False))
    if dry_run and report.toml_diff:
        typer.echo(report.toml_diff)
    if dry_run:
        typer.echo("Dry run: nothing was created or written.")
    if not report.passed:
        raise typer.Exit(1)


@secrets_app.command("set")
@friendly_errors
def secrets_set(
    name: Annotated[str, typer.Argument(help="OPENCLAW_URL, AUTH_MODE, USER_KEY_SECRET, IP_HASH_SALT or ADMIN_TOKEN")],
    from_env: Annotated[Optional[str], typer.Option("--from-env", metavar="VAR",
                                                    help="read the value from this environment variable")] = None,
    generate: Annotated[bool, typer.Option("--generate", help="generate a random key (USER_KEY_SECRET, IP_HASH_SALT)")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="with --generate: replace a key that is already set")] = False,
) -> None:
    """Put a Worker secret on Cloudflare without echoing it (hidden prompt unless --from-env or --generate)."""
    from pydantic import SecretStr

    from .cloudflare.secrets import SECRET_NAMES, generate_and_set, put_secret, validate_secret

    if name not in SECRET_NAMES:
        raise SettingsError(f"Unknown secret {name}: the Worker uses {', '.join(SECRET_NAMES)}.")
    if generate and from_env:
        raise typer.BadParameter("use either --generate or --from-env", param_hint="--generate")
    client, account, script = _cloudflare(load_settings())
    if generate:
        action = generate_and_set(client, account, script, name, replace=replace)
        typer.echo(f"{name}: {action.action}" + ("" if replace or "kept" not in action.action else
                                                  " — pass --replace to generate a new one (invalidates keys issued "
                                                  "with the old one)"))
        return
    if from_env:
        if not os.environ.get(from_env):
            raise SettingsError(f"The environment variable {from_env} is not set or empty: export it first.")
        value = SecretStr(os.environ[from_env])
    else:
        value = SecretStr(typer.prompt(f"Value for {name} (hidden)", hide_input=True, confirmation_prompt=True))
    validate_secret(name, value)
    created_placeholder = put_secret(client, account, script, name, value)
    if created_placeholder:
        typer.echo(f"Created a placeholder Worker {script!r} to hold secrets until `gateway-ops deploy`.")
    typer.echo(f"{name}: set on Worker {script!r}.")


@secrets_app.command("sync")
@friendly_errors
def secrets_sync(
    auth_mode: Annotated[str, typer.Option(help="openai or codex (default: AUTH_MODE from the environment, else openai)")] = "",
    generate: Annotated[Optional[list[str]], typer.Option("--generate", help="generate this key if not set yet "
                                                          "(IP_HASH_SALT, USER_KEY_SECRET); repeatable")] = None,
) -> None:
    """Set every Worker secret found in the environment (as notebook 02 does), then list names."""
    from .cloudflare.secret_setup import configure_secrets

    report = configure_secrets(load_settings(), "cloudflare", auth_mode=auth_mode, generate=generate or ())
    typer.echo(report.frame().to_string(index=False))
    if not report.passed:
        typer.secho(f"Missing: {', '.join(report.missing)} — export it and run this again, or "
                    f"`gateway-ops secrets set {report.missing[0]}`.", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)


@secrets_app.command("list")
@friendly_errors
def secrets_list() -> None:
    """List which Worker secrets are set on Cloudflare (names only; values are never readable)."""
    from .cloudflare.secrets import list_secret_names, secret_checks

    client, account, script = _cloudflare(load_settings())
    checks = secret_checks(list_secret_names(client, account, script))
    typer.echo(checks_frame(checks).to_string(index=False))
    if not all(c.passed for c in checks):
        raise typer.Exit(1)


@app.command()
@friendly_errors
def deploy(
    url: Annotated[Optional[str], typer.Option(help="smoke-test this URL instead of the one wrangler prints")] = None,
    skip_smoke: Annotated[bool, typer.Option("--skip-smoke", help="deploy only")] = False,
    model: Model = None,
) -> None:
    """wrangler deploy with visible progress, then the smoke test against the deployed URL."""
    from .cloudflare.deploy import deploy as run_deploy
    from .cloudflare.deploy import deploy_and_smoke

    settings = load_settings()
    stop_on_sigterm()
    echo = lambda line: typer.echo(f"  {line}")  # noqa: E731 — wrangler's progress, indented
    if skip_smoke:
        deployment = run_deploy(settings, on_line=echo)
        typer.echo(f"Deployed {deployment.url} (version {deployment.version_id}).")
        return
    result = deploy_and_smoke(settings, "cloudflare", url=url, model=model, on_line=echo)
    assert result.deployment is not None  # None only for the local target
    typer.echo(f"Deployed {result.url} (version {result.deployment.version_id}).")
    typer.echo(checks_frame(result.checks).to_string(index=False))
    if not result.passed:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def tail(
    format: Annotated[str, typer.Option("--format", help="pretty or json")] = "pretty",
    duration: Annotated[Optional[float], typer.Option(help="stop after this many seconds (default: Ctrl-C)")] = None,
    status: Annotated[Optional[list[str]], typer.Option(help="only requests with this outcome: ok, error or "
                                                        "canceled (repeatable)")] = None,
    sampling_rate: Annotated[Optional[float], typer.Option(help="show this fraction of requests, e.g. 0.1")] = None,
    search: Annotated[Optional[str], typer.Option(help="only requests whose console.log output contains this text")
                      ] = None,
) -> None:
    """Live logs of the deployed Worker (wrangler tail) until Ctrl-C."""
    from .cloudflare.deploy import tail as run_tail

    stop_on_sigterm()
    try:
        run_tail(load_settings(), output_format=format, duration=duration, on_line=typer.echo, statuses=status or (),
                 sampling_rate=sampling_rate, search=search)
    except KeyboardInterrupt:
        pass


@app.command()
@friendly_errors
def teardown(
    yes: Annotated[bool, typer.Option("--yes", help="delete without asking (and archive the access log first "
                                                    "unless --no-archive)")] = False,
    archive: Annotated[Optional[bool], typer.Option("--archive/--no-archive", help="archive each access log before "
                                                    "its database goes (default: ask; with --yes: archive)")] = None,
) -> None:
    """After the event: show, then (with confirmation) delete the Cloudflare resources and local attendee data."""
    from .cloudflare.teardown import delete_planned

    settings = load_settings()
    plan = _teardown_plan(settings)
    if plan.empty:
        typer.echo("Nothing left to delete." + "".join(f"\n  (not checked: {n})" for n in plan.unchecked))
        return
    typer.echo("Teardown would delete:\n" + plan.text())
    logs = _access_logs(settings, plan)
    if logs and (archive if archive is not None else (yes or typer.confirm(
            "Archive the access log first (Parquet + CSV under runs/)?", default=True))):
        for target, log in logs.items():
            _archive_before_teardown(target, log)
    if not yes and not typer.confirm(f"Delete these {len(plan.items)} item(s)? This cannot be undone."):
        typer.echo("Nothing deleted.")
        return
    client, account, _ = _cloudflare_or_none(settings)
    outcomes = delete_planned(plan, client, account, on_item=lambda o: typer.echo(
        f"  {'deleted' if o.deleted else 'FAILED '} {o.item.describe()}" + (f" — {o.detail}" if o.detail else "")))
    left = _teardown_plan(settings)
    if left.empty:
        typer.echo("Remains: nothing." + "".join(f"\n  (not checked: {note})" for note in left.unchecked))
    else:
        typer.echo("Remains:\n" + left.text())
    if not all(o.deleted for o in outcomes):
        raise typer.Exit(1)


def _cloudflare_or_none(settings):
    """(client, account id, why not) — Cloudflare is skipped, not an error, when it is not configured."""
    if settings.CLOUDFLARE_API_TOKEN is None or not settings.CLOUDFLARE_ACCOUNT_ID:
        return None, None, "CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID are not both set"
    from .cloudflare_api import make_client

    return make_client(settings), settings.CLOUDFLARE_ACCOUNT_ID, ""


def _teardown_plan(settings):
    from .cloudflare.teardown import plan_teardown
    from .cloudflare.wrangler_toml import read_config
    from .paths import runs_root

    client, account, why = _cloudflare_or_none(settings)
    return plan_teardown(client, account, read_config(), settings.GATEWAY_STATE_DIR, runs_root(),
                         unchecked_reason=why)


def _access_logs(settings, plan) -> dict:
    """The access logs teardown would delete: the D1 database it found, the local state's."""
    from .accesslog import AccessLog, CloudflareAccessLog, LocalAccessLog

    logs: dict[str, AccessLog] = {}
    for database in plan.of_kind("D1 database"):
        client, account, _ = _cloudflare_or_none(settings)
        logs["cloudflare"] = CloudflareAccessLog(client, account, database.ident)
    if plan.of_kind("state folder"):
        logs["local"] = LocalAccessLog(settings.GATEWAY_STATE_DIR)
    return logs


def _archive_before_teardown(target: str, log) -> None:
    """Exports the whole access log; a log that cannot be read is said, not fatal."""
    from .dashboards.archive import export_archive
    from .exceptions import GatewayOpsError
    from .notebooks import new_run_dir

    try:
        written = export_archive(log, new_run_dir() / f"archive-{target}")
    except GatewayOpsError as error:
        typer.echo(f"  no archive of the {target} access log: {error}")
        return
    typer.echo(f"  archived {written.rows:,} rows of the {target} access log to {written.parquet.parent}")
