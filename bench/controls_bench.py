"""Measures what the event controls (issue 14) cost a request, side by side in one run.

Workers, each the programmatic dev-server (``worker/scripts/dev-server.mjs``, as the local stack
runs it) with its own state folder, behind one simulated origin (profile ``instant``):

* **base** — by default (``--base removed``) this checkout's Worker with the controls read taken
  out: ``currentControls`` returns the empty snapshot without any I/O (a copy of ``worker/`` is
  patched in a temporary folder; the bench stops if the patch no longer applies). Everything
  else is identical, so the ratio is the controls' cost alone. ``--base REF`` uses the Worker of a
  git ref instead (e.g. :data:`BEFORE_CONTROLS`, the Worker before issue 14 — that range also
  holds other issues' changes), exported with ``git archive``; both borrow this checkout's
  ``node_modules``;
* **controls-off** — this checkout, with no control in use (the issue's cost promise: p50 rises by
  at most 10 %): each isolate reads the controls' D1 copy (``control_state``) at most once a second;
* **controls-on** — this checkout with a ``max_tokens`` cap and a model allow-list set through the
  admin API (both act on every request; neither adds a Durable Object call);
* **controls-object** (``--with-object-path``) — this checkout on a D1 without ``control_state``
  (an older deployment): each isolate reads the controls object instead, as the first version of
  the controls did, for comparison.

Closed loops of ``POST /v1/chat/completions`` at each concurrency, the Workers taking turns and
the order alternating per round, so drift in machine load falls on all of them; the report gives
p50/p99 per Worker, the ratio of medians to base and the median of per-round ratios to base. The client is the load-test engine, as in
``worker_bench.py``, whose process handling this reuses. All traffic stays on 127.0.0.1.

    .venv/bin/python bench/controls_bench.py [--duration 5] [--rounds 3] [--concurrency 1,10]
                                             [--base REF] [--with-object-path]
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from worker_bench import MODEL, UNLIMITED, cancel_on_signals, closed_loop, log, start_origin, _wait_healthy  # noqa: E402

from gateway_ops.accesslog import find_local_database  # noqa: E402
from gateway_ops.paths import WORKER_DIR  # noqa: E402
from gateway_ops.processes import ManagedProcess  # noqa: E402
from gateway_ops.stack import HOST, WRANGLER_ENV, WORKER_SETTING_NAMES, apply_local_migrations, free_port  # noqa: E402

ROOT = WORKER_DIR.parent
#: The last main commit before issue 14's Worker was merged (its merge, f87f443, has this first parent).
BEFORE_CONTROLS = "ba90718"


def export_base(ref: str, into: Path) -> Path:
    """The Worker of `ref` in `into/worker`, using this checkout's installed node_modules."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "worker"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "worker" / "node_modules").symlink_to(WORKER_DIR / "node_modules")
    return into / "worker"


#: What the "removed" base patches into ``src/controls/cache.ts``: the controls read becomes a constant.
CONTROLS_READ = "export async function currentControls(env: Env, now = Date.now()): Promise<ControlsSnapshot> {\n"


def controls_removed(into: Path) -> Path:
    """This checkout's Worker in `into/worker`, its controls read replaced by the empty snapshot."""
    target = into / "worker"
    target.mkdir(parents=True)
    for name in ("src", "scripts", "wrangler.toml", "package.json", "tsconfig.json"):
        source = WORKER_DIR / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        elif source.exists():
            shutil.copy2(source, target / name)
    cache = target / "src" / "controls" / "cache.ts"
    text = cache.read_text()
    if text.count(CONTROLS_READ) != 1:
        raise SystemExit(f"cannot take the controls read out: {cache.relative_to(into)} no longer has {CONTROLS_READ.strip()!r}")
    cache.write_text(text.replace(CONTROLS_READ, CONTROLS_READ + "  if (env) return EMPTY_SNAPSHOT; // bench: controls removed\n"))
    (target / "node_modules").symlink_to(WORKER_DIR / "node_modules")
    return target


def start_worker(stack: ExitStack, name: str, worker_dir: Path, state: Path, origin: str, admin_token: str,
                 without_control_state: bool = False) -> str:
    """One dev-server from `worker_dir`, its D1 migrated, limit high enough never to answer
    (`without_control_state`: as a deployment before migration 0006)."""
    state.mkdir(parents=True)
    apply_local_migrations(state)
    if without_control_state:
        with sqlite3.connect(find_local_database(state)) as db:
            db.execute("DROP TABLE control_state")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in WORKER_SETTING_NAMES and k not in ("OPENCLAW_URL", "ADMIN_TOKEN")}
    env.update(WRANGLER_ENV, OPENCLAW_URL=origin, RATE_LIMIT_PER_MINUTE=str(UNLIMITED), ADMIN_TOKEN=admin_token)
    process = ManagedProcess(name, ["node", str(worker_dir / "scripts" / "dev-server.mjs"), "--port", str(port), "--persist", str(state)],
                             cwd=worker_dir, env=env)
    stack.callback(process.stop)
    process.start(ready=lambda line: line.startswith("ready "))
    url = f"http://{HOST}:{port}"
    _wait_healthy(url, process)
    return url


def patch_controls(url: str, token: str, controls: dict) -> dict:
    """PATCH /admin/controls (loopback only, no proxy)."""
    request = urllib.request.Request(f"{url}/admin/controls", data=json.dumps(controls).encode(), method="PATCH",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return json.load(response)


async def measure(urls: dict[str, str], levels: list[int], rounds: int, duration: float) -> dict[str, dict[int, list[dict]]]:
    """Every Worker at every level, `rounds` times, order alternating per round."""
    results: dict[str, dict[int, list[dict]]] = {name: {c: [] for c in levels} for name in urls}
    run_id = uuid.uuid4().hex[:8]
    for round_ in range(rounds):
        for concurrency in levels:
            order = list(urls) if round_ % 2 == 0 else list(reversed(urls))
            for name in order:
                users = f"cb-{run_id}-{name}-c{concurrency}-r{round_}"
                await closed_loop(urls[name], concurrency, 1.0, users)  # warm-up
                step = await closed_loop(urls[name], concurrency, duration, users)
                results[name][concurrency].append({"p50_ms": step.p50_ms, "p99_ms": step.p99_ms, "rps": step.rps, "non_200": step.non_200})
                log(f"  round {round_ + 1} {name} c={concurrency}: p50 {step.p50_ms} ms, p99 {step.p99_ms} ms, {step.rps} req/s, non-200 {step.non_200}")
    return results


def report(results: dict[str, dict[int, list[dict]]], levels: list[int], load: tuple[float, float]) -> str:
    """Median over the rounds of each figure, and p50 ratios to base."""
    lines = [f"load average (1 min) before/after: {load[0]:.2f} / {load[1]:.2f} ({os.cpu_count()} cores, shared)", ""]
    lines.append("| Worker | concurrency | p50 ms (median of rounds) | p99 ms | req/s | non-200 | p50 / base | paired p50 / base |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for concurrency in levels:
        base_runs = results["base"][concurrency]
        base = statistics.median(r["p50_ms"] for r in base_runs)
        for name, per_level in results.items():
            runs = per_level[concurrency]
            p50 = statistics.median(r["p50_ms"] for r in runs)
            p99 = statistics.median(r["p99_ms"] for r in runs)
            rps = statistics.median(r["rps"] for r in runs)
            # The same round's base next to it: drift in the machine's load falls on both.
            paired = statistics.median(r["p50_ms"] / b["p50_ms"] for r, b in zip(runs, base_runs, strict=True))
            lines.append(f"| {name} | {concurrency} | {p50:.2f} | {p99:.2f} | {rps:.0f} | {sum(r['non_200'] for r in runs)} "
                         f"| {p50 / base:.3f} | {paired:.3f} |")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    levels = [int(c) for c in args.concurrency.split(",")]
    token = secrets.token_urlsafe(24)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="controls-bench-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        base_dir = controls_removed(root / "base") if args.base == "removed" else export_base(args.base, root / "base")
        origin = start_origin(stack)
        urls = {
            "base": start_worker(stack, "base Worker", base_dir, root / "state-base", origin, token),
            "controls-off": start_worker(stack, "controls-off Worker", WORKER_DIR, root / "state-off", origin, token),
            "controls-on": start_worker(stack, "controls-on Worker", WORKER_DIR, root / "state-on", origin, token),
        }
        if args.with_object_path:
            urls["controls-object"] = start_worker(stack, "controls-object Worker", WORKER_DIR, root / "state-object",
                                                   origin, token, without_control_state=True)
        patch_controls(urls["controls-on"], token, {"max_tokens": 64, "models": [MODEL, "other-model"]})
        log(f"ready: {urls}")
        results = await measure(urls, levels, args.rounds, args.duration)
    print(report(results, levels, (load_before, os.getloadavg()[0])))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per closed-loop step")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", default="1,10")
    parser.add_argument("--base", default="removed",
                        help="'removed' (this Worker without the controls read) or a git ref of the Worker to compare with")
    parser.add_argument("--with-object-path", action="store_true",
                        help="also measure the Worker reading the controls object (no control_state table)")
    parser.add_argument("--json", help="also write the figures here")
    return asyncio.run(cancel_on_signals(main_async(parser.parse_args())))


if __name__ == "__main__":
    sys.exit(main())
