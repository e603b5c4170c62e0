/**
 * @module controls/EventControls
 * The event's controls: one Durable Object per deployment (`idFromName(CONTROLS_OBJECT)`), so
 * every change is strongly consistent and reaches every location at once, unlike KV (up to 60 s).
 * Requests read it through the per-isolate cache of `controls/cache.ts` (at most one read per
 * isolate per second); the admin API writes it. State lives in its SQLite storage, so it survives
 * eviction and restarts: the controls, when the budget was set, and the per-user directory
 * (admin tiers, key generations, revocations) that lets the Worker check a reissued key without
 * calling the user's own object first.
 */
import { DurableObject } from "cloudflare:workers";
import { CONTROL_KEYS, EMPTY_SNAPSHOT, sqlTimestamp, type ControlKey, type Controls, type ControlsSnapshot, type UserEntry } from "./shape";

/** The one controls object's name. */
export const CONTROLS_OBJECT = "event-controls";

export interface ControlsChange {
  snapshot: ControlsSnapshot;
  /** The keys whose value actually changed (one audit row each). */
  changed: ControlKey[];
}

export class EventControls extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
       CREATE TABLE IF NOT EXISTS users (user TEXT PRIMARY KEY, entry TEXT NOT NULL);`,
    );
  }

  /** The controls and the user directory as they are now. */
  snapshot(): ControlsSnapshot {
    const sql = this.ctx.storage.sql;
    const state = new Map(sql.exec<{ name: string; value: string }>("SELECT name, value FROM state").toArray().map((r) => [r.name, r.value]));
    const users: Record<string, UserEntry> = {};
    for (const row of sql.exec<{ user: string; entry: string }>("SELECT user, entry FROM users")) users[row.user] = JSON.parse(row.entry);
    return {
      controls: state.has("controls") ? JSON.parse(state.get("controls")!) : EMPTY_SNAPSHOT.controls,
      budgetSince: state.has("budget_since") ? Number(state.get("budget_since")) : null,
      users,
    };
  }

  /** Applies validated changes; a key set to its current value is not a change. */
  change(changes: Partial<Omit<Controls, "updated_at">>): ControlsChange {
    const now = Date.now();
    const before = this.snapshot();
    const next: Controls = { ...before.controls };
    const changed: ControlKey[] = [];
    for (const key of CONTROL_KEYS) {
      if (!(key in changes)) continue;
      const value = changes[key];
      if (JSON.stringify(value) === JSON.stringify(next[key])) continue;
      (next as unknown as Record<string, unknown>)[key] = value;
      changed.push(key);
    }
    if (changed.length === 0) return { snapshot: before, changed };
    next.updated_at = sqlTimestamp(now);
    const sql = this.ctx.storage.sql;
    sql.exec("INSERT OR REPLACE INTO state (name, value) VALUES ('controls', ?)", JSON.stringify(next));
    // A new budget counts tokens from now on (earlier ones come from the access log).
    if (changed.includes("budget")) {
      if (next.budget) sql.exec("INSERT OR REPLACE INTO state (name, value) VALUES ('budget_since', ?)", String(now));
      else sql.exec("DELETE FROM state WHERE name = 'budget_since'");
    }
    return { snapshot: this.snapshot(), changed };
  }

  /** Merges an admin change into one user's directory entry (an empty entry is removed). */
  setUser(user: string, patch: { limit?: number | null; generation?: number; revoked?: boolean }): ControlsSnapshot {
    const sql = this.ctx.storage.sql;
    const row = sql.exec<{ entry: string }>("SELECT entry FROM users WHERE user = ?", user).toArray()[0];
    const entry: UserEntry = row ? JSON.parse(row.entry) : {};
    if (patch.limit === null) delete entry.limit;
    else if (patch.limit !== undefined) entry.limit = patch.limit;
    if (patch.generation === 0) delete entry.generation;
    else if (patch.generation !== undefined) entry.generation = patch.generation;
    if (patch.revoked === false) delete entry.revoked;
    else if (patch.revoked) entry.revoked = true;
    if (Object.keys(entry).length === 0) sql.exec("DELETE FROM users WHERE user = ?", user);
    else sql.exec("INSERT OR REPLACE INTO users (user, entry) VALUES (?, ?)", user, JSON.stringify(entry));
    return this.snapshot();
  }
}
