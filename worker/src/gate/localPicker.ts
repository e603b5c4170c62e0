/**
 * @module gate/localPicker
 * Origin choice without a gate (`ORIGIN_MAX_CONCURRENCY` unset): no Durable Object call, only
 * this isolate's memory of its own requests in flight and of origin health. Each isolate learns
 * on its own that an origin is down, which costs a few failed requests per isolate, not a call
 * per request. A lone origin is never taken out: with nowhere else to go, trying it is better
 * than a fast 502.
 */
import { chooseOrigin, MinuteCounter } from "./admission";
import { afterOutcome, HEALTHY, healthState, probeStarted, type HealthState, type OriginHealth, type Outcome } from "./health";
import { GateRefusal, type OriginPicker, type OriginSlot } from "./picker";
import { retryAfterDown } from "./admission";

/** Without a gate the capacity is unknown: the most free origin is the one with fewest in flight. */
const UNLIMITED = Number.MAX_SAFE_INTEGER;
/** A probe whose answer never comes back frees the way for another after this long. */
const PROBE_GRACE_MS = 30_000;

interface PoolMemory {
  inFlight: number[];
  health: OriginHealth[];
  served: MinuteCounter[];
}

const memories = new Map<string, PoolMemory>();

function memoryOf(origins: readonly string[]): PoolMemory {
  const key = origins.join(",");
  let memory = memories.get(key);
  if (!memory) {
    memory = {
      inFlight: origins.map(() => 0),
      health: origins.map(() => HEALTHY),
      served: origins.map(() => new MinuteCounter()),
    };
    memories.set(key, memory);
  }
  return memory;
}

/** This isolate's view of a pool, for the status endpoint. */
export function localSnapshot(origins: readonly string[], nowMs: number) {
  const memory = memoryOf(origins);
  return origins.map((_, origin) => {
    const state: HealthState = healthState(memory.health[origin], nowMs);
    return {
      in_flight: memory.inFlight[origin],
      waiting: 0,
      healthy: state === "up",
      state,
      served_last_minute: memory.served[origin].total(nowMs),
    };
  });
}

export function localPicker(origins: readonly string[]): OriginPicker {
  const memory = memoryOf(origins);
  const limits = origins.map(() => UNLIMITED);
  const cooling = origins.length > 1;
  return {
    gated: false,
    async acquire(exclude) {
      const now = Date.now();
      const choice = chooseOrigin(limits, memory.inFlight, cooling ? memory.health : [], now, exclude);
      if (typeof choice !== "object") throw new GateRefusal("down", retryAfterDown(memory.health, now), 0);
      const { origin } = choice;
      if (choice.probe) memory.health[origin] = probeStarted(memory.health[origin], now, PROBE_GRACE_MS);
      memory.inFlight[origin]++;
      let released = false;
      const slot: OriginSlot = {
        origin,
        waitedMs: 0,
        async release(outcome: Outcome) {
          if (released) return;
          released = true;
          const at = Date.now();
          memory.inFlight[origin]--;
          if (cooling) memory.health[origin] = afterOutcome(memory.health[origin], outcome, at);
          if (outcome === "ok") memory.served[origin].add(at);
        },
      };
      return slot;
    },
  };
}
