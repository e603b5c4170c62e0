"""Commands: `loadtest ratelimit` and `loadtest capacity` (the same library calls as notebooks 06 and 07).

Each writes ``result.json`` (and ``requests.csv`` and an HTML plot) into ``--out`` or a new
``runs/<timestamp>/`` folder, prints its checks, and exits 0 only if every check held. Requests
carry GATEWAY_CLIENT_API_KEY (``Authorization: Bearer …``) and ``--model`` (default: the first
model the origin lists); with GATEWAY_CODEX_TOKEN set (codex mode) the test users borrow it as
their ``oauth:{user}`` token in the KV of ``--target`` for the run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional, cast

import typer

from .cli_support import GatewayUrl, Model, RunFolder, Target, friendly_errors, stop_on_sigterm
from .settings import load_settings

app = typer.Typer()
loadtest = typer.Typer(help="Load tests: prove the per-user limit, find the origin's capacity.", no_args_is_help=True)
app.add_typer(loadtest, name="loadtest")


def _out_dir(out: Optional[Path], name: str) -> Path:
    from .notebooks import output_dir

    return output_dir(str(out) if out else "", name)


def _int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise typer.BadParameter(f"use comma-separated whole numbers of at least 1, e.g. 10,20 (got {text!r})",
                                 param_hint=option)
    return values


def _finish(checks, result_path: Path) -> None:
    from .results import checks_frame

    typer.echo(checks_frame(checks).to_string(index=False))
    typer.echo(f"result: {result_path}")
    if not (checks and all(c.passed for c in checks)):
        raise typer.Exit(1)


@loadtest.command("ratelimit")
@friendly_errors
def ratelimit(
    url: GatewayUrl = None,
    users: Annotated[int, typer.Option(help="distinct user ids, each sending a burst")] = 10,
    requests_per_user: Annotated[int, typer.Option(help="requests each user sends in one UTC minute")] = 60,
    limit: Annotated[int, typer.Option(help="the per-user limit the gateway should enforce")] = 50,
    mode: Annotated[str, typer.Option(help="burst (all at once) or spread (evenly over --spread seconds)")] = "burst",
    spread: Annotated[float, typer.Option(help="seconds a spread takes")] = 10.0,
    next_window: Annotated[bool, typer.Option(help="wait for the next minute and check it admits again")] = True,
    model: Model = None,
    target: Target = None,
    out: RunFolder = None,
) -> None:
    """Burst test of the per-user limit; writes result.json; exit 0 only if it holds."""
    from .accesslog import open_access_log
    from .attendees.oauth import token_loan
    from .loadtest.ratelimit import RateLimitPlan, run_rate_limit_check, write_rate_limit_result

    if mode not in ("burst", "spread"):
        raise typer.BadParameter("use burst or spread", param_hint="--mode")
    stop_on_sigterm()
    settings = load_settings()
    plan = RateLimitPlan(users=users, requests_per_user=requests_per_user, expected_limit=limit,
                         mode=cast(Literal["burst", "spread"], mode),  # checked above
                         spread_s=spread, check_next_window=next_window, model=model)
    gateway = (url or settings.gateway_url).rstrip("/")
    run = run_rate_limit_check(gateway, open_access_log(settings, target), plan, key_secret=settings.user_key_secret,
                               api_key=settings.client_api_key, loan=token_loan(settings, target))
    folder = _out_dir(out, "loadtest-ratelimit")
    write_rate_limit_result(run, folder, url=gateway)
    _finish(run.checks, folder / "result.json")


@loadtest.command("capacity")
@friendly_errors
def capacity(
    url: GatewayUrl = None,
    rates: Annotated[str, typer.Option(help="offered arrival rates in requests/s, increasing")] = "2,4,8",
    duration: Annotated[float, typer.Option(help="seconds per step")] = 10.0,
    stream: Annotated[bool, typer.Option(help="streamed answers (measures time to first token)")] = False,
    prompt_tokens: Annotated[int, typer.Option(help="prompt size in tokens")] = 16,
    max_tokens: Annotated[Optional[int], typer.Option(help="max_tokens of each request")] = None,
    p95_ms: Annotated[float, typer.Option(help="a step holds while its p95 latency stays at or under this")] = 2000.0,
    max_error_rate: Annotated[float, typer.Option(help="… and its error rate at or under this")] = 0.01,
    limits: Annotated[str, typer.Option(help="per-user limits (req/min) for the recommendation table")] = "10,20,30,50",
    attendees: Annotated[str, typer.Option(help="attendee counts for the recommendation table")] = "25,50,100,150",
    transport: Annotated[str, typer.Option(help="HTTP client: aiohttp or httpx")] = "aiohttp",
    model: Model = None,
    target: Target = None,
    out: RunFolder = None,
) -> None:
    """Open-model sweep over the offered rates through the gateway; writes result.json and plots."""
    from .attendees.oauth import token_loan
    from .loadtest.capacity import SweepPlan, parse_rates, recommendation_table, run_sweep, write_sweep_result
    from .loadtest.knee import Thresholds

    if transport not in ("aiohttp", "httpx"):
        raise typer.BadParameter("use aiohttp or httpx", param_hint="--transport")
    limit_list, attendee_list = _int_list(limits, "--limits"), _int_list(attendees, "--attendees")
    stop_on_sigterm()
    settings = load_settings()
    plan = SweepPlan(rates=tuple(parse_rates(rates)), step_s=duration, stream=stream, prompt_tokens=prompt_tokens,
                     max_tokens=max_tokens, thresholds=Thresholds(p95_ms=p95_ms, error_rate=max_error_rate),
                     transport=transport, model=model)
    gateway = (url or settings.gateway_url).rstrip("/")
    sweep = run_sweep(gateway, plan, key_secret=settings.user_key_secret, api_key=settings.client_api_key,
                      loan=token_loan(settings, target))
    folder = _out_dir(out, "loadtest-capacity")
    write_sweep_result(sweep, folder, limits=limit_list, attendees=attendee_list, url=gateway)
    columns = ["offered_rps", "achieved_rps", "p50_ms", "p95_ms", "p99_ms", "error_rate"]
    typer.echo(sweep.steps[columns].to_string(index=False))
    knee = "none" if sweep.knee_rps is None else f"{sweep.knee_rps:g} req/s"
    typer.echo(f"\nknee: {knee}\n")
    typer.echo(recommendation_table(sweep.knee_rps, limit_list, attendee_list).to_string())
    advice = sweep.concurrency_advice()
    typer.echo(f"\nORIGIN_MAX_CONCURRENCY for this origin: {advice.value or 'none'}. {advice.reason}")
    if advice.value:
        typer.echo(f"Apply it: gateway-ops origin concurrency {advice.value} --target local|cloudflare")
    typer.echo("")
    _finish(sweep.checks, folder / "result.json")
