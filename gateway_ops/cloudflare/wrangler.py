"""The one module that runs wrangler: its command line, environment, folder, timeouts and errors.

gateway_ops uses wrangler only for what it alone does: the local stack's D1 and KV (``--local
--persist-to`` the state folder, the storage the local Worker uses) and bundling, deploying and
tailing the Worker on Cloudflare. Every call here

* runs the Worker's own pinned copy (``worker/node_modules/.bin/wrangler``) inside ``worker/``;
* has a quiet, loopback-only environment (``WRANGLER_ENV``) and, for Cloudflare commands, the
  token and account in the child's environment — never on its command line, where ``ps`` shows it;
* runs in its own process group, stopped as a whole (``processes.stop_group``) on a timeout,
  Ctrl-C or SIGTERM: wrangler's node and workerd children would otherwise outlive it;
* fails with one ``WranglerError`` sentence (``WranglerNotInstalledError`` when it is missing).
  Callers in other areas translate that into their own error (``StackError``, ``ArchiveError``).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..cloudflare_api import require_account_id
from ..exceptions import SettingsError, StackError
from ..log import logger
from ..paths import WORKER_DIR
from ..processes import run_checked, stop_group
from ..settings import Settings
from .errors import WranglerError, WranglerNotInstalledError
from .wrangler_toml import D1_BINDING, KV_BINDING

#: Keep wrangler quiet and on loopback: no telemetry, no update check, no `Request.cf` download.
WRANGLER_ENV = {
    "CLOUDFLARE_CF_FETCH_ENABLED": "false",
    "WRANGLER_SEND_METRICS": "false",
    "WRANGLER_HIDE_BANNER": "true",
    "NO_UPDATE_NOTIFIER": "1",
    "CI": "true",
}
#: How long a short local command (migrations, SQL, KV) may take.
LOCAL_TIMEOUT_S = 120.0
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
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
    ("requires at least Node.js", "the installed Node.js is too old for this wrangler: use Node 20 (wrangler 4.86 is the last release that runs on it)."),
)
_COMMAND_WORD = re.compile(r"[a-z][a-z0-9]*")


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


def local_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment, quietened for wrangler, with ``extra`` on top."""
    return {**os.environ, **WRANGLER_ENV, **(extra or {})}


def cloudflare_env(settings: Settings) -> dict[str, str]:
    """The environment of a command that talks to Cloudflare: the token and account from settings.

    :raises SettingsError: when either is missing
    """
    if settings.CLOUDFLARE_API_TOKEN is None:
        raise SettingsError("CLOUDFLARE_API_TOKEN is not set: put it in the environment or in .env.")
    return local_env({"CLOUDFLARE_API_TOKEN": settings.CLOUDFLARE_API_TOKEN.get_secret_value(),
                      "CLOUDFLARE_ACCOUNT_ID": require_account_id(settings), "NO_COLOR": "1", "FORCE_COLOR": "0"})


def local_storage(state_dir: Path) -> list[str]:
    """The arguments that point a command at the local stack's storage under ``state_dir``."""
    return ["--local", "--persist-to", str(state_dir)]


def command_name(args: Sequence[str]) -> str:
    """``wrangler d1 migrations apply`` for ``["d1", "migrations", "apply", "DB", …]``: the words
    before the first name, path or option (for messages)."""
    words = []
    for arg in args:
        if not _COMMAND_WORD.fullmatch(arg):
            break
        words.append(arg)
    return " ".join(["wrangler", *words])


def run(args: Sequence[str], *, worker_dir: Path = WORKER_DIR, wrangler: Path | None = None,
        env: Mapping[str, str] | None = None, timeout: float = LOCAL_TIMEOUT_S) -> str:
    """Runs a short wrangler command to completion and returns what it printed on stdout.

    :param env: the child's environment (default: ``local_env()``)

    :raises WranglerNotInstalledError: when wrangler is missing
    :raises WranglerError: when it fails or outlasts ``timeout`` (its group is then killed)
    """
    binary = find_wrangler(wrangler, worker_dir)
    try:
        return run_checked(command_name(args), [str(binary), *args], cwd=Path(worker_dir),
                           env=local_env() if env is None else env, timeout=timeout)
    except StackError as error:
        raise WranglerError(str(error)) from None


def apply_local_migrations(state_dir: Path, *, worker_dir: Path = WORKER_DIR) -> None:
    """Applies pending ``migrations/`` to the local D1 under ``state_dir`` (wrangler records what ran)."""
    run(["d1", "migrations", "apply", D1_BINDING, *local_storage(state_dir)], worker_dir=worker_dir)


def d1_execute_local(state_dir: Path, statement: str) -> list[dict[str, Any]]:
    """Runs one SQL statement on the local D1 (wrangler binds no parameters here) and returns
    wrangler's JSON answer: one ``{"results": [...], ...}`` per statement.

    :raises WranglerError: when wrangler fails or does not answer JSON
    """
    output = run(["d1", "execute", D1_BINDING, *local_storage(state_dir), "--json", "--command", statement])
    try:
        return json.loads(output[output.index("["):])
    except ValueError:
        raise WranglerError(f"wrangler's answer was not JSON: {output[:200]!r}.") from None


def kv_local(state_dir: Path, *args: str) -> str:
    """A ``wrangler kv …`` command on the local stack's GATEWAY_KV; returns its output."""
    return run(["kv", *args, "--binding", KV_BINDING, *local_storage(state_dir)])


def failure_reason(output: str) -> str:
    """The one line that says why wrangler failed (its JSON ``error.text``, or an ``[ERROR]`` line)."""
    text = re.search(r'"text":\s*"((?:[^"\\]|\\.)*)"', output)
    if text:
        return json.loads(f'"{text.group(1)}"')
    for line in output.splitlines():
        if "[ERROR]" in line:
            return line.split("[ERROR]", 1)[1].strip()
    return output.splitlines()[0] if output else "no output"


def failure(command: str, code: int, output: Sequence[str]) -> WranglerError:
    """A streamed command's failure as one sentence: a known cause and its fix, or its last lines."""
    text = "\n".join(output)
    for needle, advice in HINTS:
        if needle in text:
            return WranglerError(f"wrangler {command} failed: {advice}")
    errors = [line.strip() for line in output if line.strip()][-8:]
    return WranglerError(f"wrangler {command} failed (exit {code}); its last lines:\n" + "\n".join(errors))


def stream(args: Sequence[str], env: Mapping[str, str], *, worker_dir: Path = WORKER_DIR,
           wrangler: Path | None = None, on_line: Callable[[str], None] | None = None,
           timeout: float | None = None, stop: threading.Event | None = None) -> tuple[int, list[str]]:
    """Runs a long wrangler command (deploy, tail), passing each output line (colours removed) to
    ``on_line``; stops its group when ``stop`` is set or ``timeout`` passes. Returns the exit code
    and the last lines.

    :raises WranglerNotInstalledError: when wrangler is missing or cannot be started
    :raises WranglerError: when it outlasts ``timeout``
    """
    binary = find_wrangler(wrangler, worker_dir)
    kept: deque[str] = deque(maxlen=400)
    try:
        process = subprocess.Popen([str(binary), *args], cwd=Path(worker_dir), env=dict(env),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, bufsize=1, start_new_session=True)
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
        raise WranglerError(f"wrangler {args[0]} did not finish within {timeout:.0f} s: check the network and try again.")
    return code, list(kept)


#: The outcomes ``wrangler tail --status`` filters on.
TAIL_STATUSES = ("ok", "error", "canceled")


def tail_args(worker_name: str, *, output_format: str = "pretty", statuses: Sequence[str] = (),
              sampling_rate: float | None = None, search: str | None = None) -> list[str]:
    """``wrangler tail`` arguments with the operator's manual's filters: ``--status`` (repeatable:
    ok, error, canceled), ``--sampling-rate`` (a fraction in (0, 1]) and ``--search`` (text in
    console.log messages).

    :raises SettingsError: for a format, status or rate wrangler would refuse
    """
    if output_format not in ("pretty", "json"):
        raise SettingsError("The tail format must be pretty or json.")
    wrong = [status for status in statuses if status not in TAIL_STATUSES]
    if wrong:
        raise SettingsError(f"The tail status must be one of {', '.join(TAIL_STATUSES)}, got {', '.join(wrong)}.")
    if sampling_rate is not None and not 0 < sampling_rate <= 1:
        raise SettingsError(f"The sampling rate is a fraction in (0, 1], e.g. 0.1 — got {sampling_rate}.")
    args = ["tail", worker_name, "--format", output_format]
    for status in statuses:
        args += ["--status", status]
    if sampling_rate is not None:
        args += ["--sampling-rate", f"{sampling_rate:g}"]
    if search:
        args += ["--search", search]
    return args
