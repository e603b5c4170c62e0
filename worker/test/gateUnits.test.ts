/**
 * The origin gate's pure parts, clock passed in: the fair queue, origin health, origin choice,
 * the per-minute counter, refusal classification and the pool settings.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { readConfig } from "../src/config";
import { chooseOrigin, MinuteCounter, queueCapacity, retryAfterDown, retryAfterSeconds } from "../src/gate/admission";
import { FairQueue } from "../src/gate/fairQueue";
import { afterOutcome, COOL_DOWN_MS, FAILURES_TO_COOL, HEALTHY, healthState, probeStarted, type OriginHealth } from "../src/gate/health";
import { isRefusal, REFUSED_WITHIN_MS } from "../src/upstream/fetchUpstream";

describe("FairQueue", () => {
  it("serves users round-robin: a user with many waiters gets one turn per round", () => {
    const queue = new FairQueue<string>();
    for (let i = 1; i <= 5; i++) queue.push("heavy", `heavy${i}`);
    queue.push("a", "a1");
    queue.push("b", "b1");
    queue.push("a", "a2");
    const order: string[] = [];
    for (let item = queue.take(); item; item = queue.take()) order.push(item);
    expect(order).toEqual(["heavy1", "a1", "b1", "heavy2", "a2", "heavy3", "heavy4", "heavy5"]);
    expect(queue.size).toBe(0);
  });

  it("a plain FIFO (the broken variant) lets the heavy user crowd the others out", () => {
    const fifo: string[] = [];
    for (let i = 1; i <= 5; i++) fifo.push(`heavy${i}`);
    fifo.push("a1", "b1");
    expect(fifo.indexOf("a1")).toBeGreaterThan(2); // what the round-robin above prevents
  });

  it("skips heads that cannot be placed, keeping each user's own order", () => {
    const queue = new FairQueue<{ id: string; ok: boolean }>();
    const a1 = { id: "a1", ok: false };
    const a2 = { id: "a2", ok: true };
    const b1 = { id: "b1", ok: true };
    queue.push("a", a1);
    queue.push("a", a2);
    queue.push("b", b1);
    expect(queue.take((w) => w.ok)).toBe(b1); // a's head cannot go, a2 must not overtake a1
    expect(queue.take((w) => w.ok)).toBeUndefined();
    expect(queue.size).toBe(2);
  });

  it("removes a waiter that gave up", () => {
    const queue = new FairQueue<string>();
    queue.push("a", "a1");
    queue.push("b", "b1");
    expect(queue.remove("a", "a1")).toBe(true);
    expect(queue.remove("a", "a1")).toBe(false);
    expect([queue.take(), queue.take(), queue.size]).toEqual(["b1", undefined, 0]);
  });

  it("when full, evicts the heaviest user's newest waiter for a lighter newcomer, never for a peer", () => {
    const queue = new FairQueue<string>();
    for (let i = 1; i <= 4; i++) queue.push("heavy", `heavy${i}`);
    queue.push("a", "a1");
    expect(queue.evictForNewcomer("b")).toBe("heavy4");
    expect(queue.waitingOf("heavy")).toBe(3);
    expect(queue.evictForNewcomer("heavy")).toBeUndefined(); // the heaviest cannot push others out
    const even = new FairQueue<string>();
    even.push("a", "a1");
    even.push("b", "b1");
    expect(even.evictForNewcomer("c")).toBeUndefined(); // everyone holds 1: the newcomer is refused
  });
});

describe("origin health", () => {
  const t0 = 1_000_000;

  it(`takes an origin out after ${FAILURES_TO_COOL} failures in a row, for the cool-down`, () => {
    let h: OriginHealth = HEALTHY;
    for (let i = 1; i < FAILURES_TO_COOL; i++) h = afterOutcome(h, "unreachable", t0);
    expect(healthState(h, t0)).toBe("up");
    h = afterOutcome(h, "unreachable", t0);
    expect(healthState(h, t0)).toBe("down");
    expect(healthState(h, t0 + COOL_DOWN_MS - 1)).toBe("down");
    expect(healthState(h, t0 + COOL_DOWN_MS)).toBe("probe");
  });

  it("a success in between resets the count; a client leaving says nothing", () => {
    let h = afterOutcome(afterOutcome(HEALTHY, "unreachable", t0), "unreachable", t0);
    h = afterOutcome(h, "ok", t0);
    h = afterOutcome(afterOutcome(h, "abandoned", t0), "unreachable", t0);
    expect(h.failures).toBe(1);
  });

  it("allows one probe at a time; the probe's answer brings the origin back, its failure cools again", () => {
    let h: OriginHealth = HEALTHY;
    for (let i = 0; i < FAILURES_TO_COOL; i++) h = afterOutcome(h, "unreachable", t0);
    const t1 = t0 + COOL_DOWN_MS;
    const probing = probeStarted(h, t1, 30_000);
    expect(healthState(probing, t1 + 10)).toBe("down");
    expect(healthState(probing, t1 + 30_000)).toBe("probe"); // a lost probe frees the way
    expect(healthState(afterOutcome(probing, "ok", t1 + 50), t1 + 50)).toBe("up");
    const failed = afterOutcome(probing, "unreachable", t1 + 50);
    expect(healthState(failed, t1 + 50)).toBe("down");
    expect(healthState(failed, t1 + 50 + COOL_DOWN_MS)).toBe("probe");
  });
});

describe("chooseOrigin", () => {
  const now = 5_000_000;
  const down: OriginHealth = { failures: FAILURES_TO_COOL, downUntil: now + 1000, probeUntil: 0 };
  const probe: OriginHealth = { failures: FAILURES_TO_COOL, downUntil: now - 1, probeUntil: 0 };

  it("picks the healthy origin with the most free slots (ties: lowest index)", () => {
    expect(chooseOrigin([4, 4], [3, 1], [HEALTHY, HEALTHY], now)).toEqual({ origin: 1, probe: false });
    expect(chooseOrigin([4, 2], [1, 0], [HEALTHY, HEALTHY], now)).toEqual({ origin: 0, probe: false });
    expect(chooseOrigin([2, 2], [1, 1], [HEALTHY, HEALTHY], now)).toEqual({ origin: 0, probe: false });
  });

  it("skips origins that are down or excluded; says full or down when nothing is free", () => {
    expect(chooseOrigin([4, 4], [0, 3], [down, HEALTHY], now)).toEqual({ origin: 1, probe: false });
    expect(chooseOrigin([4, 4], [0, 0], [HEALTHY, HEALTHY], now, [0])).toEqual({ origin: 1, probe: false });
    expect(chooseOrigin([1, 1], [1, 1], [HEALTHY, HEALTHY], now)).toBe("full");
    expect(chooseOrigin([1, 1], [0, 0], [down, down], now)).toBe("down");
    expect(chooseOrigin([1], [0], [HEALTHY], now, [0])).toBe("down");
  });

  it("sends the next request to an origin whose cool-down is over, as a probe", () => {
    expect(chooseOrigin([4, 4], [0, 0], [HEALTHY, probe], now)).toEqual({ origin: 1, probe: true });
  });
});

describe("numbers the gate answers with", () => {
  it("bounds the queue by the slots, and Retry-After by 1..60 s", () => {
    expect(queueCapacity([4, 2])).toBe(120);
    expect([retryAfterSeconds(10_000), retryAfterSeconds(200), retryAfterSeconds(600_000)]).toEqual([10, 1, 60]);
    const h = (until: number): OriginHealth => ({ failures: FAILURES_TO_COOL, downUntil: until, probeUntil: 0 });
    expect(retryAfterDown([h(7_500), h(20_000)], 1_000)).toBe(7);
    expect(retryAfterDown([HEALTHY, h(20_000)], 1_000)).toBe(19); // only origins that are out count
  });

  it("counts requests served in the last 60 seconds only", () => {
    const counter = new MinuteCounter();
    counter.add(1_000);
    counter.add(1_500);
    counter.add(30_000);
    expect(counter.total(30_000)).toBe(3);
    expect(counter.total(60_999)).toBe(3);
    expect(counter.total(61_000)).toBe(1); // the two at second 1 have left the window
    counter.add(121_000); // same bucket as second 1, a later minute
    expect(counter.total(121_000)).toBe(1);
  });
});

describe("refusals that are safe to retry", () => {
  it("treats a refused or instantly lost connection as nothing sent, a later loss as maybe sent", () => {
    expect(isRefusal(new Error("connect ECONNREFUSED 127.0.0.1:1"), 5_000)).toBe(true);
    expect(isRefusal(new Error("Network connection lost."), 3)).toBe(true);
    expect(isRefusal(new Error("Network connection lost."), REFUSED_WITHIN_MS + 1)).toBe(false);
    expect(isRefusal(new Error("internal error"), 3)).toBe(false);
  });
});

describe("pool settings", () => {
  const base = { ...env, OPENCLAW_URL: "http://a.test,http://b.test/v" } as Env;

  it("reads a pool, one concurrency for all or one per origin, and the queue timeout default", () => {
    expect(readConfig(base).origins).toEqual(["http://a.test", "http://b.test/v"]);
    expect(readConfig(base).originMaxConcurrency).toBeNull();
    expect(readConfig({ ...base, ORIGIN_MAX_CONCURRENCY: "3" }).originMaxConcurrency).toEqual([3, 3]);
    expect(readConfig({ ...base, ORIGIN_MAX_CONCURRENCY: "4, 2" }).originMaxConcurrency).toEqual([4, 2]);
    expect(readConfig({ ...base, ORIGIN_QUEUE_TIMEOUT_MS: "" }).originQueueTimeoutMs).toBe(10_000);
  });

  it.each([
    ["4,2,1", /ORIGIN_MAX_CONCURRENCY lists 3 values for 2 origins/],
    ["0", /ORIGIN_MAX_CONCURRENCY must be a whole number ≥ 1/],
    ["two", /ORIGIN_MAX_CONCURRENCY must be/],
  ])("refuses ORIGIN_MAX_CONCURRENCY=%s as misconfigured", (value, message) => {
    expect(() => readConfig({ ...base, ORIGIN_MAX_CONCURRENCY: value })).toThrow(message);
  });
});
