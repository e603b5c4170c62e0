/**
 * @module controls/cache
 * The per-isolate cache of the event's controls. Every request needs them, so each isolate reads
 * them at most once per {@link CONTROLS_TTL_MS} and every request in between reuses that read;
 * concurrent requests that find the cache stale share one read. A change therefore reaches a
 * request within TTL + one read's latency (the 2 s promise), and at once in the isolate that
 * made it (the admin API primes the cache with the new state).
 *
 * What it reads: the copy the EventControls object publishes in D1 `control_state`
 * (`controls/mirror.ts`), one row, not the object itself — so with or without controls in use,
 * requests add no Durable Object request. Cost, honestly: one D1 row read per busy isolate per
 * second at most (an idle isolate reads nothing). Without the table (migration 0006 not applied)
 * or when D1 fails, it reads the object as before (one DO request per isolate per second) and
 * says so in the log: requests keep working.
 */
import { CONTROLS_OBJECT, type EventControls } from "./EventControls";
import { isMissingTable, readPublished, type ControlsState } from "./mirror";
import { EMPTY_SNAPSHOT, type ControlsSnapshot } from "./shape";

/** How long one read of the controls serves this isolate's requests. */
export const CONTROLS_TTL_MS = 1_000;

interface Cached {
  snapshot: ControlsSnapshot;
  /** When the read that produced it started (a change after that is not in it). */
  readAt: number;
}

let cached: Cached | null = null;
let reading: Promise<ControlsSnapshot> | null = null;
/** This isolate's reads (for tests and the cost measurement): of D1's copy, and of the object. */
const reads = { mirror: 0, object: 0 };
let warnedMissingTable = false;

/** The controls object's stub. */
export function controlsStub(namespace: DurableObjectNamespace<EventControls>) {
  return namespace.get(namespace.idFromName(CONTROLS_OBJECT));
}

/** One read: D1's copy (no row: no control was ever published), or the object itself when D1 cannot answer. */
async function readSnapshot(env: Env): Promise<ControlsSnapshot> {
  reads.mirror++;
  try {
    const row = await readPublished(env.DB);
    return row ? row.snapshot : EMPTY_SNAPSHOT;
  } catch (error) {
    if (!isMissingTable(error)) {
      console.error("event controls: reading D1 control_state failed; reading the controls object instead", String(error));
    } else if (!warnedMissingTable) {
      warnedMissingTable = true;
      console.warn("event controls: D1 has no control_state table (apply migration 0006: gateway-ops bootstrap); " +
        "reading the controls object instead, one Durable Object request per isolate per second");
    }
    reads.object++;
    return controlsStub(env.EVENT_CONTROLS).snapshot();
  }
}

/**
 * The controls for this request: the cached read when it is younger than the TTL, else a new one.
 * @throws when neither D1 nor the controls object can be read (the caller answers 502)
 */
export async function currentControls(env: Env, now = Date.now()): Promise<ControlsSnapshot> {
  if (cached && now - cached.readAt < CONTROLS_TTL_MS) return cached.snapshot;
  if (!reading) {
    const readAt = now;
    reading = readSnapshot(env)
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

/** Puts a state just written (and published) by this isolate in the cache, so it applies here at once. */
export function primeControls(state: ControlsState, now = Date.now()): void {
  cached = { snapshot: state.snapshot, readAt: now };
}

/** Forgets the cached read and the warning given (tests: each test starts as a fresh isolate would). */
export function forgetControls(): void {
  cached = null;
  warnedMissingTable = false;
}

/** How many times this isolate has read the controls: D1's copy (`mirror`) and the object itself (`object`). */
export function controlsReads(): { mirror: number; object: number } {
  return { ...reads };
}
