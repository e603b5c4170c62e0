/**
 * The origin gate's promises in workerd, each shown holding with the gate on and failing with it
 * off (or with a deliberately broken gate), as guards.test.ts does for the limiter. Every test has
 * its own origin URL, so its own gate object.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LEASE_MS } from "../src/gate/admission";
import { gateName, OriginGate } from "../src/gate/OriginGate";
import { freshUser, gateway, rowFor, statusCounts, userHeaders, type Vars } from "./helpers";
import { ask, controlledOrigin, gateStatus, gateVars, sleep, until } from "./gateHelpers";

afterEach(() => vi.restoreAllMocks());

/** Peak requests in flight at the origin under a burst of 3 users × 4 requests. */
async function peakUnderBurst(vars: Vars): Promise<{ peak: number; statuses: Record<number, number> }> {
  const origin = controlledOrigin();
  const users = [freshUser(), freshUser(), freshUser()];
  const pending = users.flatMap((user) => Array.from({ length: 4 }, () => ask(user, vars)));
  await until(() => origin.state.arrivals.length >= 2);
  await sleep(300); // let the rest of the burst arrive wherever it goes
  origin.openUp();
  const responses = await Promise.all(pending);
  return { peak: origin.state.peak, statuses: statusCounts(responses.map((r) => r.response)) };
}

describe("never more than N in flight at the origin", () => {
  it("holds with the gate: a burst of 12 reaches the origin at most 2 at a time", async () => {
    const { peak, statuses } = await peakUnderBurst(gateVars("2"));
    expect(peak).toBe(2);
    expect(statuses).toEqual({ 200: 12 });
  });

  it("fails without the gate: the whole burst reaches the origin at once", async () => {
    const { peak } = await peakUnderBurst(gateVars(undefined));
    expect(peak).toBeGreaterThan(2);
  });
});

/** Order in which queued requests reach the origin: one heavy user's 5, then two light users' 1. */
async function arrivalOrder(vars: Vars): Promise<string[]> {
  const origin = controlledOrigin();
  const [heavy, a, b] = ["heavy", "a", "b"].map((p) => freshUser(p));
  const pending = [ask(freshUser("first"), vars)];
  await until(() => origin.state.arrivals.length === 1);
  const gated = Boolean(vars.ORIGIN_MAX_CONCURRENCY);
  for (const [i, user] of [heavy, heavy, heavy, heavy, heavy, a, b].entries()) {
    pending.push(ask(user, vars));
    // Arrive in this order: each one waiting at the gate (or at the origin) before the next.
    if (gated) await until(async () => (await gateStatus(vars)).gate.waiting === i + 1);
    else await until(() => origin.state.arrivals.length === i + 2);
  }
  for (let served = 1; served < 8; served++) {
    origin.letGo();
    await until(() => origin.state.arrivals.length >= Math.min(8, served + 1) || origin.state.arrivals.length === 8);
  }
  origin.openUp();
  await Promise.all(pending);
  return origin.state.arrivals.slice(1).map((id) => id.split("-")[0]);
}

describe("fair queueing across users", () => {
  it("holds with the gate: round-robin, the light users go right after the heavy user's first", async () => {
    expect(await arrivalOrder(gateVars("1"))).toEqual(["heavy", "a", "b", "heavy", "heavy", "heavy", "heavy"]);
  });

  it("fails without the gate: the light users reach the origin behind all of the heavy user's", async () => {
    const order = await arrivalOrder(gateVars(undefined));
    expect(order.indexOf("a")).toBeGreaterThan(2);
  });
});

describe("refusals at the gate", () => {
  it("answers 503 origin_busy with Retry-After once ORIGIN_QUEUE_TIMEOUT_MS has passed", async () => {
    const origin = controlledOrigin();
    const vars = gateVars("1", { ORIGIN_QUEUE_TIMEOUT_MS: "400" });
    const first = ask(freshUser(), vars);
    await until(() => origin.state.arrivals.length === 1);
    const started = Date.now();
    const { response, json } = await ask(freshUser(), vars);
    const elapsed = Date.now() - started;
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBe("1");
    expect(response.headers.get("Content-Type")).toMatch(/application\/json/);
    expect(json().error).toMatch(/busy/);
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(400 + 1000);
    const row = await rowFor(response);
    expect(row).toMatchObject({ status: 503, error_class: "origin_busy", origin: null });
    expect(row.gate_wait_ms).toBeGreaterThanOrEqual(390);
    expect(origin.state.arrivals).toHaveLength(1);
    origin.openUp();
    expect((await first).response.status).toBe(200);
  });

  it("without the gate there is no such refusal: the second request piles onto the origin", async () => {
    const origin = controlledOrigin();
    const vars = gateVars(undefined, { ORIGIN_QUEUE_TIMEOUT_MS: "400" });
    const pending = [ask(freshUser(), vars), ask(freshUser(), vars)];
    await sleep(600);
    expect(origin.state.arrivals).toHaveLength(2);
    origin.openUp();
    expect(statusCounts((await Promise.all(pending)).map((r) => r.response))).toEqual({ 200: 2 });
  });

  it("answers 503 at once when the queue is full (20 waiters per slot)", async () => {
    const origin = controlledOrigin();
    const vars = gateVars("1", { ORIGIN_QUEUE_TIMEOUT_MS: "8000" });
    const pending = [ask(freshUser(), vars)];
    await until(() => origin.state.arrivals.length === 1);
    for (let i = 0; i < 20; i++) pending.push(ask(freshUser(), vars));
    await until(async () => (await gateStatus(vars)).gate.waiting === 20);
    const started = Date.now();
    const { response } = await ask(freshUser(), vars);
    expect(response.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(response.headers.get("Retry-After")).toBe("8");
    expect((await rowFor(response)).error_class).toBe("origin_busy");
    origin.openUp();
    expect(statusCounts((await Promise.all(pending)).map((r) => r.response))).toEqual({ 200: 21 });
  }, 20_000);

  it("makes room in a full queue for a light user by refusing the heavy user's newest waiter", async () => {
    const origin = controlledOrigin();
    const vars = gateVars("1", { ORIGIN_QUEUE_TIMEOUT_MS: "8000" });
    const heavy = freshUser("heavy");
    const pending = [ask(freshUser(), vars)];
    await until(() => origin.state.arrivals.length === 1);
    for (let i = 0; i < 20; i++) pending.push(ask(heavy, vars));
    await until(async () => (await gateStatus(vars)).gate.waiting === 20);
    const light = ask(freshUser("light"), vars);
    const evicted = await Promise.race(pending.slice(1));
    expect(evicted.response.status).toBe(503);
    origin.openUp();
    expect((await light).response.status).toBe(200);
    await Promise.all(pending);
  }, 20_000);
});

describe("a slot is given back", () => {
  const encoder = new TextEncoder();

  it.each(["text/event-stream", "application/octet-stream"])("when a %s answer ends: a request waiting behind it goes on at once", async (contentType) => {
    let send!: (text: string) => void;
    let end!: () => void;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        send = (t) => c.enqueue(encoder.encode(t));
        end = () => c.close();
      },
    });
    const vars = gateVars("1", { ORIGIN_QUEUE_TIMEOUT_MS: "5000" });
    const calls: string[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const request = new Request(input, init);
      calls.push(request.headers.get("X-Forwarded-User") ?? "?");
      if (calls.length === 1) return new Response(body, { headers: { "Content-Type": contentType } });
      return new Response("{}", { headers: { "Content-Type": "application/json" } });
    });
    const streaming = await gateway("/v1/chat/completions", { method: "POST", headers: userHeaders(freshUser()), body: JSON.stringify({ stream: true }) }, vars);
    const second = ask(freshUser(), vars);
    await until(async () => (await gateStatus(vars)).gate.waiting === 1);
    send('data: {"choices":[{"delta":{}}]}\n\n');
    await sleep(200);
    expect(calls).toHaveLength(1); // still sending: the slot is still held
    end();
    await streaming.response.text();
    await streaming.logged();
    const { response } = await second;
    expect(response.status).toBe(200);
    expect((await rowFor(response)).gate_wait_ms).toBeGreaterThanOrEqual(200);
  });

  it("when the client abandons a stream", async () => {
    const vars = gateVars("1", { ORIGIN_QUEUE_TIMEOUT_MS: "3000" });
    let first = true;
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
      if (!first) return new Response("{}", { headers: { "Content-Type": "application/json" } });
      first = false;
      const body = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(encoder.encode("data: {}\n\n")) });
      return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
    });
    const { response, logged } = await gateway("/v1/chat/completions", { method: "POST", headers: userHeaders(freshUser()), body: "{}" }, vars);
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel("client went away");
    await logged();
    const started = Date.now();
    expect((await ask(freshUser(), vars)).response.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("when the client leaves while waiting at the gate, or while the origin works", async () => {
    const origin = controlledOrigin();
    const vars = gateVars("1", { ORIGIN_QUEUE_TIMEOUT_MS: "5000" });
    const atOrigin = new AbortController();
    const first = ask(freshUser(), vars, { signal: atOrigin.signal });
    await until(() => origin.state.arrivals.length === 1);
    const queued = new AbortController();
    const second = ask(freshUser(), vars, { signal: queued.signal });
    await until(async () => (await gateStatus(vars)).gate.waiting === 1);
    queued.abort();
    expect((await second).response.status).toBe(499); // logged as client_closed (issue 12)
    expect((await gateStatus(vars)).gate.waiting).toBe(0);
    expect(origin.state.arrivals).toHaveLength(1); // it never reached the origin
    atOrigin.abort();
    const left = await first;
    expect(await rowFor(left.response)).toMatchObject({ status: 499, error_class: "client_closed" });
    await until(async () => (await gateStatus(vars)).origins[0].in_flight === 0);
  });

  it("when the request fails", async () => {
    const vars = gateVars("1", { ORIGIN_QUEUE_TIMEOUT_MS: "3000" });
    let calls = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
      if (calls++ > 0) return new Response("{}", { headers: { "Content-Type": "application/json" } });
      await sleep(600); // the origin died while working (not a refusal)
      throw new TypeError("Network connection lost.");
    });
    expect((await ask(freshUser(), vars)).response.status).toBe(502);
    const started = Date.now();
    expect((await ask(freshUser(), vars)).response.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("is caught missing by the same check when release is broken", async () => {
    vi.spyOn(OriginGate.prototype, "release").mockImplementation(() => {});
    const vars = gateVars("1", { ORIGIN_QUEUE_TIMEOUT_MS: "500" });
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => new Response("{}", { headers: { "Content-Type": "application/json" } }));
    expect((await ask(freshUser(), vars)).response.status).toBe(200);
    expect((await ask(freshUser(), vars)).response.status).toBe(503);
  });

  it("when its holder vanished: an expired lease frees the slot", async () => {
    const origin = controlledOrigin();
    origin.openUp();
    const vars = gateVars("1", { ORIGIN_QUEUE_TIMEOUT_MS: "300" });
    const stub = env.ORIGIN_GATE.get(env.ORIGIN_GATE.idFromName(gateName([vars.OPENCLAW_URL!])));
    // An isolate took the slot and was evicted before releasing it.
    expect(await stub.acquire({ ticket: "lost", user: "ghost", limits: [1], queueTimeoutMs: 300, exclude: [] })).toMatchObject({ kind: "granted" });
    expect((await ask(freshUser(), vars)).response.status).toBe(503); // the lease still holds
    // LEASE_MS later, without a renewal:
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE leases SET expires_at = ? WHERE ticket = 'lost'", Date.now());
    });
    expect((await ask(freshUser(), vars)).response.status).toBe(200);
  });
});

describe("leases", () => {
  it("a renewal extends a lease, and re-creates one that had already expired", async () => {
    const stub = env.ORIGIN_GATE.get(env.ORIGIN_GATE.idFromName(gateName([`http://lease-${crypto.randomUUID()}.test`])));
    await stub.acquire({ ticket: "t1", user: "u", limits: [1], queueTimeoutMs: 100, exclude: [] });
    const expiry = () =>
      runInDurableObject(stub, (_instance, state) =>
        state.storage.sql.exec<{ expires_at: number }>("SELECT expires_at FROM leases WHERE ticket = 't1'").toArray()[0]?.expires_at ?? null,
      );
    await runInDurableObject(stub, (_i, state) => void state.storage.sql.exec("UPDATE leases SET expires_at = ?", Date.now() + 1000));
    const before = Date.now();
    await stub.renew("t1", 0);
    expect(await expiry()).toBeGreaterThanOrEqual(before + LEASE_MS);
    await runInDurableObject(stub, (_i, state) => void state.storage.sql.exec("UPDATE leases SET expires_at = ?", Date.now()));
    expect((await stub.status([1])).origins[0].in_flight).toBe(0); // expired: the slot is free
    await stub.renew("t1", 0); // its holder was alive after all: it counts again
    expect((await stub.status([1])).origins[0].in_flight).toBe(1);
  });
});

describe("the access log", () => {
  it("records the origin's index and the wait at the gate; no wait column without a gate", async () => {
    const origin = controlledOrigin();
    origin.openUp();
    const gated = await ask(freshUser(), gateVars("2"));
    expect(await rowFor(gated.response)).toMatchObject({ origin: "0", status: 200 });
    expect((await rowFor(gated.response)).gate_wait_ms).toBeGreaterThanOrEqual(0);
    const open = await ask(freshUser(), gateVars(undefined));
    expect(await rowFor(open.response)).toMatchObject({ origin: "0", gate_wait_ms: null });
  });

  it("costs no Durable Object call without the gate", async () => {
    controlledOrigin().openUp();
    const trap = new Proxy({}, { get: () => { throw new Error("the gate was called"); } });
    const vars = { ...gateVars(undefined), ORIGIN_GATE: trap } as unknown as Vars;
    expect((await ask(freshUser(), vars)).response.status).toBe(200);
    const gated = await ask(freshUser(), { ...vars, ORIGIN_MAX_CONCURRENCY: "1" } as Vars);
    expect(gated.response.status).toBe(502); // the trap does catch a call
  });
});
