/**
 * @module admin/audit
 * Writes the admin API's changes to D1 `control_events` (migration 0005): what changed, when, to
 * whom, and from where — the keyed hash of the caller's IP (like the access log's `ip_hash`), or
 * 'admin' without `IP_HASH_SALT`. Details are the new values only: never a token, secret or key.
 */
import type { Context } from "hono";
import { sqlTimestamp } from "../controls/shape";
import { ipHash } from "../lib/crypto";
import type { AppEnv } from "../types";

export interface ControlEvent {
  action: string;
  /** A user id for per-user actions, else null. */
  target: string | null;
  /** The new value (serialised as JSON). */
  detail: unknown;
}

/** Where an admin call came from, as the audit table keeps it. */
export async function auditSource(c: Context<AppEnv>): Promise<string> {
  const salt = c.env.IP_HASH_SALT;
  const ip = c.req.header("CF-Connecting-IP");
  return salt && ip ? ipHash(salt, ip) : "admin";
}

/** One row per event, in one batch. */
export async function recordControlEvents(c: Context<AppEnv>, events: ControlEvent[]): Promise<void> {
  if (events.length === 0) return;
  const source = await auditSource(c);
  const createdAt = sqlTimestamp(Date.now());
  const insert = c.env.DB.prepare(
    "INSERT INTO control_events (created_at, action, target, detail, source) VALUES (?1, ?2, ?3, ?4, ?5)",
  );
  await c.env.DB.batch(events.map((e) => insert.bind(createdAt, e.action, e.target, JSON.stringify(e.detail), source)));
}
