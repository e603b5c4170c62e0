"""Running the simulated origin: a blocking ``serve`` for the CLI, a background one for tests.

Both bind the listening socket themselves before uvicorn starts, so ``port=0`` yields a real free
port with no race, and both announce readiness only once uvicorn is accepting connections. The
deliberate ``drop`` fault aborts connections by raising :class:`SimulatedDrop`, and a ``hang`` still
open at shutdown is cancelled after a short grace period; a log filter keeps those intended aborts
out of uvicorn's error log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from starlette.applications import Starlette

from .access import AccessSettings
from .app import create_app
from .faults import FaultSettings
from .profiles import PROFILES, resolve_profile
from .replies import SimulatedDrop
from .settings import DEFAULT_MODELS, OriginSettings

DEFAULT_PORT = 18789
STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 10.0


class _ReadyServer(uvicorn.Server):
    """A uvicorn server that calls ``on_ready`` once it is accepting connections."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_ready is not None:
            self._on_ready()


class _IgnoreIntendedAborts(logging.Filter):
    """Drops uvicorn's tracebacks for aborts the origin causes on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and _is_intended(record.exc_info[1]))


def _is_intended(exc: BaseException | None) -> bool:
    """A ``drop`` fault, or a hung request cancelled when graceful shutdown timed out."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_intended(inner) for inner in exc.exceptions)
    return isinstance(exc, SimulatedDrop | asyncio.CancelledError)


def _quiet_intended_aborts() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _IgnoreIntendedAborts) for f in logger.filters):
        logger.addFilter(_IgnoreIntendedAborts())


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket; ``port=0`` picks a free port.

    The protocol is named (IPPROTO_TCP) because asyncio sets TCP_NODELAY on accepted connections
    only then: with proto 0, uvicorn's separate header and body writes wait ~40 ms for the
    client's delayed ACK on every reused keep-alive connection.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _config(app: Starlette, graceful_s: float, own_logging: bool) -> uvicorn.Config:
    """``own_logging=False`` leaves the host process's logging configuration alone (tests)."""
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # uvicorn annotates int, but passes it to asyncio.wait_for as seconds: a float works.
        timeout_graceful_shutdown=graceful_s,  # type: ignore[arg-type]
        log_config=LOGGING_CONFIG if own_logging else None,
    )
    _quiet_intended_aborts()
    return config


def serve(
    settings: OriginSettings | None = None,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run an origin until SIGINT/SIGTERM. ``on_ready(base_url)`` is called once it is listening."""
    sock = bind_socket(host, port)
    url = base_url(sock)

    def announce() -> None:
        if on_ready is not None:
            on_ready(url)

    server = _ReadyServer(_config(create_app(settings), 3.0, own_logging=True), announce)
    with contextlib.closing(sock):
        server.run(sockets=[sock])


@contextlib.contextmanager
def running_app(app: Starlette, port: int = 0, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` from a background thread; yields its base URL and stops it on exit."""
    sock = bind_socket(host, port)
    server = _ReadyServer(_config(app, 1.0, own_logging=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="origin-server", daemon=True)
    thread.start()
    try:
        _wait_started(server, thread)
        yield base_url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=SHUTDOWN_TIMEOUT_S)
        sock.close()


@contextlib.contextmanager
def running_origin(settings: OriginSettings | None = None, port: int = 0) -> Iterator[str]:
    """An origin built from ``settings`` on 127.0.0.1 in a background thread; yields its base URL."""
    with running_app(create_app(settings), port=port) as url:
        yield url


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the origin server thread exited during startup")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the origin server did not start within {STARTUP_TIMEOUT_S} s")
        time.sleep(0.01)


# --- command line ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gateway_ops.origin",
        description="Simulated OpenAI-compatible origin for organized-gateway load and fault tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"0 picks a free port (default: {DEFAULT_PORT})")
    profiles = ", ".join(sorted(PROFILES))
    parser.add_argument("--profile", default="mac-mini", help=f"one of: {profiles} (default: mac-mini)")
    parser.add_argument("--slots", type=int, help="concurrent generations")
    parser.add_argument("--latency-ms", type=float, help="time to first token, ms")
    parser.add_argument("--per-token-ms", type=float, help="time per output token, ms")
    parser.add_argument("--output-tokens", type=int, help="tokens per answer (max_tokens may lower it)")
    parser.add_argument("--max-queue", type=int, help="requests that may wait for a slot before 503")
    parser.add_argument("--jitter", type=float, help="relative latency spread in [0, 1)")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of requests answered 500")
    parser.add_argument("--slow-headers-ms", type=float, default=0.0, help="delay before response headers, ms")
    parser.add_argument("--hang", action="store_true", help="never answer")
    parser.add_argument("--drop-connection", action="store_true", help="abort every response midway")
    parser.add_argument("--malformed-json", action="store_true", help="answer 200 with a broken JSON body")
    parser.add_argument("--model", action="append", dest="models", help="model listed by /v1/models (repeatable)")
    parser.add_argument("--models", type=_names, default=[], dest="model_list", metavar="A,B",
                        help="models listed by /v1/models, comma-separated (adds to --model)")
    parser.add_argument("--reject-unknown-models", action="store_true",
                        help="answer a model not listed 404 model_not_found, as a real server does")
    access = parser.add_argument_group(
        "credentials", "Require one on every /v1/* request (401 invalid_api_key without it), as a real server does. "
        "Prefer the *-env forms: a value on the command line shows in the process list.")
    access.add_argument("--api-key-env", metavar="VAR", help="require `Authorization: Bearer $VAR`")
    access.add_argument("--api-key", metavar="KEY", help="require `Authorization: Bearer KEY`")
    access.add_argument("--codex-token-env", metavar="VAR",
                        help="codex mode: require `X-Codex-Token: $VAR` (Authorization is then ignored)")
    access.add_argument("--codex-token", metavar="TOKEN", help="codex mode: require `X-Codex-Token: TOKEN`")
    parser.add_argument("--seed", type=int, default=0, help="seed for jitter and error-rate draws")
    return parser


def settings_from_args(args: argparse.Namespace) -> OriginSettings:
    """:raises ValueError: for an unknown profile or an out-of-range value."""
    profile = resolve_profile(
        args.profile,
        slots=args.slots,
        latency_ms=args.latency_ms,
        per_token_ms=args.per_token_ms,
        output_tokens=args.output_tokens,
        max_queue=args.max_queue,
        jitter=args.jitter,
    )
    faults = FaultSettings(
        error_rate=args.error_rate,
        hang=args.hang,
        slow_headers_ms=args.slow_headers_ms,
        drop_connection=args.drop_connection,
        malformed_json=args.malformed_json,
    )
    models = [*(args.models or []), *args.model_list]
    return OriginSettings(
        profile=profile,
        faults=faults,
        models=tuple(dict.fromkeys(models)) or DEFAULT_MODELS,
        reject_unknown_models=args.reject_unknown_models,
        access=AccessSettings(
            api_key=_secret(args.api_key, args.api_key_env, "--api-key"),
            codex_token=_secret(args.codex_token, args.codex_token_env, "--codex-token"),
        ),
        seed=args.seed,
    )


def strict_args(
    *, api_key_env: str | None = None, codex_token_env: str | None = None, models: Sequence[str] = DEFAULT_MODELS
) -> list[str]:
    """Arguments that run the origin as strict as a real server, for ``StackConfig.origin_args``.

    Credentials are named by environment variable, so their values stay out of the process list;
    the origin inherits the environment of whoever starts it. Example:
    ``strict_args(api_key_env="GATEWAY_CLIENT_API_KEY")``, or in codex mode
    ``strict_args(codex_token_env="GATEWAY_CODEX_TOKEN")``.
    """
    args = ["--models", ",".join(models), "--reject-unknown-models"]
    if api_key_env is not None:
        args += ["--api-key-env", api_key_env]
    if codex_token_env is not None:
        args += ["--codex-token-env", codex_token_env]
    return args


def _names(raw: str) -> list[str]:
    return [name.strip() for name in raw.split(",") if name.strip()]


def _secret(value: str | None, env_name: str | None, flag: str) -> str | None:
    """The credential from the flag or the named environment variable (never both, never empty).

    :raises ValueError: naming the flag or variable, never the value.
    """
    if value is not None and env_name is not None:
        raise ValueError(f"give {flag} or {flag}-env, not both")
    if env_name is None:
        return value
    found = os.environ.get(env_name, "")
    if not found.strip():
        raise ValueError(f"{flag}-env {env_name}: that environment variable is not set or empty")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: prints ``origin ready <url>`` once listening, then serves until signalled."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))

    def announce(url: str) -> None:
        print(f"origin ready {url}", flush=True)

    try:
        serve(settings, host=args.host, port=args.port, on_ready=announce)
    except OSError as exc:
        print(f"origin: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it handled gracefully
        return 130
    return 0
