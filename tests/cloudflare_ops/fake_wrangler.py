"""A stand-in for `wrangler` 4.86 that prints what the real one prints, with no network.

Behaviour comes from the environment (the real tool ignores these names):
  FAKE_WRANGLER_MODE  ok (default) | auth | subdomain | silent | hang | crash
  FAKE_WRANGLER_URL   the URL the "deployed" Worker has (default a workers.dev URL)
  FAKE_WRANGLER_LOG   file to append one JSON line per call: argv, cwd, which credentials were in the env
The deploy output copies real wrangler 4.86: `deploy --dry-run` (captured here) plus the upload and
trigger lines its source prints (wrangler-dist/cli.js: "Uploaded", "Deployed … triggers",
"Current Version ID:").
"""
import json
import os
import sys
import time

BANNER = ["", " ⛅️ wrangler 4.86.0", "─" * 59]
BINDINGS = """Total Upload: 86.64 KiB / gzip: 23.01 KiB
Your Worker has access to the following bindings:
Binding                                                           Resource
env.RATE_LIMITER (RateLimiter)                                    Durable Object
env.GATEWAY_KV (0f2ac74b498b48028cb68387c421e279)                 KV Namespace
env.DB (organized-gateway-db)                                     D1 Database
env.RATE_LIMIT_PER_MINUTE ("50")                                  Environment Variable
env.ALLOW_ANONYMOUS ("false")                                     Environment Variable
env.UPSTREAM_TIMEOUT_MS ("120000")                                Environment Variable
env.MAX_BODY_BYTES ("4194304")                                    Environment Variable
""".splitlines()
VERSION = "7c1f3a52-9e0b-4d6a-8f21-3b5c9d0e4a17"


def say(line: str = "", pause: float = 0.02) -> None:
    print(line, flush=True)
    time.sleep(pause)


def record() -> None:
    log = os.environ.get("FAKE_WRANGLER_LOG")
    if log:
        token = os.environ.get("CLOUDFLARE_API_TOKEN", "")
        with open(log, "a") as handle:
            handle.write(json.dumps({
                "argv": sys.argv[1:], "cwd": os.getcwd(), "pid": os.getpid(), "token_in_env": bool(token),
                "token_in_argv": bool(token) and any(token in arg for arg in sys.argv),
                "account_id": os.environ.get("CLOUDFLARE_ACCOUNT_ID"), "ci": os.environ.get("CI"),
            }) + "\n")


def deploy(mode: str) -> int:
    url = os.environ.get("FAKE_WRANGLER_URL", "https://organized-gateway.workshop-demo.workers.dev")
    for line in BANNER:
        say(line)
    if mode == "crash":
        say("✘ [ERROR] Something unexpected happened inside the bundler", 0)
        say("  at build (/worker/node_modules/wrangler/wrangler-dist/cli.js:1:1)", 0)
        return 1
    if mode == "hang":
        time.sleep(3600)
    for line in BINDINGS:
        say(line)
    if mode == "auth":
        say("", 0)
        say("✘ [ERROR] A request to the Cloudflare API (/accounts/0123/workers/scripts/organized-gateway) failed.", 0)
        say("", 0)
        say("  Authentication error [code: 10000]", 0)
        return 1
    if mode == "subdomain":
        say("Uploaded organized-gateway (2.87 sec)")
        say("✘ [ERROR] You need to register a workers.dev subdomain before publishing to workers.dev", 0)
        return 1
    say("Uploaded organized-gateway (2.87 sec)", 0.05)
    if mode == "silent":
        say("No deploy targets for organized-gateway (0.21 sec)")
    else:
        say("Deployed organized-gateway triggers (0.94 sec)")
        say(f"  {url}")
    say(f"Current Version ID: {VERSION}", 0)
    return 0


def tail() -> int:
    for line in BANNER:
        say(line)
    say("Successfully created tail, expires at 11/28/2026, 3:10:49 PM")
    say(f"Connected to {sys.argv[2] if len(sys.argv) > 2 else 'organized-gateway'}, waiting for logs...")
    for n in range(100000):
        say(f"POST https://organized-gateway.workshop-demo.workers.dev/v1/chat/completions - Ok @ 11/28/2026, "
            f"9:10:{n % 60:02d} AM", 0.1)
    return 0


def main() -> int:
    record()
    mode = os.environ.get("FAKE_WRANGLER_MODE", "ok")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "deploy":
        return deploy(mode)
    if command == "tail":
        return tail()
    print(f"fake wrangler: unsupported command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
