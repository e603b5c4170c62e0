/**
 * @module gate/OriginGate
 * The origin gate: one Durable Object per pool (`idFromName(gateName(origins))`) admits at most
 * N requests in flight to each origin and keeps the rest in a fair, bounded queue with deadlines.
 *
 * What must survive an evicted or restarted object lives in its SQLite storage: the leases (one
 * row per slot held, with an expiry the holder renews). What may be lost lives in memory: the
 * waiters (their callers get an error when the object goes away: 502 `gate_unavailable`), origin health
 * (an origin is assumed healthy again) and the served-per-minute counters. A holder whose isolate
 * dies never releases, so its lease simply expires after {@link LEASE_MS}.
 *
 * All decisions are the pure functions of `admission`, `health` and `fairQueue`; this class
 * stores state and wires timers. Throughput: one object runs one call at a time; each gated
 * request costs two calls (acquire, release) plus one renewal per 10 s of answer.
 */
import { DurableObject } from "cloudflare:workers";
import {
  chooseOrigin,
  LEASE_MS,
  MinuteCounter,
  queueCapacity,
  retryAfterDown,
  retryAfterSeconds,
  type Choice,
} from "./admission";
import { FairQueue } from "./fairQueue";
import { ServiceLedger } from "./serviceLedger";
import { afterOutcome, HEALTHY, healthState, probeStarted, type HealthState, type OriginHealth, type Outcome } from "./health";

export interface AcquireRequest {
  /** Unique per attempt: the lease's id, and how the caller cancels or releases it. */
  ticket: string;
  /** Whose request this is: the queue is served round-robin by user. */
  user: string;
  /** Slots per origin, in pool order. */
  limits: number[];
  queueTimeoutMs: number;
  /** Origins this attempt must not use (they refused its first try). */
  exclude: number[];
}

export type Admission =
  | { kind: "granted"; origin: number; probe: boolean; waitedMs: number }
  | { kind: "busy"; reason: "timeout" | "queue_full" | "cancelled"; retryAfterS: number; waitedMs: number }
  | { kind: "down"; retryAfterS: number; waitedMs: number };

export interface OriginStatus {
  in_flight: number;
  /** Waiters that may go to this origin (a waiter may go to any origin: counts overlap in a pool). */
  waiting: number;
  healthy: boolean;
  state: HealthState;
  served_last_minute: number;
}

export interface GateStatus {
  waiting: number;
  queue_capacity: number;
  origins: OriginStatus[];
}

interface Waiter {
  request: AcquireRequest;
  since: number;
  resolve: (admission: Admission) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The Durable Object name of a pool's gate: one gate per list of origins. */
export function gateName(origins: readonly string[]): string {
  return `gate:${origins.join(",")}`;
}

export class OriginGate extends DurableObject<Env> {
  private limits: number[] = [];
  private health: OriginHealth[] = [];
  private served: MinuteCounter[] = [];
  private readonly queue = new FairQueue<Waiter>();
  /** Grants per user lately: the queue serves the least-served waiting user first. */
  private readonly service = new ServiceLedger();
  private readonly waiters = new Map<string, Waiter>();
  private wake: ReturnType<typeof setTimeout> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS leases (
         ticket     TEXT PRIMARY KEY,
         origin     INTEGER NOT NULL,
         expires_at INTEGER NOT NULL
       )`,
    );
  }

  /**
   * Waits for a slot: answers at once when an origin has one and nobody is waiting, otherwise
   * when the queue reaches this request, it times out, or the queue is full.
   */
  async acquire(request: AcquireRequest): Promise<Admission> {
    const now = Date.now();
    this.configure(request.limits);
    const choice = chooseOrigin(this.limits, this.inFlight(now), this.health, now, request.exclude);
    if (choice === "down") return this.down(now, now);
    if (choice !== "full" && this.queue.size === 0) return this.grant(request, choice, now, now);
    if (this.queue.size >= queueCapacity(this.limits)) {
      const evicted = this.queue.evictForNewcomer(request.user);
      if (!evicted) return this.busy("queue_full", request, now, now);
      this.settle(evicted, this.busy("queue_full", evicted.request, evicted.since, now));
    }
    return new Promise<Admission>((resolve) => {
      const waiter: Waiter = {
        request,
        since: now,
        resolve,
        timer: setTimeout(() => this.expire(waiter), request.queueTimeoutMs),
      };
      this.queue.push(request.user, waiter);
      this.waiters.set(request.ticket, waiter);
      this.dispatch();
    });
  }

  /**
   * Gives a slot back (or leaves the queue) and records how the request went for the origin's
   * health. Safe to call twice and after the lease expired.
   */
  release(ticket: string, origin: number, outcome: Outcome): void {
    const now = Date.now();
    const waiter = this.waiters.get(ticket);
    if (waiter) {
      this.queue.remove(waiter.request.user, waiter);
      this.settle(waiter, { kind: "busy", reason: "cancelled", retryAfterS: 1, waitedMs: now - waiter.since });
      return;
    }
    const held = this.ctx.storage.sql.exec("DELETE FROM leases WHERE ticket = ? RETURNING origin", ticket).toArray();
    if (held.length === 0 && outcome === "abandoned") return;
    if (origin >= 0 && origin < this.health.length) {
      this.health[origin] = afterOutcome(this.health[origin], outcome, now);
      if (outcome === "ok") this.served[origin].add(now);
    }
    this.dispatch();
  }

  /** Extends a lease whose answer is still being sent; re-creates it if it had already expired. */
  renew(ticket: string, origin: number): void {
    this.ctx.storage.sql.exec(
      "INSERT INTO leases (ticket, origin, expires_at) VALUES (?, ?, ?) ON CONFLICT(ticket) DO UPDATE SET expires_at = excluded.expires_at",
      ticket,
      origin,
      Date.now() + LEASE_MS,
    );
  }

  /** Per origin: in flight, waiting, health, served in the last minute. */
  status(limits: number[]): GateStatus {
    const now = Date.now();
    this.configure(limits);
    const inFlight = this.inFlight(now);
    const waiters = [...this.queue.items()];
    return {
      waiting: this.queue.size,
      queue_capacity: queueCapacity(this.limits),
      origins: this.limits.map((_, origin) => {
        const state = healthState(this.health[origin], now);
        return {
          in_flight: inFlight[origin],
          waiting: waiters.filter((w) => !w.request.exclude.includes(origin)).length,
          healthy: state === "up",
          state,
          served_last_minute: this.served[origin].total(now),
        };
      }),
    };
  }

  /** Follows the limits the Worker sends (the pool may have been redeployed with another size). */
  private configure(limits: number[]): void {
    this.limits = limits;
    while (this.health.length < limits.length) this.health.push(HEALTHY);
    while (this.served.length < limits.length) this.served.push(new MinuteCounter());
  }

  /** Slots held per origin, after dropping expired leases. */
  private inFlight(now: number): number[] {
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM leases WHERE expires_at <= ?", now);
    const counts = this.limits.map(() => 0);
    const rows = sql.exec<{ origin: number; n: number }>("SELECT origin, COUNT(*) AS n FROM leases GROUP BY origin");
    for (const row of rows) if (row.origin < counts.length) counts[row.origin] = row.n;
    return counts;
  }

  private grant(request: AcquireRequest, choice: Choice, since: number, now: number): Admission {
    this.service.add(request.user, now);
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO leases (ticket, origin, expires_at) VALUES (?, ?, ?)",
      request.ticket,
      choice.origin,
      now + LEASE_MS,
    );
    if (choice.probe) this.health[choice.origin] = probeStarted(this.health[choice.origin], now, LEASE_MS);
    return { kind: "granted", origin: choice.origin, probe: choice.probe, waitedMs: now - since };
  }

  private busy(reason: "timeout" | "queue_full", request: AcquireRequest, since: number, now: number): Admission {
    return { kind: "busy", reason, retryAfterS: retryAfterSeconds(request.queueTimeoutMs), waitedMs: now - since };
  }

  private down(since: number, now: number): Admission {
    return { kind: "down", retryAfterS: retryAfterDown(this.health, now), waitedMs: now - since };
  }

  /** Hands free slots to waiters in fair order, then sets a timer for the next lease expiry. */
  private dispatch(): void {
    const now = Date.now();
    const inFlight = this.inFlight(now);
    for (;;) {
      const placeable = (w: Waiter) => chooseOrigin(this.limits, inFlight, this.health, now, w.request.exclude) !== "full";
      const waiter = this.queue.take(placeable, (user) => this.service.score(user, now));
      if (!waiter) break;
      const choice = chooseOrigin(this.limits, inFlight, this.health, now, waiter.request.exclude);
      if (choice === "down") {
        this.settle(waiter, this.down(waiter.since, now));
      } else if (choice !== "full") {
        inFlight[choice.origin]++;
        this.settle(waiter, this.grant(waiter.request, choice, waiter.since, now));
      }
    }
    this.scheduleWake(now);
  }

  /** While anyone waits, wake when the first lease expires or an origin's cool-down ends. */
  private scheduleWake(now: number): void {
    if (this.wake) clearTimeout(this.wake);
    this.wake = null;
    if (this.queue.size === 0) return;
    const row = this.ctx.storage.sql.exec<{ t: number | null }>("SELECT MIN(expires_at) AS t FROM leases").one();
    const times = [row.t ?? Infinity, ...this.health.map((h) => Math.max(h.downUntil, h.probeUntil))].filter((t) => t > now);
    const next = Math.min(...times);
    if (Number.isFinite(next)) this.wake = setTimeout(() => this.dispatch(), next - now + 1);
  }

  private expire(waiter: Waiter): void {
    if (!this.queue.remove(waiter.request.user, waiter)) return;
    this.settle(waiter, this.busy("timeout", waiter.request, waiter.since, Date.now()));
  }

  private settle(waiter: Waiter, admission: Admission): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter.request.ticket);
    waiter.resolve(admission);
  }
}
