"""The local stack: the simulated origin and the gateway Worker on loopback, as one unit.

``LocalStack`` applies ``migrations/`` to the local D1, starts the simulated origin (unless an
upstream URL is given), starts the Worker with local KV, D1 and Durable Objects persisted under the
state folder, waits until ``/health`` answers, and on exit — normal, exception, Ctrl-C or SIGTERM
— stops every child process group, leaving no port bound. Nothing leaves loopback.

The local Worker always has an admin API: ``ADMIN_TOKEN`` from its settings, or else the token
generated once into ``state_dir/admin_token`` (0600), where local commands find it.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .cloudflare import wrangler
from .cloudflare.errors import WranglerError
from .cloudflare.wrangler import WRANGLER_ENV  # also imported from here by bench/worker_bench.py
from .controls.token import ensure_local_token
from .exceptions import PortInUseError, StackError
from .log import logger
from .origin_concurrency import read_local as read_local_concurrency
from .paths import DEFAULT_STATE_DIR, WORKER_DIR
from .processes import ManagedProcess

HOST = "127.0.0.1"
#: Worker settings (README, "Configuration") that reach the local Worker when set in the environment.
WORKER_SETTING_NAMES = (
    "AUTH_MODE",
    "RATE_LIMIT_PER_MINUTE",
    "ALLOW_ANONYMOUS",
    "USER_KEY_SECRET",
    "IP_HASH_SALT",
    "UPSTREAM_TIMEOUT_MS",
    "MAX_BODY_BYTES",
    "UPSTREAM_IDLE_TIMEOUT_MS",
    "ORIGIN_MAX_CONCURRENCY",
    "ORIGIN_QUEUE_TIMEOUT_MS",
    "ADMIN_TOKEN",
)


@dataclass
class StackConfig:
    """How to run the local stack; defaults match `gateway-ops up`."""

    port: int = 8787
    upstream_port: int = 18789
    upstream_url: str | None = None
    profile: str = "mac-mini"
    origin_args: list[str] = field(default_factory=list)
    state_dir: Path = DEFAULT_STATE_DIR
    #: Worker settings; by default those of WORKER_SETTING_NAMES found in the environment.
    worker_settings: Mapping[str, str] | None = None
    ready_timeout: float = 60.0
    #: without ADMIN_TOKEN in the Worker settings, use (or generate) the state folder's token;
    #: False leaves the Worker without an admin API
    admin_token: bool = True
    #: Ports of further simulated origins (same profile and arguments): OPENCLAW_URL then lists a pool.
    pool_ports: list[int] = field(default_factory=list)


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when a server could listen on the port now. SO_REUSEADDR, as node and workerd use,
    so a port that only has closed connections in TIME_WAIT counts as free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port the OS says is free now (for tests and parallel stacks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def apply_local_migrations(state_dir: Path) -> None:
    """Applies pending `migrations/` to the local D1 under `state_dir` (wrangler tracks what ran),
    unless the stamp of the last run says nothing changed since (``migration_stamp``: saves ~5 s).

    :raises StackError: when wrangler is missing or fails
    """
    from . import migration_stamp  # pandas and the migrator: only when a stack starts
    from .cloudflare.wrangler_toml import read_config

    config = read_config()
    if migration_stamp.is_current(state_dir, config):
        logger.info("local D1 migrations up to date (stamp): wrangler not run")
        return
    try:
        wrangler.apply_local_migrations(state_dir)
    except WranglerError as error:
        raise StackError(str(error)) from None
    migration_stamp.write(state_dir, config)


class LocalStack:
    """Origin + Worker on loopback. Use as a context manager, or call start()/stop()."""

    def __init__(self, config: StackConfig | None = None):
        self.config = config or StackConfig()
        self.origin: ManagedProcess | None = None
        self.worker: ManagedProcess | None = None
        #: the running Worker's ADMIN_TOKEN (None: no admin API); set when it starts, never printed
        self.admin_token: str | None = None
        #: The further simulated origins of a pool (``pool_ports``), in OPENCLAW_URL's order after the first.
        self.pool: list[ManagedProcess] = []

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.config.port}"

    @property
    def origin_url(self) -> str:
        return self.config.upstream_url or f"http://{HOST}:{self.config.upstream_port}"

    @property
    def origin_urls(self) -> list[str]:
        """Every origin the Worker is given: the first, then the pool's (OPENCLAW_URL's order)."""
        return [self.origin_url, *(f"http://{HOST}:{port}" for port in self.config.pool_ports)]

    @property
    def state_dir(self) -> Path:
        return Path(self.config.state_dir).resolve()

    def _check_ports(self) -> None:
        ports = [("gateway", self.config.port)]
        if not self.config.upstream_url:
            ports.append(("simulated origin", self.config.upstream_port))
        ports += [("simulated pool origin", port) for port in self.config.pool_ports]
        for role, port in ports:
            if not port_is_free(port):
                raise PortInUseError(
                    f"Port {port} ({role}) is already in use on {HOST}: is another `gateway-ops up` running? "
                    f"Stop it, or choose another port."
                )

    def _worker_env(self) -> dict[str, str]:
        settings = self.config.worker_settings
        if settings is None:
            settings = {name: os.environ[name] for name in WORKER_SETTING_NAMES if name in os.environ}
            saved = read_local_concurrency(self.state_dir)  # `gateway-ops origin concurrency N`
            if saved and "ORIGIN_MAX_CONCURRENCY" not in settings:
                settings["ORIGIN_MAX_CONCURRENCY"] = saved
        if self.config.admin_token and not settings.get("ADMIN_TOKEN"):
            settings = {**settings, "ADMIN_TOKEN": ensure_local_token(self.state_dir)}
        self.admin_token = settings.get("ADMIN_TOKEN") or None
        env = {k: v for k, v in os.environ.items() if k not in WORKER_SETTING_NAMES and k != "OPENCLAW_URL"}
        return {**env, **WRANGLER_ENV, **settings, "OPENCLAW_URL": ",".join(self.origin_urls)}

    def start(self) -> LocalStack:
        """Starts the stack; a no-op when it is already running."""
        if self.worker is not None:
            return self
        self._check_ports()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            apply_local_migrations(self.state_dir)
            if not self.config.upstream_url:
                self.origin = self._start_origin("simulated origin", self.config.upstream_port)
            self.pool = [self._start_origin(f"simulated origin {index}", port)
                         for index, port in enumerate(self.config.pool_ports, start=1)]
            self.worker = ManagedProcess(
                "gateway Worker",
                ["node", str(WORKER_DIR / "scripts" / "dev-server.mjs"), "--host", HOST,
                 "--port", str(self.config.port), "--persist", str(self.state_dir)],
                cwd=WORKER_DIR,
                env=self._worker_env(),
            )
            self.worker.start(ready=lambda line: line.startswith("ready "))
            self.worker.wait_ready(self.config.ready_timeout)
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        logger.info("local stack ready at %s in %.1f s", self.url, time.monotonic() - started)
        return self

    def _start_origin(self, name: str, port: int) -> ManagedProcess:
        origin = ManagedProcess(
            name,
            [sys.executable, "-m", "gateway_ops.origin", "--host", HOST, "--port", str(port),
             "--profile", self.config.profile, *self.config.origin_args],
        )
        origin.start(ready=lambda line: line.startswith("origin ready"))
        origin.wait_ready(self.config.ready_timeout)
        return origin

    def _wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"{self.url}/health", timeout=2)
                if response.status_code == 200 and response.json().get("status") == "ok":
                    return
                last_error = f"HTTP {response.status_code}"
            except (httpx.HTTPError, ValueError) as error:
                last_error = str(error)
            time.sleep(0.1)
        raise StackError(f"The gateway at {self.url} did not become healthy ({last_error}).")

    def stop(self) -> None:
        """Stops the Worker, then the origins; safe to call twice."""
        for part in (self.worker, self.origin, *self.pool):
            if part is not None:
                part.stop()
        self.worker = self.origin = None
        self.pool = []

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


@contextmanager
def local_stack(config: StackConfig | None = None, **options) -> Iterator[LocalStack]:
    """``with local_stack(port=8787, profile="instant") as stack: ...`` — started, then always stopped."""
    stack = LocalStack(config or StackConfig(**options))
    with stack:
        yield stack
