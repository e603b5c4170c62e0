"""Deploying the Worker with wrangler (the right tool for bundling and uploading), then proving it works.

``deploy`` runs ``wrangler deploy`` through ``cloudflare.wrangler`` (the account and token from
settings in the child's environment), streams its progress lines to the caller, and reads the
deployed URL and version id from its output. ``deploy_and_smoke`` then runs the smoke test
against that URL, with the remote access log. ``tail`` wraps ``wrangler tail`` for live logs.
"""
from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..accesslog import CloudflareAccessLog, LocalAccessLog
from ..cloudflare_api import make_client, require_account_id
from ..exceptions import SettingsError
from ..paths import WORKER_DIR
from ..results import Check
from ..settings import Settings
from ..smoke import run_smoke
from . import wrangler as wrangler_cli
from .errors import WranglerError
from .wrangler_toml import RUN_BOOTSTRAP, config_in

VERSION_LINE = re.compile(r"Current Version ID:\s*([0-9a-fA-F-]{8,})")
TRIGGERS_LINE = re.compile(r"^Deployed \S+ triggers")
URL = re.compile(r"https?://[^\s)]+")


@dataclass(frozen=True)
class Deployment:
    """What wrangler reported: the Worker's URL, the new version id, and its last output lines."""

    url: str | None
    version_id: str | None
    output: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeployResult:
    """A deployment (None for the local stack) and the smoke checks run against it."""

    target: str
    url: str
    deployment: Deployment | None
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)


def parse_deploy_output(lines: Iterable[str]) -> Deployment:
    """The URL (first trigger after "Deployed … triggers", preferring workers.dev) and version id."""
    lines = [wrangler_cli.ANSI.sub("", line).rstrip() for line in lines]
    version = next((m.group(1) for line in lines if (m := VERSION_LINE.search(line))), None)
    targets: list[str] = []
    in_triggers = False
    for line in lines:
        if TRIGGERS_LINE.match(line.strip()):
            in_triggers = True
        elif in_triggers and line.startswith(" ") and (match := URL.search(line)):
            targets.append(match.group(0))
        elif in_triggers and not line.startswith(" "):
            in_triggers = False
    url = next((t for t in targets if t.endswith(".workers.dev")), targets[0] if targets else None)
    return Deployment(url=url, version_id=version, output=tuple(lines[-40:]))


def deploy(settings: Settings, *, wrangler: Path | None = None, worker_dir: Path = WORKER_DIR,
           on_line: Callable[[str], None] | None = None, timeout: float = 600, require_url: bool = True) -> Deployment:
    """``wrangler deploy`` for ``worker_dir``; returns the URL and version id it reported.

    :param require_url: fail when wrangler printed no URL (pass False when you know the address)

    :raises SettingsError: when the token/account are missing or bootstrap has not written the ids
    :raises WranglerError: when wrangler is missing or fails (one sentence for known failures)
    """
    config = config_in(worker_dir)
    if not (config.kv_id and config.d1_id):
        raise SettingsError(f"worker/wrangler.toml has no KV id or D1 database_id yet: {RUN_BOOTSTRAP}.")
    code, output = wrangler_cli.stream(["deploy"], wrangler_cli.cloudflare_env(settings), worker_dir=worker_dir,
                                       wrangler=wrangler, on_line=on_line, timeout=timeout)
    if code != 0:
        raise wrangler_cli.failure("deploy", code, output)
    deployment = parse_deploy_output(output)
    if deployment.url is None and require_url:
        raise WranglerError("wrangler deploy finished but printed no URL: the Worker has no workers.dev route or "
                            "custom domain; set GATEWAY_URL to its address and run `gateway-ops smoke`.")
    return deployment


def tail(settings: Settings, *, wrangler: Path | None = None, worker_dir: Path = WORKER_DIR,
         on_line: Callable[[str], None] = print, output_format: str = "pretty", duration: float | None = None,
         stop: threading.Event | None = None, statuses: Sequence[str] = (), sampling_rate: float | None = None,
         search: str | None = None) -> None:
    """Streams ``wrangler tail`` lines to ``on_line`` until Ctrl-C, ``stop`` is set or ``duration`` passes;
    ``statuses``, ``sampling_rate`` and ``search`` are wrangler's filters (see ``wrangler.tail_args``)."""
    config = config_in(worker_dir)
    args = wrangler_cli.tail_args(config.worker_name, output_format=output_format, statuses=statuses,
                                  sampling_rate=sampling_rate, search=search)
    env = wrangler_cli.cloudflare_env(settings)
    stopper = stop or threading.Event()
    if duration is not None:
        threading.Timer(duration, stopper.set).start()
    code, output = wrangler_cli.stream(args, env,
                                       worker_dir=worker_dir, wrangler=wrangler, on_line=on_line, stop=stopper)
    if code not in (0, -signal.SIGTERM, -signal.SIGKILL) and not stopper.is_set():
        raise wrangler_cli.failure("tail", code, output)


def wait_until_live(url: str, timeout: float = 60.0, interval: float = 2.0) -> None:
    """A new workers.dev name can take a little while to resolve: wait for /health before smoking."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url.rstrip('/')}/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(interval)


def deploy_and_smoke(settings: Settings, target: str | None = None, *, url: str | None = None,
                     user_id: str = "deploy-smoke", model: str | None = None, wrangler: Path | None = None, worker_dir: Path = WORKER_DIR,
                     on_line: Callable[[str], None] | None = None, http_client: httpx.Client | None = None,
                     live_timeout: float = 60.0, log_timeout: float = 15.0) -> DeployResult:
    """Deploys (target cloudflare) and smoke-tests the result with its access log.

    For target ``local`` the running local stack *is* the deployment: only the smoke test runs.
    The smoke request carries GATEWAY_CLIENT_API_KEY and ``model`` (default: one the origin lists).
    """
    target = target or settings.GATEWAY_TARGET
    credentials: dict[str, Any] = dict(key_secret=settings.user_key_secret, api_key=settings.client_api_key,
                                       model=model)
    if target == "local":
        try:
            installed = bool(wrangler_cli.find_wrangler(wrangler, worker_dir))
        except WranglerError:
            installed = False
        url = url or settings.gateway_url
        checks = [Check("Worker packages installed", "worker/node_modules/.bin/wrangler",
                        "present" if installed else "missing: run make install", installed)]
        checks += run_smoke(url, LocalAccessLog(settings.GATEWAY_STATE_DIR), user_id=user_id, log_timeout=log_timeout,
                            **credentials)
        return DeployResult("local", url, None, checks)
    if target != "cloudflare":
        raise SettingsError(f"Unknown target {target!r}: use 'local' or 'cloudflare'.")
    deployment = deploy(settings, wrangler=wrangler, worker_dir=worker_dir, on_line=on_line, require_url=url is None)
    url = url or str(deployment.url)
    checks = [Check("wrangler deploy", "a URL and a version id", f"{deployment.url} version {deployment.version_id}",
                    bool(deployment.url and deployment.version_id))]
    wait_until_live(url, live_timeout)
    log = CloudflareAccessLog(make_client(settings, http_client), require_account_id(settings),
                              config_in(worker_dir).require_d1_id())
    checks += run_smoke(url, log, user_id=user_id, log_timeout=log_timeout, **credentials)
    return DeployResult("cloudflare", url, deployment, checks)
