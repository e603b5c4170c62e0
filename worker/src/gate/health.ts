/**
 * @module gate/health
 * Per-origin health as a small state machine, pure with the clock passed in. An origin that fails
 * to connect or times out {@link FAILURES_TO_COOL} times in a row is taken out for
 * {@link COOL_DOWN_MS}; after that, one request at a time probes it, and one answer brings it back.
 */

/** Consecutive connect failures or timeouts that take an origin out. */
export const FAILURES_TO_COOL = 3;
/** How long an origin stays out before it is probed. */
export const COOL_DOWN_MS = 15_000;

/** How a request ended, as far as the origin's health is concerned. */
export type Outcome =
  /** The origin sent response headers (whatever the status). */
  | "ok"
  /** The connection failed or no headers came in time: counts against the origin. */
  | "unreachable"
  /** The client left, or the gateway gave up for its own reasons: says nothing about the origin. */
  | "abandoned";

export interface OriginHealth {
  /** Connect failures or timeouts in a row. */
  failures: number;
  /** Out until this time (epoch ms); 0 when never taken out. */
  downUntil: number;
  /** A probe is in flight until this time (epoch ms): no second probe before it. */
  probeUntil: number;
}

export type HealthState = "up" | "down" | "probe";

export const HEALTHY: OriginHealth = Object.freeze({ failures: 0, downUntil: 0, probeUntil: 0 });

/**
 * @returns `up` (takes requests), `down` (cooling down, or a probe is already in flight) or
 *   `probe` (cool-down over: the next request may try it)
 */
export function healthState(health: OriginHealth, nowMs: number): HealthState {
  if (health.failures < FAILURES_TO_COOL) return "up";
  if (nowMs < health.downUntil || nowMs < health.probeUntil) return "down";
  return "probe";
}

/** The health after a request to this origin ended with `outcome`. */
export function afterOutcome(health: OriginHealth, outcome: Outcome, nowMs: number): OriginHealth {
  if (outcome === "ok") return HEALTHY;
  if (outcome === "abandoned") return health.probeUntil ? { ...health, probeUntil: 0 } : health;
  const failures = health.failures + 1;
  if (failures < FAILURES_TO_COOL) return { ...health, failures };
  return { failures, downUntil: nowMs + COOL_DOWN_MS, probeUntil: 0 };
}

/** Marks a probe as started; a lost probe frees the way for another after `graceMs`. */
export function probeStarted(health: OriginHealth, nowMs: number, graceMs: number): OriginHealth {
  return { ...health, probeUntil: nowMs + graceMs };
}
