/**
 * @module gate/admission
 * The gate's arithmetic, pure with the clock passed in: which origin a request goes to, how long
 * a lease lives, how long the queue may grow, what `Retry-After` says, and the per-origin count of
 * requests served in the last minute. The Durable Object only stores and calls these.
 */
import { healthState, type OriginHealth } from "./health";

/** A lease not renewed for this long is dead (its isolate was evicted): the slot is free again. */
export const LEASE_MS = 30_000;
/** A holder renews its lease this often while its answer is still being sent. */
export const RENEW_MS = 10_000;
/** Queue places per origin slot: beyond this many waiters, few could be served within the timeout. */
export const QUEUE_PER_SLOT = 20;

export interface Choice {
  origin: number;
  /** True when the origin was out and this request probes it. */
  probe: boolean;
}

/**
 * The origin for a new request: a probe-eligible origin first (so an origin that cooled down is
 * tried again), otherwise the healthy origin with the most free slots (ties: the lowest index).
 * @param limits slots per origin (`Infinity` or a large number when ungated)
 * @param inFlight requests holding a slot, per origin
 * @param exclude origins this request must not go to (already refused it)
 * @returns the choice, `"full"` when healthy origins exist but none has a free slot, or `"down"`
 *   when no allowed origin is healthy
 */
export function chooseOrigin(
  limits: readonly number[],
  inFlight: readonly number[],
  health: readonly OriginHealth[],
  nowMs: number,
  exclude: readonly number[] = [],
): Choice | "full" | "down" {
  let best: Choice | null = null;
  let bestFree = 0;
  let anyUsable = false;
  for (let origin = 0; origin < limits.length; origin++) {
    if (exclude.includes(origin)) continue;
    const state = healthState(health[origin] ?? { failures: 0, downUntil: 0, probeUntil: 0 }, nowMs);
    if (state === "down") continue;
    anyUsable = true;
    const free = limits[origin] - (inFlight[origin] ?? 0);
    if (free <= 0) continue;
    if (state === "probe") return { origin, probe: true };
    if (!best || free > bestFree) [best, bestFree] = [{ origin, probe: false }, free];
  }
  return best ?? (anyUsable ? "full" : "down");
}

/** Longest queue the gate keeps for these limits. */
export function queueCapacity(limits: readonly number[]): number {
  return QUEUE_PER_SLOT * limits.reduce((sum, n) => sum + n, 0);
}

/** `Retry-After` (seconds) for a refusal at the gate: about one queue timeout, 1 to 60 s. */
export function retryAfterSeconds(queueTimeoutMs: number): number {
  return Math.min(60, Math.max(1, Math.ceil(queueTimeoutMs / 1000)));
}

/** `Retry-After` (seconds) when every origin is cooling down: until the first one is probed. */
export function retryAfterDown(health: readonly OriginHealth[], nowMs: number): number {
  const out = health.filter((h) => healthState(h, nowMs) === "down");
  const next = Math.min(...out.map((h) => Math.max(h.downUntil, h.probeUntil)));
  return Math.min(60, Math.max(1, Math.ceil((next - nowMs) / 1000)));
}

/**
 * Requests served per origin over the last minute, in one-second buckets (a fixed 60 numbers per
 * origin however busy the event is).
 */
export class MinuteCounter {
  private readonly seconds = new Array<number>(60).fill(-1);
  private readonly counts = new Array<number>(60).fill(0);

  add(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const slot = second % 60;
    if (this.seconds[slot] !== second) [this.seconds[slot], this.counts[slot]] = [second, 0];
    this.counts[slot]++;
  }

  /** Requests added in the 60 seconds up to `nowMs`. */
  total(nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    let sum = 0;
    for (let i = 0; i < 60; i++) if (second - this.seconds[i] < 60) sum += this.counts[i];
    return sum;
  }
}
