"""Benchmarks the gateway Worker under two local runtimes, side by side in one run.

The runtimes are plain ``wrangler dev`` (the runtime the project's reference figures were taken
with) and the programmatic dev-server that ``gateway_ops.stack.local_stack`` uses
(``worker/scripts/dev-server.mjs``, wrangler's ``unstable_startWorker`` with the devtools inspector
off). Both proxy to one shared simulated origin (profile ``instant``, so the origin adds no
latency of its own) and both persist KV, D1 and Durable Objects under a temporary folder.

Two measurements per runtime:

* closed-loop throughput — N clients (N = 1, 10, 50), each with its own ``X-User-ID``, send
  ``POST /v1/chat/completions`` with a tiny body back to back for a fixed duration, with
  ``RATE_LIMIT_PER_MINUTE`` set so high that the limit never answers; reports requests/s, p50,
  p99 and the non-200 count;
* burst exactness — with ``RATE_LIMIT_PER_MINUTE=50``, bursts of 50, 200 and 1,000 requests
  (at most 200 in flight) for one fresh user each; an exact limiter admits exactly 50 of each.

The same closed loop is also run straight at the origin ("origin-direct"), the floor under both.
The client is the load-test engine (``gateway_ops.loadtest.engine``: closed model for throughput,
an open burst schedule for bursts) and the percentiles are its statistics' (HDR histogram).

Every process started here runs in its own process group and is stopped with its whole group on
exit, exceptions, Ctrl-C and SIGTERM; state lives in a ``tempfile.TemporaryDirectory``. All
traffic stays on 127.0.0.1.

    .venv/bin/python bench/worker_bench.py [--duration 5] [--runtimes programmatic,wrangler-dev]
                                           [--json results.json]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime, UTC
from pathlib import Path
from typing import TypeVar

import aiohttp

from gateway_ops.exceptions import StackError
from gateway_ops.loadtest.engine import Engine, EngineOptions, RequestTemplate, Run as EngineRun
from gateway_ops.loadtest.schedule import burst_schedule, user_ids
from gateway_ops.loadtest.stats import percentiles
from gateway_ops.minute_window import wait_before_start
from gateway_ops.paths import WORKER_DIR
from gateway_ops.processes import ManagedProcess
from gateway_ops.stack import HOST, WRANGLER_ENV, WORKER_SETTING_NAMES, apply_local_migrations, free_port, local_stack

#: Reference figures, measured earlier on this machine under plain `wrangler dev` with the original
#: naive Worker (KV counter). The request mix behind them was not recorded with them.
REFERENCE_RPS = {1: 44.0, 10: 79.0, 50: 96.0}
REFERENCE_P50_MS_C1 = 20.7
#: What the old KV counter admitted with limit 50: burst size → admitted.
REFERENCE_KV_ADMITTED = {200: 200, 1000: 659}

RUNTIMES = ("programmatic", "wrangler-dev")
RUNTIME_LABELS = {
    "programmatic": "programmatic dev-server (node worker/scripts/dev-server.mjs, inspector off)",
    "wrangler-dev": "plain `wrangler dev` (inspector on)",
}
ENDPOINT = "/v1/chat/completions"
MODEL = "gpt-4o-mini"
CHAT_BODY = json.dumps(
    {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}, separators=(",", ":")
).encode()
WORKLOAD = f"POST {ENDPOINT} {CHAT_BODY.decode()} ({len(CHAT_BODY)} bytes)"
#: what the load-test engine sends for every request of the bench
CHAT = RequestTemplate(CHAT_BODY, path=ENDPOINT)
UNLIMITED = 1_000_000  # RATE_LIMIT_PER_MINUTE for the throughput phase: never reached
BURST_LIMIT = 50
REQUEST_TIMEOUT_S = 60.0
READY_TIMEOUT_S = 60.0
T = TypeVar("T")


# --- results ---------------------------------------------------------------------------------


@dataclass
class StepResult:
    """One closed-loop step: requests/s counts only 200s, so fast errors cannot inflate it."""

    concurrency: int
    seconds: float
    ok: int
    non_200: int
    errors: int
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    statuses: dict[str, int] = field(default_factory=dict)


@dataclass
class BurstResult:
    """One burst: what an exact limiter answers is `limit` 200s and the rest 429s, all from the Worker."""

    size: int
    in_flight: int
    admitted: int
    rate_limited: int
    other: dict[str, int]
    errors: int
    missing_request_id: int
    seconds: float
    crossed_minute: bool
    attempts: int
    #: The first body (or client error) of each unexpected kind of answer, to tell who sent it.
    samples: dict[str, str] = field(default_factory=dict)

    @property
    def all_from_worker(self) -> bool:
        return self.errors == 0 and self.missing_request_id == 0

    @property
    def exact(self) -> bool:
        """The limiter admitted exactly the limit; answers the Worker never saw are reported apart."""
        return self.admitted == BURST_LIMIT


@dataclass
class RuntimeResult:
    """What one runtime measured, in the order the steps ran."""

    name: str
    throughput: list[StepResult] = field(default_factory=list)
    bursts: list[BurstResult] = field(default_factory=list)


@dataclass
class Run:
    """Everything measured: the runtimes, and the origin alone as the floor under them."""

    runtimes: dict[str, RuntimeResult]
    origin_direct: list[StepResult] = field(default_factory=list)
    #: 1-minute load average before and after: other work on the 2 cores skews every figure.
    load_before: float = 0.0
    load_after: float = 0.0


# --- processes ---------------------------------------------------------------------------------


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived; every process was stopped before this was raised."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


async def cancel_on_signals(coro: Coroutine[object, object, T]) -> T:
    """Runs `coro` as a task that Ctrl-C and SIGTERM cancel, then raises Interrupted.

    The cancellation lands at the task's next await, so the ExitStacks unwind and stop every
    process group — but never in the middle of a blocking start-up: `apply_local_migrations` runs
    wrangler through `subprocess.run`, which on an exception kills only its direct child and
    leaves wrangler's node and workerd grandchildren running. Later signals are ignored so the
    cleanup itself is not cut short. An ignored SIGINT (e.g. under nohup) stays ignored.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(coro)
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if not received:
            received.append(signum)
            log(f"{signal.Signals(signum).name}: stopping every process started …")
            task.cancel()

    signums = [signal.SIGTERM] + ([signal.SIGINT] if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN else [])
    for signum in signums:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await task
    except asyncio.CancelledError:
        if received:
            raise Interrupted(received[0]) from None
        raise
    finally:
        for signum in signums:
            loop.remove_signal_handler(signum)


def _health_ok(url: str) -> bool:
    """One GET /health without any proxy from the environment (traffic must stay on loopback)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait_healthy(url: str, process: ManagedProcess, timeout: float = READY_TIMEOUT_S) -> None:
    """Polls /health until 200, failing early (with the output) if the process has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.exited():
            raise StackError(f"{process.name} exited before it was healthy:\n{process.tail()}")
        if _health_ok(url):
            return
        time.sleep(0.2)
    raise StackError(f"{process.name} was not healthy at {url} within {timeout:.0f} s:\n{process.tail()}")


def start_origin(stack: ExitStack) -> str:
    """The one simulated origin both runtimes proxy to (profile instant: no simulated latency)."""
    port = free_port()
    origin = ManagedProcess(
        "simulated origin",
        [sys.executable, "-m", "gateway_ops.origin", "--host", HOST, "--port", str(port), "--profile", "instant"],
    )
    stack.callback(origin.stop)
    origin.start(ready=lambda line: line.startswith("origin ready"))
    origin.wait_ready(READY_TIMEOUT_S)
    return f"http://{HOST}:{port}"


def start_programmatic(stack: ExitStack, state_dir: Path, origin_url: str, limit: int) -> str:
    """The Worker exactly as `local_stack` runs it, pointed at the shared origin."""
    gateway = stack.enter_context(
        local_stack(
            port=free_port(),
            upstream_url=origin_url,
            state_dir=state_dir,
            worker_settings={"RATE_LIMIT_PER_MINUTE": str(limit)},
            ready_timeout=READY_TIMEOUT_S,
        )
    )
    return gateway.url


def start_wrangler_dev(stack: ExitStack, state_dir: Path, origin_url: str, limit: int) -> str:
    """Plain `wrangler dev`, as the reference figures were taken (its inspector stays on)."""
    apply_local_migrations(state_dir)
    port, inspector_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in WORKER_SETTING_NAMES and k != "OPENCLAW_URL"}
    worker = ManagedProcess(
        "wrangler dev",
        [
            str(WORKER_DIR / "node_modules" / ".bin" / "wrangler"), "dev",
            "--ip", HOST, "--port", str(port),
            # An explicit free port, so a debugger on 9229 cannot make it fail; still inspector on.
            "--inspector-port", str(inspector_port),
            "--persist-to", str(state_dir),
            "--var", f"OPENCLAW_URL:{origin_url}",
            "--var", f"RATE_LIMIT_PER_MINUTE:{limit}",
        ],
        cwd=WORKER_DIR,
        env={**env, **WRANGLER_ENV},
    )
    stack.callback(worker.stop)
    worker.start(ready=lambda line: "Ready on" in line)
    url = f"http://{HOST}:{port}"
    _wait_healthy(url, worker)
    return url


Starter = Callable[[ExitStack, Path, str, int], str]
STARTERS: dict[str, Starter] = {"programmatic": start_programmatic, "wrangler-dev": start_wrangler_dev}


def start_runtimes(stack: ExitStack, names: Sequence[str], root: Path, origin_url: str, limit: int) -> dict[str, str]:
    """Starts each runtime one after the other (not in parallel: 2 cores) and returns its URL."""
    urls = {}
    for name in names:
        state_dir = root / name
        state_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        urls[name] = STARTERS[name](stack, state_dir, origin_url, limit)
        log(f"  {name}: ready at {urls[name]} (RATE_LIMIT_PER_MINUTE={limit}) in {time.monotonic() - started:.1f} s")
    return urls


# --- client ------------------------------------------------------------------------------------


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def engine_options(in_flight: int) -> EngineOptions:
    """The load-test engine as the bench drives it: aiohttp, no progress bar, every request sent."""
    return EngineOptions(transport="aiohttp", max_in_flight=in_flight, when_full="wait", timeout_s=REQUEST_TIMEOUT_S,
                         progress=False, description="bench")


async def closed_loop(url: str, concurrency: int, duration: float, users: str) -> StepResult:
    """N clients (the engine's closed model) send back to back until the deadline; in-flight
    requests finish and are counted. Percentiles are the engine's (HDR histogram) over the 200s."""
    run = await Engine(url, CHAT, engine_options(concurrency)).run_closed_async(
        user_ids(users, concurrency), duration)
    return step_result(run, concurrency)


def step_result(run: EngineRun, concurrency: int) -> StepResult:
    """One closed-loop step from the engine's records: requests/s counts only 200s."""
    frame = run.frame()
    answered = frame[frame["status"] > 0]
    statuses = Counter(int(status) for status in answered["status"])
    ok = statuses[200]
    latency = percentiles(answered.loc[answered["status"] == 200, "latency_ms"], (50, 99))
    seconds = run.elapsed_s
    return StepResult(
        concurrency=concurrency,
        seconds=round(seconds, 3),
        ok=ok,
        non_200=len(answered) - ok,
        errors=len(frame) - len(answered),
        rps=round(ok / seconds, 1) if seconds else 0.0,
        p50_ms=_round(_finite(latency["p50"])),
        p99_ms=_round(_finite(latency["p99"])),
        statuses={str(k): v for k, v in sorted(statuses.items())},
    )


def _finite(value: float) -> float | None:
    """NaN (no data) as None, as the JSON figures want it."""
    return None if value != value else value


def _round(value: float | None, digits: int = 2) -> float | None:
    """Rounds for the JSON figures; None (no data) stays None."""
    return None if value is None else round(value, digits)


async def wait_for_room_in_minute(margin: float) -> None:
    """Waits into the next UTC minute if fewer than `margin` s remain, so a burst stays in one window."""
    wait = wait_before_start(time.time(), margin)
    if wait:
        log(f"    waiting {wait:.1f} s for the next UTC minute")
        await asyncio.sleep(wait)


async def one_burst(url: str, size: int, in_flight: int, user: str) -> BurstResult:
    """`size` requests for `user`, all due at once (the engine's burst), at most `in_flight` outstanding."""
    run = await Engine(url, CHAT, engine_options(in_flight)).run_open_async(burst_schedule([user], size))
    frame = run.frame()
    answered = frame[frame["status"] > 0]
    statuses = Counter(int(status) for status in answered["status"])
    from_worker = answered["request_id"] != ""
    samples: dict[str, str] = {}
    for record in frame.itertuples():
        if not record.status:
            samples.setdefault(record.error or "error", record.error)
        elif record.status not in (200, 429) or not record.request_id:
            samples.setdefault(f"{record.status}{'' if record.request_id else ' (not from the Worker)'}",
                               record.body[:160])
    return BurstResult(
        size=size,
        in_flight=min(size, in_flight),
        admitted=statuses[200],
        rate_limited=statuses[429],
        other={str(k): v for k, v in sorted(statuses.items()) if k not in (200, 429)},
        errors=len(frame) - len(answered),
        missing_request_id=int((~from_worker).sum()),
        seconds=round(run.elapsed_s, 2),
        crossed_minute=int(run.wall_t0 // 60) != int((run.wall_t0 + run.elapsed_s) // 60),
        attempts=1,
        samples=samples,
    )


async def burst(url: str, runtime: str, size: int, in_flight: int) -> BurstResult:
    """A burst for a fresh user, clear of a minute boundary; repeated once (new user) if it crossed one."""
    result: BurstResult | None = None
    for attempt in (1, 2):
        await wait_for_room_in_minute(margin=3.0 + size / 100)
        user = f"burst-{runtime}-{size}-{uuid.uuid4().hex[:12]}"
        result = await one_burst(url, size, in_flight, user)
        result.attempts = attempt
        if not result.crossed_minute:
            break
        log(f"    burst of {size} crossed a UTC minute boundary; repeating once with a fresh user")
    assert result is not None
    return result


# --- the run ------------------------------------------------------------------------------------


async def throughput_phase(
    urls: dict[str, str], levels: Sequence[int], duration: float, warmup: float, results: dict[str, RuntimeResult],
) -> None:
    """Interleaves the runtimes per concurrency level (order alternating) so drift hits both alike."""
    run_id = uuid.uuid4().hex[:8]
    for step, concurrency in enumerate(levels):
        order = list(urls) if step % 2 == 0 else list(reversed(urls))
        for name in order:
            users = f"tp-{run_id}-{name}-c{concurrency}"
            if warmup > 0:
                await closed_loop(urls[name], concurrency, warmup, users)
            result = await closed_loop(urls[name], concurrency, duration, users)
            results[name].throughput.append(result)
            log(f"  {name} c={concurrency}: {result.rps} req/s, p50 {result.p50_ms} ms, non-200 {result.non_200}, "
                f"errors {result.errors}")


async def burst_phase(
    urls: dict[str, str], sizes: Sequence[int], in_flight: int, results: dict[str, RuntimeResult],
) -> None:
    """Bursts per runtime; every burst uses a user id never seen before."""
    for name, url in urls.items():
        for size in sizes:
            result = await burst(url, name, size, in_flight)
            results[name].bursts.append(result)
            log(f"  {name} burst {size}: admitted {result.admitted}, 429 {result.rate_limited}, other {result.other}, "
                f"errors {result.errors}, {result.seconds} s")


async def origin_baseline(
    origin_url: str, levels: Sequence[int], duration: float, warmup: float
) -> list[StepResult]:
    """The same closed loop straight at the origin: what the client and origin cost without a Worker."""
    steps = []
    for concurrency in levels:
        if warmup > 0:
            await closed_loop(origin_url, concurrency, warmup, "origin")
        steps.append(await closed_loop(origin_url, concurrency, duration, "origin"))
        log(f"  origin-direct c={concurrency}: {steps[-1].rps} req/s, p50 {steps[-1].p50_ms} ms")
    return steps


async def measure(args: argparse.Namespace, root: Path, stack: ExitStack) -> Run:
    """Origin once; then every runtime at an unreachable limit, then every runtime at limit 50."""
    results = {name: RuntimeResult(name) for name in args.runtimes}
    load_before = os.getloadavg()[0]
    log("starting the simulated origin (profile instant)")
    origin_url = start_origin(stack)
    origin_direct = await origin_baseline(origin_url, args.concurrency, min(args.duration, 2.0), min(args.warmup, 0.5))
    with ExitStack() as phase:
        log(f"throughput phase: starting {', '.join(args.runtimes)}")
        urls = start_runtimes(phase, args.runtimes, root, origin_url, UNLIMITED)
        await throughput_phase(urls, args.concurrency, args.duration, args.warmup, results)
    with ExitStack() as phase:
        log(f"burst phase: restarting {', '.join(args.runtimes)} with RATE_LIMIT_PER_MINUTE={BURST_LIMIT}")
        urls = start_runtimes(phase, args.runtimes, root, origin_url, BURST_LIMIT)
        await burst_phase(urls, args.bursts, args.burst_in_flight, results)
    return Run(results, origin_direct, load_before, os.getloadavg()[0])


# --- report -------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 1) -> str:
    """A table cell; a dash where there is no figure."""
    return "—" if value is None else f"{value:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    """a / b as "1.23×"; a dash when either side is missing or zero."""
    return "—" if not a or not b else f"{a / b:.2f}×"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned text table (first column left-aligned, the others right-aligned)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def runtime_report(result: RuntimeResult, args: argparse.Namespace) -> str:
    """The throughput and burst tables of one runtime."""
    throughput = table(
        ["concurrency", "req/s", "p50 ms", "p99 ms", "200s", "non-200", "errors", "seconds"],
        [[str(s.concurrency), _fmt(s.rps), _fmt(s.p50_ms), _fmt(s.p99_ms), str(s.ok), str(s.non_200), str(s.errors),
          _fmt(s.seconds, 2)] for s in result.throughput],
    )
    bursts = table(
        ["burst", "in flight", "admitted (200)", "429", "other statuses", "errors", "X-Request-ID on all", "exact",
         "seconds"],
        [[str(b.size), str(b.in_flight), str(b.admitted), str(b.rate_limited),
          ", ".join(f"{k}×{v}" for k, v in b.other.items()) or "none", str(b.errors),
          "yes" if b.all_from_worker else f"NO ({b.missing_request_id} missing)",
          "yes" if b.exact else "NO",
          _fmt(b.seconds, 2) + (" (crossed minute)" if b.crossed_minute else "")] for b in result.bursts],
    )
    samples = "".join(f"  {b.size}-burst, first {kind}: {text!r}\n" for b in result.bursts
                      for kind, text in b.samples.items())
    return (
        f"== {result.name}: {RUNTIME_LABELS[result.name]} ==\n"
        f"closed loop, {_fmt(args.duration)} s per step after {_fmt(args.warmup)} s warm-up, one X-User-ID per client, "
        f"RATE_LIMIT_PER_MINUTE={UNLIMITED}\n{throughput}\n\n"
        f"burst exactness, RATE_LIMIT_PER_MINUTE={BURST_LIMIT}, one fresh X-User-ID per burst "
        f"(exact = admitted exactly {BURST_LIMIT})\n{bursts}\n{samples}"
    )


def ratio_report(results: dict[str, RuntimeResult]) -> str:
    """programmatic / wrangler-dev, per concurrency: >1 in req/s and <1 in p50 mean programmatic is faster."""
    if not {"programmatic", "wrangler-dev"} <= results.keys():
        return ""
    prog = {s.concurrency: s for s in results["programmatic"].throughput}
    dev = {s.concurrency: s for s in results["wrangler-dev"].throughput}
    rows = [[str(c), _fmt(prog[c].rps), _fmt(dev[c].rps), _ratio(prog[c].rps, dev[c].rps),
             _fmt(prog[c].p50_ms), _fmt(dev[c].p50_ms), _ratio(prog[c].p50_ms, dev[c].p50_ms)]
            for c in prog if c in dev]
    return "== programmatic / wrangler-dev ==\n" + table(
        ["concurrency", "prog req/s", "dev req/s", "req/s ratio", "prog p50", "dev p50", "p50 ratio"], rows) + "\n"


def reference_report(results: dict[str, RuntimeResult]) -> str:
    """Measured figures against the reference (plain wrangler dev, original naive Worker, KV counter)."""
    rows = []
    for name, result in results.items():
        for step in result.throughput:
            reference = REFERENCE_RPS.get(step.concurrency)
            rows.append([name, str(step.concurrency), _fmt(step.rps), _fmt(reference, 0), _ratio(step.rps, reference),
                         _fmt(step.p50_ms) if step.concurrency == 1 else "",
                         _fmt(REFERENCE_P50_MS_C1) if step.concurrency == 1 else "",
                         _ratio(step.p50_ms, REFERENCE_P50_MS_C1) if step.concurrency == 1 else ""])
    throughput = table(["runtime", "concurrency", "req/s", "ref req/s", "ratio", "p50 ms", "ref p50", "p50 ratio"], rows)
    burst_rows = [[name, str(b.size), str(b.admitted), str(BURST_LIMIT), str(REFERENCE_KV_ADMITTED.get(b.size, "—"))]
                  for name, result in results.items() for b in result.bursts]
    bursts = table(["runtime", "burst", "admitted now", "exact limiter admits", "old KV counter admitted"], burst_rows)
    return (
        "== against the reference (plain wrangler dev, original naive Worker; ratio = now / reference) ==\n"
        f"{throughput}\n\n{bursts}\n"
    )


def origin_report(steps: Sequence[StepResult]) -> str:
    """The floor: the same client and origin with no Worker in between."""
    return "== origin-direct: the same closed loop straight at the simulated origin (no Worker) ==\n" + table(
        ["concurrency", "req/s", "p50 ms", "p99 ms", "200s", "non-200", "errors", "seconds"],
        [[str(s.concurrency), _fmt(s.rps), _fmt(s.p50_ms), _fmt(s.p99_ms), str(s.ok), str(s.non_200), str(s.errors),
          _fmt(s.seconds, 2)] for s in steps],
    ) + "\n"


def report(run: Run, args: argparse.Namespace) -> str:
    """The whole printed report: setup, the floor, each runtime, the ratios, the reference."""
    header = (
        f"worker_bench — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}\n"
        f"workload: {WORKLOAD}\n"
        "origin: simulated, profile instant\n"
        f"1-min load average: {run.load_before:.2f} before, {run.load_after:.2f} after "
        f"(anything else running on the {os.cpu_count()} cores skews every figure)\n"
    )
    parts = [header, origin_report(run.origin_direct), *(runtime_report(r, args) for r in run.runtimes.values()),
             ratio_report(run.runtimes), reference_report(run.runtimes)]
    return "\n".join(p for p in parts if p)


def figures(run: Run, args: argparse.Namespace) -> dict:
    """Everything the report shows, as JSON-ready data."""
    results = run.runtimes
    ratios = {}
    if {"programmatic", "wrangler-dev"} <= results.keys():
        dev = {s.concurrency: s for s in results["wrangler-dev"].throughput}
        for step in results["programmatic"].throughput:
            other = dev.get(step.concurrency)
            if other:
                ratios[str(step.concurrency)] = {
                    "rps": round(step.rps / other.rps, 3) if other.rps else None,
                    "p50": round(step.p50_ms / other.p50_ms, 3) if step.p50_ms and other.p50_ms else None,
                }
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "workload": WORKLOAD,
        "origin": "simulated, profile instant",
        "load_average_1min": {"before": run.load_before, "after": run.load_after},
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "throughput_limit": UNLIMITED,
        "burst_limit": BURST_LIMIT,
        "origin_direct": [asdict(s) for s in run.origin_direct],
        "runtimes": {
            name: {
                "throughput": [asdict(s) for s in r.throughput],
                "bursts": [{**asdict(b), "all_from_worker": b.all_from_worker, "exact": b.exact} for b in r.bursts],
            }
            for name, r in results.items()
        },
        "programmatic_over_wrangler_dev": ratios,
        "reference": {"rps": REFERENCE_RPS, "p50_ms_c1": REFERENCE_P50_MS_C1, "kv_admitted": REFERENCE_KV_ADMITTED},
    }


# --- CLI ----------------------------------------------------------------------------------------


def _int_list(text: str) -> list[int]:
    """argparse type for "1,10,50"."""
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("expected a comma-separated list of positive integers")
    return values


def _runtime_list(text: str) -> list[str]:
    """argparse type for "programmatic,wrangler-dev": known names, each once, in the order given."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in RUNTIMES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(RUNTIMES)}")
    return list(dict.fromkeys(names))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The CLI; the bounds keep every loop short and every burst modest."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runtimes", type=_runtime_list, default=list(RUNTIMES),
                        help="comma-separated: programmatic,wrangler-dev (default both)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per closed-loop step (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unrecorded seconds before each step (default 1)")
    parser.add_argument("--concurrency", type=_int_list, default=[1, 10, 50], help="default 1,10,50")
    parser.add_argument("--bursts", type=_int_list, default=[50, 200, 1000], help="default 50,200,1000")
    parser.add_argument("--burst-in-flight", type=int, default=200, help="most requests outstanding in a burst")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 120 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be in (0, 120] and --warmup in [0, 60]")
    if max(args.concurrency) > 1000 or max(args.bursts) > 10_000 or not 1 <= args.burst_in_flight <= 1000:
        parser.error("keep concurrency ≤ 1000, bursts ≤ 10000 and --burst-in-flight in [1, 1000]")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Measures, then prints the report (and writes --json); exit 1 if a runtime would not start."""
    args = parse_args(argv)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="worker-bench-") as tmp, ExitStack() as stack:
            run = asyncio.run(cancel_on_signals(measure(args, Path(tmp), stack)))
    except StackError as error:
        print(f"worker_bench: {error}", file=sys.stderr)
        return 1
    except Interrupted as signalled:
        print(f"worker_bench: {signalled}; every process started was stopped", file=sys.stderr)
        return 128 + signalled.signum
    print(report(run, args))
    if args.json:
        args.json.write_text(json.dumps(figures(run, args), indent=2) + "\n")
        print(f"figures written to {args.json}")
    log(f"total {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
