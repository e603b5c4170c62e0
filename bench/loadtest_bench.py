"""Benchmarks the load-test engine against Locust's FastHttpUser, side by side in one run.

Both load generators hit the same simulated origin (profile ``instant``: no simulated latency),
started here on a free port and addressed directly — not through the Worker — so the origin is the
fast part and the generators are what is measured. Each generator runs as its own process, pinned
to one CPU (the origin to the other, when there are two), for the same duration with the same
number of closed-loop users sending ``POST /v1/chat/completions`` back to back:

* the engine (``gateway_ops.loadtest``, closed model) with its default transport, aiohttp, and
  with httpx for comparison;
* Locust 2.x headless with one process and a ``FastHttpUser`` (``wait_time = constant(0)``), its
  numbers parsed from ``--csv`` stats.

Reported per generator: requests/s, p50 and p99 latency as each tool reports them (Locust rounds
its percentiles to two significant digits), the CPU time the generator process used per request
(process start-up included, for both) and the origin's CPU time per request — the median of
``--repeat`` runs taken in rotating order, because the machine is shared and single runs vary by
2× — then the engine/Locust ratios of those medians. Finally the engine's scheduling lateness: an open-model
run at a stated rate (500 requests/s by default), reporting send lag p50/p99/max.

Every process started here runs in its own process group and is stopped on exit. Loopback only.

    .venv/bin/python bench/loadtest_bench.py [--duration 5] [--users 10,50] [--repeat 3]
                                             [--lag-rate 500] [--json results.json]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from gateway_ops.processes import ManagedProcess
from gateway_ops.stack import HOST, free_port

BODY = {"model": "bench", "messages": [{"role": "user", "content": "load load load l"}], "max_tokens": 1}
LOCUSTFILE = """
import itertools, json
from locust import FastHttpUser, constant, task

BODY = json.dumps({body!r}[0])
ids = itertools.count(1)

class Attendee(FastHttpUser):
    wait_time = constant(0)

    def on_start(self):
        self.headers = {{"Content-Type": "application/json", "X-User-ID": f"locust-u{{next(ids):04d}}"}}

    @task
    def chat(self):
        self.client.post("/v1/chat/completions", data=BODY, headers=self.headers)
"""


def pin(cpu: int | None):
    """A preexec_fn pinning the child to one CPU (no-op on one-CPU machines or without affinity)."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def cpus() -> tuple[int | None, int | None]:
    """(origin CPU, generator CPU) when there are at least two, else (None, None)."""
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return (available[0], available[1]) if len(available) >= 2 else (None, None)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds a running process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_origin(stack: ExitStack, cpu: int | None) -> tuple[str, int]:
    port = free_port()
    argv = [sys.executable, "-m", "gateway_ops.origin", "--host", HOST, "--port", str(port), "--profile", "instant"]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]
    origin = ManagedProcess("simulated origin", argv)
    stack.callback(origin.stop)
    origin.start(ready=lambda line: line.startswith("origin ready"))
    origin.wait_ready(30)
    assert origin.pid is not None  # started
    return f"http://{HOST}:{port}", origin.pid


def run_child(argv: list[str], cpu: int | None, timeout: float, log: Path) -> float:
    """Runs a generator process to completion; returns the CPU seconds it used (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "w") as output:
        done = subprocess.run(argv, stdout=output, stderr=subprocess.STDOUT, timeout=timeout, preexec_fn=pin(cpu),
                              start_new_session=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} … failed (exit {done.returncode}); its output:\n{log.read_text()[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def engine_child(args: argparse.Namespace) -> None:
    """``--child engine``: one closed-model run, its summary as JSON on stdout's last line."""
    from gateway_ops.loadtest import EngineOptions, RequestTemplate, run_closed, summarize, user_ids

    request = RequestTemplate(json.dumps(BODY, separators=(",", ":")).encode())
    run = run_closed(args.url, user_ids(f"engine-{args.transport}", args.users), request, duration_s=args.duration,
                     options=EngineOptions(transport=args.transport, progress=False, timeout_s=30))
    report = summarize(run.frame())
    ok = sum(1 for r in run.records if r.status == 200)
    print(json.dumps({"requests": len(run.records), "ok": ok, "rps": len(run.records) / run.elapsed_s,
                      "p50_ms": report.latency_ms["p50"], "p99_ms": report.latency_ms["p99"]}))


def lag_child(args: argparse.Namespace) -> None:
    """``--child lag``: one open-model run at ``--lag-rate``; send lag percentiles as JSON."""
    from gateway_ops.loadtest import EngineOptions, RequestTemplate, constant_offsets, open_schedule, run_open, summarize, user_ids

    request = RequestTemplate(json.dumps(BODY, separators=(",", ":")).encode())
    arrivals = open_schedule(constant_offsets(args.lag_rate, args.duration), user_ids("lag", 50))
    run = run_open(args.url, arrivals, request, EngineOptions(progress=False, max_in_flight=1000, timeout_s=30))
    report = summarize(run.frame(), target_rps=args.lag_rate)
    print(json.dumps({"requests": report.requests, "rate_rps": report.rate_rps, "dropped": report.dropped,
                      "ok_ratio": report.success_ratio, "send_lag_ms": report.send_lag_ms,
                      "latency_ms": report.latency_ms}))


def last_json(log: Path) -> dict[str, Any]:
    return json.loads(log.read_text().strip().splitlines()[-1])


def locust_stats(prefix: Path) -> dict[str, Any]:
    with open(f"{prefix}_stats.csv", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    requests = int(row["Request Count"])
    return {"requests": requests, "ok": requests - int(row["Failure Count"]), "rps": float(row["Requests/s"]),
            "p50_ms": float(row["50%"]), "p99_ms": float(row["99%"])}


def measure_engine(url: str, users: int, transport: str, args, cpu, work: Path) -> dict[str, Any]:
    log = work / f"engine-{transport}-{users}.txt"
    argv = [sys.executable, __file__, "--child", "engine", "--url", url, "--users", str(users),
            "--duration", str(args.duration), "--transport", transport]
    cpu_s = run_child(argv, cpu, args.duration + 60, log)
    return {**last_json(log), "cpu_s": cpu_s}


def measure_locust(url: str, users: int, args, cpu, work: Path) -> dict[str, Any]:
    locustfile = work / "locustfile.py"
    locustfile.write_text(LOCUSTFILE.format(body=[BODY]))
    prefix = work / f"locust-{users}"
    argv = [str(Path(sys.executable).with_name("locust")), "-f", str(locustfile), "--headless", "-u", str(users),
            "-r", str(users * 10), "-t", f"{args.duration:g}s", "--host", url, "--csv", str(prefix), "--only-summary",
            "--loglevel", "WARNING", "--stop-timeout", "5"]
    cpu_s = run_child(argv, cpu, args.duration + 60, work / f"locust-{users}.txt")
    return {**locust_stats(prefix), "cpu_s": cpu_s}


def median_of(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Medians over repeated runs of rps, p50, p99, generator and origin CPU ms per request."""
    def med(key):
        return statistics.median(r[key] for r in runs)

    return {"rps": med("rps"), "p50_ms": med("p50_ms"), "p99_ms": med("p99_ms"),
            "cpu_ms_per_request": statistics.median(1000 * r["cpu_s"] / max(1, r["requests"]) for r in runs),
            "origin_cpu_ms_per_request": statistics.median(1000 * r["origin_cpu_s"] / max(1, r["requests"]) for r in runs),
            "failed": sum(r["requests"] - r["ok"] for r in runs), "runs": len(runs)}


def per_run(runs: list[dict[str, Any]]) -> str:
    return ", ".join(f"{run['rps']:.0f}" for run in runs)


def row(name: str, m: dict[str, Any]) -> str:
    return (f"  {name:<22} {m['rps']:>9.0f} {m['p50_ms']:>9.1f} {m['p99_ms']:>9.1f} {m['cpu_ms_per_request']:>12.3f}"
            f" {m['origin_cpu_ms_per_request']:>12.3f} {m['failed']:>7}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="runs per generator (medians are reported)")
    parser.add_argument("--users", default="10,50", help="closed-loop users, comma-separated")
    parser.add_argument("--transports", default="aiohttp,httpx", help="engine transports to measure")
    parser.add_argument("--lag-rate", type=float, default=500.0, help="open-model rate for the send-lag run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", choices=["engine", "lag"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--transport", default="aiohttp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "engine":
        args.users = int(args.users)
        engine_child(args)
        return 0
    if args.child == "lag":
        lag_child(args)
        return 0

    users_list = [int(u) for u in args.users.split(",")]
    transports = [t for t in args.transports.split(",") if t]
    origin_cpu, generator_cpu = cpus()
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                           "pinned": generator_cpu is not None},
                               "duration_s": args.duration, "throughput": [], "lag": None}
    print(f"loadtest bench — {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{args.duration:g} s per run, origin profile instant"
          + (f", origin on CPU {origin_cpu}, each generator on CPU {generator_cpu}" if generator_cpu is not None else ""))
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="loadtest-bench-") as tmp:
        work = Path(tmp)
        url, origin_pid = start_origin(stack, origin_cpu)
        print(f"origin: {url}\n")
        generators = [*(f"engine ({t})" for t in transports), "locust FastHttpUser"]
        for users in users_list:
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in generators}
            for repeat in range(args.repeat):
                for name in generators[repeat % len(generators):] + generators[:repeat % len(generators)]:
                    origin_before = process_cpu_s(origin_pid)
                    if name.startswith("engine"):
                        measured = measure_engine(url, users, name[8:-1], args, generator_cpu, work)
                    else:
                        measured = measure_locust(url, users, args, generator_cpu, work)
                    runs[name].append({**measured, "origin_cpu_s": process_cpu_s(origin_pid) - origin_before})
            medians = {name: median_of(found) for name, found in runs.items()}
            print(f"closed loop, {users} users (median of {args.repeat} runs each):")
            print(f"  {'generator':<22} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'CPU ms/req':>12} "
                  f"{'origin ms/req':>12} {'failed':>7}")
            for name, m in medians.items():
                print(row(name, m))
            engine, locust = medians[generators[0]], medians["locust FastHttpUser"]
            ratios = {"rps": engine["rps"] / locust["rps"], "p50": engine["p50_ms"] / locust["p50_ms"],
                      "p99": engine["p99_ms"] / locust["p99_ms"],
                      "cpu_per_request": engine["cpu_ms_per_request"] / locust["cpu_ms_per_request"]}
            print(f"  engine/locust: req/s {ratios['rps']:.2f}×, p50 {ratios['p50']:.2f}×, p99 {ratios['p99']:.2f}×, "
                  f"CPU per request {ratios['cpu_per_request']:.2f}×   "
                  f"(req/s per run — engine: {per_run(runs[generators[0]])}; locust: {per_run(runs['locust FastHttpUser'])})\n")
            results["throughput"].append({"users": users, "runs": runs, "medians": medians, "engine_over_locust": ratios})

        log = work / "lag.txt"
        run_child([sys.executable, __file__, "--child", "lag", "--url", url, "--lag-rate", str(args.lag_rate),
                   "--duration", str(args.duration)], generator_cpu, args.duration + 60, log)
        lag = results["lag"] = last_json(log)
        s = lag["send_lag_ms"]
        print(f"open model at {args.lag_rate:g} req/s for {args.duration:g} s: achieved {lag['rate_rps']:.1f} req/s, "
              f"send lag p50 {s['p50']:.2f} ms, p99 {s['p99']:.2f} ms, max {s['max']:.2f} ms; "
              f"dropped {lag['dropped']}, success {lag['ok_ratio']:.1%}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
