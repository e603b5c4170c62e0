/**
 * Test helpers for the origin gate and pool: an origin the test holds and lets go, unique pools
 * (so each test has its own gate object and isolate memory), and the admin status.
 */
import { expect } from "vitest";
import { call, gateway, jsonResponse, mockOrigin, userHeaders, type Vars } from "./helpers";

export const ADMIN = "admin-test-token";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh origin base URL: its own gate object and per-isolate pool memory. */
export function uniqueOrigin(name = "o"): string {
  return `http://${name}-${crypto.randomUUID().slice(0, 8)}.test/base`;
}

/** Vars for a gated single origin (or a pool when `origins` has several). */
export function gateVars(concurrency: string | undefined, extra: Vars = {}, origins = [uniqueOrigin()]): Vars {
  const vars: Vars = { OPENCLAW_URL: origins.join(","), ADMIN_TOKEN: ADMIN, ...extra };
  if (concurrency !== undefined) vars.ORIGIN_MAX_CONCURRENCY = concurrency;
  return vars;
}

/** Polls until `check()` is true (or fails the test after `timeoutMs`). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 4_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await sleep(10);
  }
}

/**
 * An origin the test controls: it counts requests in flight (and the peak), notes who arrived in
 * which order at which host, and holds every request until let go, unless opened. Like a real
 * fetch, a held request fails when the gateway aborts it.
 */
export function controlledOrigin() {
  const state = { active: 0, peak: 0, arrivals: [] as string[], hosts: [] as string[], open: false };
  const held: Array<() => void> = [];
  const spy = mockOrigin(async (request) => {
    state.active++;
    state.peak = Math.max(state.peak, state.active);
    state.arrivals.push(request.headers.get("X-Forwarded-User") ?? "?");
    state.hosts.push(new URL(request.url).host.split("-")[0]);
    try {
      if (!state.open) {
        await new Promise<void>((resolve, reject) => {
          held.push(resolve);
          request.signal.addEventListener("abort", () => reject(new Error("The operation was aborted")));
        });
      }
    } finally {
      state.active--;
    }
    return jsonResponse({ ok: true, usage: { total_tokens: 1 } });
  });
  return {
    state,
    spy,
    /** Answers the oldest held request. */
    letGo: () => held.shift()?.(),
    /** Answers every held request and every later one at once. */
    openUp: () => {
      state.open = true;
      while (held.length) held.shift()?.();
    },
  };
}

/** One chat request from `user`; resolves with the response once its log row is written. */
export function ask(user: string, vars: Vars, init: RequestInit = {}) {
  return call("/v1/chat/completions", { method: "POST", headers: userHeaders(user), body: JSON.stringify({ model: "m" }), ...init }, vars);
}

export { gateway };

export interface OriginStatusJson {
  origin: string;
  host: string;
  max_concurrency: number | null;
  in_flight: number;
  waiting: number;
  healthy: boolean;
  state: string;
  served_last_minute: number;
}

/** GET /admin/status with the test's admin token. */
export async function gateStatus(vars: Vars): Promise<{ gate: Record<string, unknown>; origins: OriginStatusJson[] }> {
  const { response, text } = await call("/admin/status", { headers: { Authorization: `Bearer ${ADMIN}` } }, vars);
  expect(response.status).toBe(200);
  return JSON.parse(text);
}

export { jsonResponse };
