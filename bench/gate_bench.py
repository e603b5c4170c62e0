"""Benchmarks the origin gate (issue 13): gate on vs gate off, one origin vs two, side by side in one run.

The origin is the simulated one with a known capacity: ``--slots`` generation slots × a fixed
answer time (time to first token ``--ttft-ms`` + ``--tokens`` × ``--per-token-ms``, no jitter), so
its capacity is ``slots / answer time`` requests/s. Its queue is deep (1,024), so without a gate it
accepts everything and shows what it held (``peak_held``: generating + queued, which the origin
records itself).

Scenarios, each on its own local stack (``gateway_ops.stack``, real Worker in the local runtime):

1. **light load** (¼ of capacity, ``--light-s``), gate off then on: the gate's cost on p50;
2. **overload**: 40 users offer 3× the capacity for ``--duration`` s, one of them sending 10× each
   other user, streamed answers; gate off vs ``ORIGIN_MAX_CONCURRENCY = slots``. Reports the
   origin's peak held, goodput (answers complete with time to first token < 10 s, per second of
   the run) vs capacity, p95 TTFT of served answers vs unloaded TTFT + the queue timeout, whether
   every refusal was a 503 with ``Retry-After`` within the queue timeout + 1 s, Jain's fairness
   index over the ordinary users' served answers, and the heavy user's served / an ordinary user's;
3. **pool**: the same overload against two such origins (``OPENCLAW_URL=a,b``, gate on): goodput
   two / one; then again, stopping the second origin half-way: how many requests failed, and
   whether each was one the stopped origin had already received;
4. **gate object throughput** (issue 13 item 5): closed loop of ``--gate-users`` users against an
   instant origin with ``ORIGIN_MAX_CONCURRENCY`` far above what they can fill, so every request
   costs the gate an acquire and a release but never waits: requests/s with the gate vs without.

The per-user limit is set out of the way (``RATE_LIMIT_PER_MINUTE=1000000``): the bench measures
the gate, not the limiter. The client is the load-test engine (``gateway_ops.loadtest.engine``).
Every process runs in its own process group and is stopped with it; state lives in a temporary
folder; all traffic stays on 127.0.0.1.

    .venv/bin/python bench/gate_bench.py [--duration 15] [--json results.json]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, UTC
from pathlib import Path

import httpx

from gateway_ops.loadtest.engine import EngineOptions, chat_request, run_closed, run_open
from gateway_ops.loadtest.records import records_frame
from gateway_ops.loadtest.schedule import Arrival, constant_offsets, user_ids
from gateway_ops.loadtest.stats import percentiles
from gateway_ops.stack import LocalStack, StackConfig, free_port

GOOD_TTFT_MS = 10_000
NO_LIMIT = {"RATE_LIMIT_PER_MINUTE": "1000000"}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Origin:
    """The simulated origin's capacity model."""

    slots: int
    ttft_ms: float
    per_token_ms: float
    tokens: int

    @property
    def answer_s(self) -> float:
        return (self.ttft_ms + self.per_token_ms * self.tokens) / 1000

    @property
    def capacity_rps(self) -> float:
        return self.slots / self.answer_s

    def args(self) -> list[str]:
        return ["--slots", str(self.slots), "--latency-ms", str(self.ttft_ms), "--per-token-ms",
                str(self.per_token_ms), "--output-tokens", str(self.tokens), "--max-queue", "1024",
                "--jitter", "0"]


def start_stack(state: Path, name: str, origin_args: list[str], settings: dict[str, str], pool: int = 1,
                profile: str = "mac-mini") -> LocalStack:
    config = StackConfig(port=free_port(), upstream_port=free_port(), profile=profile, origin_args=origin_args,
                         state_dir=state / name, worker_settings={**NO_LIMIT, **settings},
                         pool_ports=[free_port() for _ in range(pool - 1)])
    return LocalStack(config).start()


def origin_stats(url: str, reset: bool = False) -> dict:
    return (httpx.delete if reset else httpx.get)(f"{url}/_origin/stats", timeout=5).json()


# --- workloads ----------------------------------------------------------------------------------

def overload_arrivals(total_rps: float, duration_s: float, users: int, heavy_factor: float, prefix: str):
    """``users`` users (the first one heavy, sending ``heavy_factor`` × each other) at ``total_rps`` together:
    each user's requests evenly spaced, phases staggered so the users do not all fire at once."""
    ids = user_ids(prefix, users)
    ordinary_rps = total_rps / (users - 1 + heavy_factor)
    arrivals: list[tuple[float, str]] = []
    for position, user in enumerate(ids):
        rate = ordinary_rps * (heavy_factor if position == 0 else 1)
        phase = position / users / rate
        arrivals += [(offset, user) for offset in constant_offsets(rate, duration_s, start_s=phase) if offset < duration_s]
    arrivals.sort()
    return ids[0], ids[1:], [Arrival(i, offset, user) for i, (offset, user) in enumerate(arrivals)]


def engine_options(description: str, timeout_s: float) -> EngineOptions:
    return EngineOptions(max_in_flight=2000, timeout_s=timeout_s, progress=False, description=description)


def light_run(url: str, origin: Origin, seconds: float) -> dict:
    """¼ of capacity, streamed, from 4 users: the unloaded figures."""
    rate = origin.capacity_rps / 4
    users = user_ids(f"light-{time.monotonic_ns()}", 4)
    arrivals = [Arrival(i, t, users[i % 4]) for i, t in enumerate(constant_offsets(rate, seconds))]
    run = run_open(url, arrivals, chat_request(stream=True), engine_options("light", 30))
    frame = records_frame(run.records, run.wall_t0)
    ok = frame[frame["ok"]]
    return {"requests": len(frame), "ok": int(frame["ok"].sum()),
            "p50_latency_ms": percentiles(ok["latency_ms"])["p50"], "p50_ttft_ms": percentiles(ok["ttft_ms"])["p50"],
            "p95_ttft_ms": percentiles(ok["ttft_ms"])["p95"]}


def jain(values) -> float:
    values = [float(v) for v in values]
    total = sum(values)
    return total * total / (len(values) * sum(v * v for v in values)) if total else float("nan")


def overload_run(stack: LocalStack, origin: Origin, args, label: str, queue_timeout_ms: float,
                 stop_at_s: float | None = None) -> dict:
    """The overload workload against ``stack``; with ``stop_at_s`` its last pool origin is stopped then."""
    offered = args.load_factor * origin.capacity_rps
    heavy, ordinary, arrivals = overload_arrivals(offered, args.duration, args.users, args.heavy_factor,
                                                  f"{label}-{time.monotonic_ns()}")
    for url in stack.origin_urls:
        origin_stats(url, reset=True)
        httpx.delete(f"{url}/_origin/requests", timeout=5)
    stopped: dict = {}
    timer = None
    if stop_at_s is not None:
        victim = stack.pool[-1]
        victim_url = stack.origin_urls[-1]

        def stop_one() -> None:
            received = httpx.get(f"{victim_url}/_origin/requests", timeout=5).json()
            stopped["received"] = {value for item in received for name, value in item["headers"].items()
                                   if name.lower() == "x-request-id"}
            stopped["stats"] = origin_stats(victim_url)
            victim.stop(grace=2)
            stopped["at"] = time.monotonic()

        timer = threading.Timer(stop_at_s, stop_one)
        timer.start()
    run = run_open(stack.url, arrivals, chat_request(stream=True), engine_options(label, args.client_timeout))
    if timer is not None:
        timer.join()
    frame = records_frame(run.records, run.wall_t0)
    held = [origin_stats(url)["peak_held"] for url in stack.origin_urls[:len(stack.origin_urls) - bool(stopped)]]
    if stopped:
        held.append(stopped["stats"]["peak_held"])
    served = frame[frame["ok"] & frame["ttft_ms"].notna()]
    good = served[served["ttft_ms"] < GOOD_TTFT_MS]
    span = (good["end_s"].max() - frame["start_s"].min()) if not good.empty else math.nan
    refused = frame[~frame["ok"]]
    busy = refused[refused["status"] == 503]
    within = (busy["end_s"] - busy["start_s"]) * 1000 <= queue_timeout_ms + 1000
    counts = served.groupby("user_id").size()
    ordinary_counts = [int(counts.get(user, 0)) for user in ordinary]
    mean_ordinary = sum(ordinary_counts) / len(ordinary_counts)
    result = {
        "label": label, "offered_rps": round(offered, 2), "capacity_rps": round(origin.capacity_rps * len(stack.origin_urls), 2),
        "requests": len(frame), "served": len(served), "good": len(good),
        "goodput_rps": round(len(good) / span, 2) if span == span and span > 0 else 0.0,
        "origin_peak_held": held, "p95_ttft_ms": percentiles(served["ttft_ms"])["p95"],
        "refused": len(refused), "refused_503": len(busy),
        "refusals_all_503_with_retry_after": bool(len(refused) == len(busy) and (busy["retry_after"] != "").all()),
        "refusals_within_timeout_plus_1s": bool(within.all()),
        "refusal_max_s": round(float(((busy["end_s"] - busy["start_s"]).max()) if len(busy) else 0.0), 2),
        "other_failures": int((~frame["ok"] & (frame["status"] != 503)).sum()),
        "jain_ordinary": round(jain(ordinary_counts), 3),
        "heavy_served": int(counts.get(heavy, 0)), "ordinary_served_mean": round(mean_ordinary, 2),
        "heavy_over_ordinary": round(int(counts.get(heavy, 0)) / mean_ordinary, 2) if mean_ordinary else math.inf,
    }
    if stopped:
        failed = frame[~frame["ok"] & (frame["status"] != 503)]
        reached = stopped["received"]
        result["stopped_origin_after_s"] = stop_at_s
        result["failed_after_stop"] = len(failed)
        result["failed_not_reaching_stopped_origin"] = int((~failed["request_id"].isin(reached)
                                                            | (failed["request_id"] == "")).sum())
    return result


def gate_throughput(url: str, users: int, seconds: float) -> dict:
    ids = user_ids(f"thr-{time.monotonic_ns()}", users)
    run = run_closed(url, ids, chat_request(max_tokens=1), seconds, options=engine_options("throughput", 30))
    frame = records_frame(run.records, run.wall_t0)
    return {"rps": round(int(frame["ok"].sum()) / run.elapsed_s, 1), "non_200": int((~frame["ok"]).sum()),
            "p50_ms": percentiles(frame[frame["ok"]]["service_ms"])["p50"]}


# --- the run --------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--ttft-ms", type=float, default=400)
    parser.add_argument("--per-token-ms", type=float, default=10)
    parser.add_argument("--tokens", type=int, default=10)
    parser.add_argument("--duration", type=float, default=15, help="seconds of overload per run")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--heavy-factor", type=float, default=10)
    parser.add_argument("--load-factor", type=float, default=3, help="offered load / the origin's capacity")
    parser.add_argument("--queue-timeout-ms", type=int, default=5000)
    parser.add_argument("--client-timeout", type=float, default=30, help="the client gives up after this (s)")
    parser.add_argument("--light-s", type=float, default=8)
    parser.add_argument("--gate-users", type=int, default=32)
    parser.add_argument("--gate-s", type=float, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    origin = Origin(args.slots, args.ttft_ms, args.per_token_ms, args.tokens)
    gate = {"ORIGIN_MAX_CONCURRENCY": str(args.slots), "ORIGIN_QUEUE_TIMEOUT_MS": str(args.queue_timeout_ms)}
    load = os.getloadavg()
    started = time.monotonic()
    results: dict = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                     "load_average_at_start": [round(x, 2) for x in load], "cores": os.cpu_count(),
                     "origin": {**origin.__dict__, "capacity_rps": round(origin.capacity_rps, 2)},
                     "settings": {**gate, **NO_LIMIT}, "args": {k: str(v) for k, v in vars(args).items()}}
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as state_text:
        state = Path(state_text)
        for name, settings in (("gate_off", {}), ("gate_on", gate)):
            say(f"[{name}] starting the stack")
            stack = start_stack(state, name, origin.args(), settings)
            try:
                say(f"[{name}] light load")
                results[f"light_{name}"] = light_run(stack.url, origin, args.light_s)
                say(f"[{name}] overload: {args.load_factor:g}× capacity for {args.duration:g} s")
                results[f"overload_{name}"] = overload_run(stack, origin, args, name, args.queue_timeout_ms)
            finally:
                stack.stop()
        say("[pool] two origins, gate on")
        stack = start_stack(state, "pool", origin.args(), gate, pool=2)
        try:
            results["pool"] = overload_run(stack, origin, args, "pool", args.queue_timeout_ms)
            say("[pool] stopping the second origin half-way")
            results["pool_stop"] = overload_run(stack, origin, args, "pool-stop", args.queue_timeout_ms,
                                                stop_at_s=args.duration / 2)
        finally:
            stack.stop()
        instant = ["--latency-ms", "0", "--per-token-ms", "0", "--output-tokens", "1", "--jitter", "0"]
        for name, settings in (("gate_off", {}), ("gate_on", {"ORIGIN_MAX_CONCURRENCY": "100000"})):
            say(f"[throughput {name}] {args.gate_users} users, closed loop, instant origin")
            stack = start_stack(state, f"thr-{name}", instant, settings, profile="instant")
            try:
                gate_throughput(stack.url, args.gate_users, 1)  # warm-up
                results[f"throughput_{name}"] = gate_throughput(stack.url, args.gate_users, args.gate_s)
            finally:
                stack.stop()
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    print(report(results, args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


def report(r: dict, args) -> str:
    off, on, pool, stop = r["overload_gate_off"], r["overload_gate_on"], r["pool"], r["pool_stop"]
    cap = r["origin"]["capacity_rps"]
    unloaded = r["light_gate_on"]["p50_ttft_ms"]
    bound = unloaded + args.queue_timeout_ms
    lines = [
        f"gate bench, {r['measured_at']}, {r['cores']} cores, load average {r['load_average_at_start']} at start, "
        f"{r['load_average_at_end']} at end, {r['elapsed_s']} s",
        f"origin: {args.slots} slots × {r['origin']['ttft_ms']:g} ms TTFT + {args.tokens} × {args.per_token_ms:g} ms "
        f"= capacity {cap:g} req/s; offered {off['offered_rps']} req/s ({args.load_factor:g}×) by {args.users} users "
        f"(one ×{args.heavy_factor:g}) for {args.duration:g} s; queue timeout {args.queue_timeout_ms} ms",
        "",
        f"{'':44} {'gate off':>12} {'gate on':>12}",
        f"{'origin peak held (generating + queued)':44} {str(off['origin_peak_held']):>12} {str(on['origin_peak_held']):>12}"
        f"   (ORIGIN_MAX_CONCURRENCY={args.slots})",
        f"{'goodput (TTFT < 10 s), req/s':44} {off['goodput_rps']:>12} {on['goodput_rps']:>12}"
        f"   / capacity: {off['goodput_rps'] / cap:.2f}× vs {on['goodput_rps'] / cap:.2f}× (target ≥ 0.9)",
        f"{'p95 TTFT of served answers, ms':44} {off['p95_ttft_ms']:>12.0f} {on['p95_ttft_ms']:>12.0f}"
        f"   bound: unloaded {unloaded:.0f} + {args.queue_timeout_ms} = {bound:.0f}",
        f"{'served / refused (503) / other failures':44} {off['served']}/{off['refused_503']}/{off['other_failures']:>4}"
        f" {on['served']:>5}/{on['refused_503']}/{on['other_failures']}",
        f"{'refusals all 503 + Retry-After, ≤ timeout+1s':44} {'-':>12} "
        f"{str(on['refusals_all_503_with_retry_after'] and on['refusals_within_timeout_plus_1s']):>12}"
        f"   (slowest refusal {on['refusal_max_s']} s)",
        f"{'Jain index, ordinary users':44} {off['jain_ordinary']:>12} {on['jain_ordinary']:>12}   (target ≥ 0.95)",
        f"{'heavy / ordinary served':44} {off['heavy_over_ordinary']:>12} {on['heavy_over_ordinary']:>12}   (target ≤ 2)",
        "",
        f"pool of two, gate on: goodput {pool['goodput_rps']} req/s vs one {on['goodput_rps']}: "
        f"{pool['goodput_rps'] / on['goodput_rps']:.2f}× (target ≥ 1.8); peak held per origin {pool['origin_peak_held']}",
        f"pool, second origin stopped at {stop['stopped_origin_after_s']:g} s: {stop['failed_after_stop']} failed, "
        f"{stop['failed_not_reaching_stopped_origin']} of them had not reached it (target 0); "
        f"served {stop['served']}, refused {stop['refused_503']}",
        "",
        f"light load (¼ capacity) p50 latency: gate off {r['light_gate_off']['p50_latency_ms']:.0f} ms, on "
        f"{r['light_gate_on']['p50_latency_ms']:.0f} ms: "
        f"{r['light_gate_on']['p50_latency_ms'] / r['light_gate_off']['p50_latency_ms']:.3f}× (target ≤ 1.2)",
        f"gate object throughput ({args.gate_users} users, closed loop, instant origin): gate on "
        f"{r['throughput_gate_on']['rps']} req/s (p50 {r['throughput_gate_on']['p50_ms']:.1f} ms), off "
        f"{r['throughput_gate_off']['rps']} req/s (p50 {r['throughput_gate_off']['p50_ms']:.1f} ms): "
        f"{r['throughput_gate_on']['rps'] / r['throughput_gate_off']['rps']:.2f}×",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
