/**
 * The gate's fairness under the bench's overload (README "Performance": 40 users offering 3× an
 * origin of 4 slots × 500 ms, one of them sending 10× each other, queue timeout 5 s), replayed as
 * a deterministic simulation with the gate's own {@link FairQueue} and {@link ServiceLedger}: the
 * same choice the Durable Object makes, without the runtime's timing noise. Plain round-robin
 * lets the heavy user keep the head start it gets while the others have not asked yet (here
 * 1.78× an ordinary user; the real bench measured 2.8× with it, where the runtime's delays add
 * to the head start); ranking waiters by recent service pays it back (here 1.01×).
 */
import { describe, expect, it } from "vitest";
import { FairQueue } from "../src/gate/fairQueue";
import { ServiceLedger } from "../src/gate/serviceLedger";

interface Waiter {
  user: string;
  since: number;
}

interface Outcome {
  heavyOverOrdinary: number;
  jainOrdinary: number;
  served: number;
}

const SLOTS = 4;
const ANSWER_MS = 500;
const TIMEOUT_MS = 5_000;
const QUEUE_CAPACITY = 20 * SLOTS;
/** In this idealised replay, the heavy user is served within 25 % of an ordinary user. */
const EVEN_WITHIN = 1.25;

/** Evenly spaced arrivals per user, phases staggered, as `bench/gate_bench.py` sends them. */
function arrivals(users: number, heavyFactor: number, totalRps: number, durationMs: number): Array<{ at: number; user: string }> {
  const ordinaryRps = totalRps / (users - 1 + heavyFactor);
  const out: Array<{ at: number; user: string }> = [];
  for (let u = 0; u < users; u++) {
    const rate = ordinaryRps * (u === 0 ? heavyFactor : 1);
    for (let at = (u / users / rate) * 1000; at < durationMs; at += 1000 / rate) out.push({ at, user: `u${u}` });
  }
  return out.sort((a, b) => a.at - b.at);
}

function jain(values: number[]): number {
  const sum = values.reduce((a, b) => a + b, 0);
  return (sum * sum) / (values.length * values.reduce((a, b) => a + b * b, 0));
}

/** Runs the overload in 1 ms steps: arrivals, answers ending, timeouts, then the gate's dispatch. */
function simulate(rankByService: boolean, durationMs = 15_000): Outcome {
  const queue = new FairQueue<Waiter>();
  const ledger = new ServiceLedger();
  const served = new Map<string, number>();
  const ends: number[] = [];
  const waiting = new Set<Waiter>();
  const pending = arrivals(40, 10, 3 * ((SLOTS * 1000) / ANSWER_MS), durationMs);
  const grant = (user: string, now: number) => {
    ledger.add(user, now);
    served.set(user, (served.get(user) ?? 0) + 1);
    ends.push(now + ANSWER_MS);
  };
  let next = 0;
  for (let now = 0; next < pending.length || waiting.size > 0; now++) {
    for (let i = ends.length - 1; i >= 0; i--) if (ends[i] <= now) ends.splice(i, 1);
    for (const w of [...waiting]) {
      if (now - w.since >= TIMEOUT_MS && queue.remove(w.user, w)) waiting.delete(w);
    }
    for (; next < pending.length && pending[next].at <= now; next++) {
      const { user } = pending[next];
      if (ends.length < SLOTS && queue.size === 0) {
        grant(user, now);
        continue;
      }
      if (queue.size >= QUEUE_CAPACITY) {
        const evicted = queue.evictForNewcomer(user);
        if (!evicted) continue;
        waiting.delete(evicted);
      }
      const waiter = { user, since: now };
      queue.push(user, waiter);
      waiting.add(waiter);
    }
    while (ends.length < SLOTS) {
      const waiter = queue.take(undefined, rankByService ? (user) => ledger.score(user, now) : undefined);
      if (!waiter) break;
      waiting.delete(waiter);
      grant(waiter.user, now);
    }
  }
  const ordinary = Array.from({ length: 39 }, (_, i) => served.get(`u${i + 1}`) ?? 0);
  const mean = ordinary.reduce((a, b) => a + b, 0) / ordinary.length;
  return { heavyOverOrdinary: (served.get("u0") ?? 0) / mean, jainOrdinary: jain(ordinary), served: [...served.values()].reduce((a, b) => a + b, 0) };
}

describe("fairness under the bench's overload (simulated with the gate's queue)", () => {
  it(`ranking waiters by recent service: the heavy user gets within ${EVEN_WITHIN}× an ordinary user, ordinary users alike`, () => {
    const outcome = simulate(true);
    expect(outcome.heavyOverOrdinary).toBeLessThanOrEqual(EVEN_WITHIN);
    expect(outcome.jainOrdinary).toBeGreaterThanOrEqual(0.95);
  });

  it("plain round-robin (the broken variant) keeps the heavy user's head start", () => {
    const outcome = simulate(false);
    expect(outcome.heavyOverOrdinary).toBeGreaterThan(EVEN_WITHIN);
    // The same work is done (within a request or two at the end): only who gets it differs.
    expect(Math.abs(outcome.served - simulate(true).served)).toBeLessThanOrEqual(2);
  });
});

describe("ServiceLedger", () => {
  it("counts grants, halves them every half-life, and forgets users served long ago", () => {
    const ledger = new ServiceLedger(1_000);
    ledger.add("a", 0);
    ledger.add("a", 0);
    expect(ledger.score("a", 0)).toBe(2);
    expect(ledger.score("a", 1_000)).toBeCloseTo(1);
    expect(ledger.score("b", 0)).toBe(0);
    ledger.add("b", 1_000);
    expect(ledger.score("b", 1_000)).toBe(1);
    ledger.prune(10_000);
    expect(ledger.size).toBe(0);
  });

  it("the queue serves the waiting user with the least recent service first, round-robin among equals", () => {
    const queue = new FairQueue<string>();
    const ledger = new ServiceLedger();
    for (let i = 0; i < 3; i++) ledger.add("heavy", 0);
    for (let i = 1; i <= 3; i++) queue.push("heavy", `heavy${i}`);
    queue.push("a", "a1");
    queue.push("b", "b1");
    queue.push("a", "a2");
    const order: string[] = [];
    for (let item = queue.take(undefined, (u) => ledger.score(u, 0)); item; item = queue.take(undefined, (u) => ledger.score(u, 0))) {
      order.push(item);
      ledger.add(item.replace(/\d+$/, ""), 0);
    }
    // a and b catch up with heavy's 3 grants before heavy is served again.
    expect(order).toEqual(["a1", "b1", "a2", "heavy1", "heavy2", "heavy3"]);
  });
});
