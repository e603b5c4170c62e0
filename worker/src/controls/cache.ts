/**
 * @module controls/cache
 * The per-isolate cache of the controls object. Every request needs the controls, but a Durable
 * Object call per request would double the gateway's DO requests: instead each isolate reads the
 * object at most once per {@link CONTROLS_TTL_MS} and every request in between reuses that read.
 * A change therefore reaches a request within TTL + one read's latency (the 2 s promise), and at
 * once in the isolate that made it (the admin API primes the cache with the new state).
 *
 * Cost, honestly: not zero. An isolate that is serving traffic makes one DO request per second
 * at most, whatever its request rate; an idle isolate makes none. Concurrent requests that find
 * the cache stale share one read.
 */
import { CONTROLS_OBJECT } from "./EventControls";
import type { ControlsSnapshot } from "./shape";

/** How long one read of the controls object serves this isolate's requests. */
export const CONTROLS_TTL_MS = 1_000;

interface Cached {
  snapshot: ControlsSnapshot;
  /** When the read that produced it started (a change after that is not in it). */
  readAt: number;
}

let cached: Cached | null = null;
let reading: Promise<ControlsSnapshot> | null = null;
/** Reads of the controls object this isolate made (for tests and the cost measurement). */
let reads = 0;

/** The controls object's stub. */
export function controlsStub(namespace: DurableObjectNamespace<import("./EventControls").EventControls>) {
  return namespace.get(namespace.idFromName(CONTROLS_OBJECT));
}

/**
 * The controls for this request: the cached read when it is younger than the TTL, else a new one.
 * @throws whatever the Durable Object call throws (the caller answers 502)
 */
export async function currentControls(env: Env, now = Date.now()): Promise<ControlsSnapshot> {
  if (cached && now - cached.readAt < CONTROLS_TTL_MS) return cached.snapshot;
  if (!reading) {
    const readAt = now;
    reads++;
    reading = controlsStub(env.EVENT_CONTROLS)
      .snapshot()
      .then((snapshot) => {
        if (!cached || cached.readAt <= readAt) cached = { snapshot, readAt };
        return snapshot;
      })
      .finally(() => {
        reading = null;
      });
  }
  return reading;
}

/** Puts a state just written by this isolate in the cache, so it applies here at once. */
export function primeControls(snapshot: ControlsSnapshot, now = Date.now()): void {
  cached = { snapshot, readAt: now };
}

/** Forgets the cached read (tests: each test starts from the object's state). */
export function forgetControls(): void {
  cached = null;
}

/** How many times this isolate has read the controls object. */
export function controlsReads(): number {
  return reads;
}
