"""Deploying the Worker with wrangler (the right tool for bundling and uploading), then proving it works.

``deploy`` runs ``worker/node_modules/.bin/wrangler deploy`` with the account and token from
settings in the child's environment — never on its command line, where ``ps`` would show them —
streams wrangler's progress lines to the caller, and reads the deployed URL and version id from
its output. ``deploy_and_smoke`` then runs the smoke test against that URL, with the remote
access log. ``tail`` wraps ``wrangler tail`` for live logs.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ..accesslog import CloudflareAccessLog, LocalAccessLog
from ..cloudflare_api import make_client, require_account_id
from ..exceptions import SettingsError
from ..log import logger
from ..paths import WORKER_DIR
from ..processes import stop_group
from ..results import Check
from ..settings import Settings
from ..smoke import run_smoke
from ..stack import WRANGLER_ENV
from .errors import WranglerError, WranglerNotInstalledError
from .wrangler_toml import read_config

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
VERSION_LINE = re.compile(r"Current Version ID:\s*([0-9a-fA-F-]{8,})")
TRIGGERS_LINE = re.compile(r"^Deployed \S+ triggers")
URL = re.compile(r"https?://[^\s)]+")
#: Known wrangler failures → what to do (first match wins).
HINTS = (
    ("workers.dev subdomain", "this account has no workers.dev subdomain yet: open Workers & Pages in the Cloudflare "
                              "dashboard once to choose one, then deploy again."),
    ("must use a real database", "wrangler.toml has no real D1 database_id: run `gateway-ops bootstrap --target "
                                 "cloudflare` first."),
    ("Authentication error", "the API token may not deploy Workers: give it Workers Scripts Edit at "
                             "https://dash.cloudflare.com/profile/api-tokens."),
    ("Invalid API Token", "Cloudflare rejected CLOUDFLARE_API_TOKEN: check that it holds the whole token and is active."),
    ("ENOTFOUND", "Cloudflare's API could not be reached: check the network connection and try again."),
    ("fetch failed", "Cloudflare's API could not be reached: check the network connection and try again."),
    ("requires at least Node.js", "the installed Node.js is too old for this wrangler: use Node 20 (see TOOLCHAIN)."),
)


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


def find_wrangler(wrangler: Path | None = None, worker_dir: Path = WORKER_DIR) -> Path:
    """The wrangler executable (the Worker's own pinned copy unless one is given).

    :raises WranglerNotInstalledError: when it is not there
    """
    path = Path(wrangler) if wrangler else Path(worker_dir) / "node_modules" / ".bin" / "wrangler"
    if not path.exists():
        raise WranglerNotInstalledError(
            f"wrangler is not installed ({path} is missing): run `make install` (or `cd worker && npm ci`) first."
        )
    return path


def wrangler_env(settings: Settings) -> dict[str, str]:
    """The child environment: quiet, non-interactive wrangler with the token and account from settings."""
    if settings.CLOUDFLARE_API_TOKEN is None:
        raise SettingsError("CLOUDFLARE_API_TOKEN is not set: put it in the environment or in .env.")
    return {**os.environ, **WRANGLER_ENV, "CLOUDFLARE_API_TOKEN": settings.CLOUDFLARE_API_TOKEN.get_secret_value(),
            "CLOUDFLARE_ACCOUNT_ID": require_account_id(settings), "NO_COLOR": "1", "FORCE_COLOR": "0"}


def parse_deploy_output(lines: Iterable[str]) -> Deployment:
    """The URL (first trigger after "Deployed … triggers", preferring workers.dev) and version id."""
    lines = [ANSI.sub("", line).rstrip() for line in lines]
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


def _failure(command: str, code: int, output: Iterable[str]) -> WranglerError:
    text = "\n".join(output)
    for needle, advice in HINTS:
        if needle in text:
            return WranglerError(f"wrangler {command} failed: {advice}")
    errors = [line.strip() for line in output if line.strip()][-8:]
    return WranglerError(f"wrangler {command} failed (exit {code}); its last lines:\n" + "\n".join(errors))


def _stream(argv: list[str], cwd: Path, env: dict[str, str], on_line: Callable[[str], None] | None,
            timeout: float | None, stop: threading.Event | None = None) -> tuple[int, list[str]]:
    """Runs argv in its own process group, passing each output line to on_line; stops it on timeout/stop."""
    kept: deque[str] = deque(maxlen=400)
    try:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True)
    except OSError as error:
        raise WranglerNotInstalledError(f"wrangler could not be started ({error.strerror}): run `make install`.") \
            from None
    timed_out = threading.Event()

    deadline = None if timeout is None else time.monotonic() + timeout

    def watchdog() -> None:
        while process.poll() is None:
            if stop is not None and stop.is_set():
                stop_group(process, grace=5)
                return
            if deadline is not None and time.monotonic() > deadline:
                timed_out.set()
                stop_group(process, grace=5)
                return
            time.sleep(0.1)

    threading.Thread(target=watchdog, daemon=True, name="wrangler-watchdog").start()
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = ANSI.sub("", raw.rstrip("\n"))
            kept.append(line)
            logger.debug("wrangler: %s", line)
            if on_line is not None:
                on_line(line)
        code = process.wait()
    except BaseException:
        stop_group(process, grace=5)
        raise
    if timed_out.is_set():
        raise WranglerError(f"wrangler {argv[1]} did not finish within {timeout:.0f} s: check the network and try again.")
    return code, list(kept)


def deploy(settings: Settings, *, wrangler: Path | None = None, worker_dir: Path = WORKER_DIR,
           on_line: Callable[[str], None] | None = None, timeout: float = 600, require_url: bool = True) -> Deployment:
    """``wrangler deploy`` for ``worker_dir``; returns the URL and version id it reported.

    :param require_url: fail when wrangler printed no URL (pass False when you know the address)

    :raises SettingsError: when the token/account are missing or bootstrap has not written the ids
    :raises WranglerError: when wrangler is missing or fails (one sentence for known failures)
    """
    config = read_config(Path(worker_dir) / "wrangler.toml")
    if not (config.kv_id and config.d1_id):
        raise SettingsError("worker/wrangler.toml has no KV id or D1 database_id yet: run "
                            "`gateway-ops bootstrap --target cloudflare` first.")
    binary = find_wrangler(wrangler, worker_dir)
    code, output = _stream([str(binary), "deploy"], Path(worker_dir), wrangler_env(settings), on_line, timeout)
    if code != 0:
        raise _failure("deploy", code, output)
    deployment = parse_deploy_output(output)
    if deployment.url is None and require_url:
        raise WranglerError("wrangler deploy finished but printed no URL: the Worker has no workers.dev route or "
                            "custom domain; set GATEWAY_URL to its address and run `gateway-ops smoke`.")
    return deployment


def tail(settings: Settings, *, wrangler: Path | None = None, worker_dir: Path = WORKER_DIR,
         on_line: Callable[[str], None] = print, output_format: str = "pretty", duration: float | None = None,
         stop: threading.Event | None = None) -> None:
    """Streams ``wrangler tail`` lines to ``on_line`` until Ctrl-C, ``stop`` is set or ``duration`` passes."""
    if output_format not in ("pretty", "json"):
        raise SettingsError("The tail format must be pretty or json.")
    config = read_config(Path(worker_dir) / "wrangler.toml")
    binary = find_wrangler(wrangler, worker_dir)
    stopper = stop or threading.Event()
    if duration is not None:
        threading.Timer(duration, stopper.set).start()
    code, output = _stream([str(binary), "tail", config.worker_name, "--format", output_format], Path(worker_dir),
                           wrangler_env(settings), on_line, None, stopper)
    if code not in (0, -signal.SIGTERM, -signal.SIGKILL) and not stopper.is_set():
        raise _failure("tail", code, output)


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
                     user_id: str = "deploy-smoke", wrangler: Path | None = None, worker_dir: Path = WORKER_DIR,
                     on_line: Callable[[str], None] | None = None, http_client: httpx.Client | None = None,
                     live_timeout: float = 60.0, log_timeout: float = 15.0) -> DeployResult:
    """Deploys (target cloudflare) and smoke-tests the result with its access log.

    For target ``local`` the running local stack *is* the deployment: only the smoke test runs.
    """
    target = target or settings.GATEWAY_TARGET
    key_secret = settings.USER_KEY_SECRET.get_secret_value() if settings.USER_KEY_SECRET else None
    if target == "local":
        installed = (Path(worker_dir) / "node_modules" / ".bin" / "wrangler").exists()
        url = url or settings.gateway_url
        checks = [Check("Worker packages installed", "worker/node_modules/.bin/wrangler",
                        "present" if installed else "missing: run make install", installed)]
        checks += run_smoke(url, LocalAccessLog(settings.GATEWAY_STATE_DIR), user_id=user_id, key_secret=key_secret,
                            log_timeout=log_timeout)
        return DeployResult("local", url, None, checks)
    if target != "cloudflare":
        raise SettingsError(f"Unknown target {target!r}: use 'local' or 'cloudflare'.")
    deployment = deploy(settings, wrangler=wrangler, worker_dir=worker_dir, on_line=on_line, require_url=url is None)
    url = url or str(deployment.url)
    checks = [Check("wrangler deploy", "a URL and a version id", f"{deployment.url} version {deployment.version_id}",
                    bool(deployment.url and deployment.version_id))]
    wait_until_live(url, live_timeout)
    log = CloudflareAccessLog(make_client(settings, http_client), require_account_id(settings),
                              str(read_config(Path(worker_dir) / "wrangler.toml").d1_id))
    checks += run_smoke(url, log, user_id=user_id, key_secret=key_secret, log_timeout=log_timeout)
    return DeployResult("cloudflare", url, deployment, checks)
