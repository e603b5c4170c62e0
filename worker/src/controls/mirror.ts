/**
 * @module controls/mirror
 * The published copy of the event's controls in D1 `control_state` (migration 0006). The
 * EventControls Durable Object is the authority and the only writer: after each change it
 * publishes `(version, snapshot)` here, and every isolate's cache (`controls/cache.ts`) refreshes
 * from this one row. Why D1: without read replication (no Sessions API) it is read-after-write
 * consistent, and a refresh costs one D1 row read instead of one Durable Object request.
 */
import { sqlTimestamp, type ControlsSnapshot } from "./shape";

/** A state of the controls object: its version (0: never changed) and what requests read. */
export interface ControlsState {
  version: number;
  snapshot: ControlsSnapshot;
}

/** The row as published; `text` is the snapshot exactly as stored (to compare with a state). */
export interface PublishedRow extends ControlsState {
  text: string;
}

const READ = "SELECT version, snapshot FROM control_state WHERE id = 1";

// An older version never replaces a newer one, whatever order two publishes arrive in.
const WRITE = `INSERT INTO control_state (id, version, snapshot, published_at) VALUES (1, ?1, ?2, ?3)
  ON CONFLICT (id) DO UPDATE SET version = excluded.version, snapshot = excluded.snapshot, published_at = excluded.published_at
  WHERE excluded.version > control_state.version`;

/** The snapshot as it is published (and compared). */
export function snapshotText(snapshot: ControlsSnapshot): string {
  return JSON.stringify(snapshot);
}

/**
 * The published row, or null when no control was ever published.
 * @throws the D1 error (e.g. `no such table: control_state` before migration 0006)
 */
export async function readPublished(db: D1Database): Promise<PublishedRow | null> {
  const row = await db.prepare(READ).first<{ version: number; snapshot: string }>();
  return row ? { version: row.version, snapshot: JSON.parse(row.snapshot) as ControlsSnapshot, text: row.snapshot } : null;
}

/**
 * Publishes `state` unless the row already holds this version or a newer one.
 * @returns whether the row was written
 * @throws the D1 error
 */
export async function writePublished(db: D1Database, state: ControlsState, now = Date.now()): Promise<boolean> {
  const result = await db.prepare(WRITE).bind(state.version, snapshotText(state.snapshot), sqlTimestamp(now)).run();
  return result.meta.changes > 0;
}

/** Whether a D1 error says the table is absent (a deployment whose migration 0006 was not applied). */
export function isMissingTable(error: unknown): boolean {
  return /no such table:\s*control_state/i.test(String(error));
}
