/**
 * @module controls/EventControls
 * The event's controls: one Durable Object per deployment (`idFromName(CONTROLS_OBJECT)`), the
 * authority for every change (the admin API writes it; validation and audit as the admin routes
 * do them). State lives in its SQLite storage, so it survives eviction and restarts: the
 * controls, when the budget was set, the per-user directory (admin tiers, key generations,
 * revocations) that lets the Worker check a reissued key without calling the user's own object
 * first, and a version bumped on every real change.
 *
 * Requests do not call this object: after each change it publishes `(version, snapshot)` to D1
 * `control_state` (`controls/mirror.ts`), and each isolate's cache reads that row. Changes and
 * publishes run one at a time (`blockConcurrencyWhile`: the D1 await would otherwise let another
 * change in between); a publish that fails leaves the change saved and says so, and the next call
 * (a retry, `GET /admin/controls`, `GET /admin/status`) publishes it.
 */
import { DurableObject } from "cloudflare:workers";
import { isMissingTable, readPublished, snapshotText, writePublished, type ControlsState } from "./mirror";
import { CONTROL_KEYS, EMPTY_SNAPSHOT, sqlTimestamp, type ControlKey, type Controls, type ControlsSnapshot, type UserEntry } from "./shape";

/** The one controls object's name. */
export const CONTROLS_OBJECT = "event-controls";

/** A publish gives up after this long (well inside blockConcurrencyWhile's 30 s, which resets the object). */
export const PUBLISH_DEADLINE_MS = 10_000;

/**
 * Whether the state is in D1 for every isolate to read: `published` (or it already was),
 * `no_table` (migration 0006 not applied: isolates read this object instead, so it is in force
 * all the same), `failed` (saved here, not yet in force elsewhere).
 */
export type PublishOutcome = "published" | "no_table" | "failed";

export interface PublishResult extends ControlsState {
  publish: PublishOutcome;
}

export interface ControlsChange extends PublishResult {
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
    const state = this.stateValues();
    const users: Record<string, UserEntry> = {};
    // Ordered, so the same state always publishes the same text.
    for (const row of sql.exec<{ user: string; entry: string }>("SELECT user, entry FROM users ORDER BY user")) users[row.user] = JSON.parse(row.entry);
    return {
      controls: state.has("controls") ? JSON.parse(state.get("controls")!) : EMPTY_SNAPSHOT.controls,
      budgetSince: state.has("budget_since") ? Number(state.get("budget_since")) : null,
      users,
    };
  }

  /** The state with its version: what is published to D1. */
  current(): ControlsState {
    return { version: this.version("version"), snapshot: this.snapshot() };
  }

  /** Applies validated changes (a key set to its current value is not a change), then publishes. */
  change(changes: Partial<Omit<Controls, "updated_at">>): Promise<ControlsChange> {
    return this.ctx.blockConcurrencyWhile(async () => {
      const changed = this.commitChanges(changes);
      return { ...(await this.publishPending()), changed };
    });
  }

  /** Merges an admin change into one user's directory entry (an empty entry is removed), then publishes. */
  setUser(user: string, patch: { limit?: number | null; generation?: number; revoked?: boolean }): Promise<PublishResult> {
    return this.ctx.blockConcurrencyWhile(async () => {
      this.commitUser(user, patch);
      return this.publishPending();
    });
  }

  /**
   * The state, published first when D1's copy is missing or differs (a publish that failed
   * earlier, or a copy from before this object lost its storage). The admin API's reads call it.
   */
  ensurePublished(): Promise<PublishResult> {
    return this.ctx.blockConcurrencyWhile(async () => {
      const state = this.current();
      try {
        const row = await withDeadline(readPublished(this.env.DB));
        const upToDate = row ? row.version === state.version && row.text === snapshotText(state.snapshot) : state.version === 0;
        if (upToDate) {
          this.setVersion("published_version", state.version);
          return { ...state, publish: "published" };
        }
      } catch (error) {
        return { ...state, publish: this.failure(error) };
      }
      return this.publish();
    });
  }

  // --- changes (synchronous SQLite: each one is atomic) -----------------------------------------

  private commitChanges(changes: Partial<Omit<Controls, "updated_at">>): ControlKey[] {
    const now = Date.now();
    const next: Controls = { ...this.snapshot().controls };
    const changed: ControlKey[] = [];
    for (const key of CONTROL_KEYS) {
      if (!(key in changes)) continue;
      const value = changes[key];
      if (JSON.stringify(value) === JSON.stringify(next[key])) continue;
      (next as unknown as Record<string, unknown>)[key] = value;
      changed.push(key);
    }
    if (changed.length === 0) return changed;
    next.updated_at = sqlTimestamp(now);
    const sql = this.ctx.storage.sql;
    sql.exec("INSERT OR REPLACE INTO state (name, value) VALUES ('controls', ?)", JSON.stringify(next));
    // A new budget counts tokens from now on (earlier ones come from the access log).
    if (changed.includes("budget")) {
      if (next.budget) sql.exec("INSERT OR REPLACE INTO state (name, value) VALUES ('budget_since', ?)", String(now));
      else sql.exec("DELETE FROM state WHERE name = 'budget_since'");
    }
    this.setVersion("version", this.version("version") + 1);
    return changed;
  }

  private commitUser(user: string, patch: { limit?: number | null; generation?: number; revoked?: boolean }): void {
    const sql = this.ctx.storage.sql;
    const row = sql.exec<{ entry: string }>("SELECT entry FROM users WHERE user = ?", user).toArray()[0];
    const entry: UserEntry = row ? JSON.parse(row.entry) : {};
    if (patch.limit === null) delete entry.limit;
    else if (patch.limit !== undefined) entry.limit = patch.limit;
    if (patch.generation === 0) delete entry.generation;
    else if (patch.generation !== undefined) entry.generation = patch.generation;
    if (patch.revoked === false) delete entry.revoked;
    else if (patch.revoked) entry.revoked = true;
    const text = Object.keys(entry).length === 0 ? null : JSON.stringify(entry);
    if (text === (row?.entry ?? null)) return; // the same entry again is no change
    if (text === null) sql.exec("DELETE FROM users WHERE user = ?", user);
    else sql.exec("INSERT OR REPLACE INTO users (user, entry) VALUES (?, ?)", user, text);
    this.setVersion("version", this.version("version") + 1);
  }

  // --- publishing -------------------------------------------------------------------------------

  /** Publishes when this object has a version D1 has not confirmed yet. */
  private async publishPending(): Promise<PublishResult> {
    const state = this.current();
    if (state.version <= this.version("published_version")) return { ...state, publish: "published" };
    return this.publish();
  }

  /**
   * Writes the state to D1. When the copy there is newer or different at the same version, this
   * object lost its storage since (it is still the authority): it moves its version past the
   * copy's and writes again.
   */
  private async publish(): Promise<PublishResult> {
    let state = this.current();
    try {
      if (!(await withDeadline(writePublished(this.env.DB, state)))) {
        const row = await withDeadline(readPublished(this.env.DB));
        if (row && (row.version !== state.version || row.text !== snapshotText(state.snapshot))) {
          this.setVersion("version", Math.max(row.version, state.version) + 1);
          state = this.current();
          if (!(await withDeadline(writePublished(this.env.DB, state)))) throw new Error("control_state moved on during the publish");
        }
      }
      this.setVersion("published_version", state.version);
      return { ...state, publish: "published" };
    } catch (error) {
      return { ...state, publish: this.failure(error) };
    }
  }

  private failure(error: unknown): PublishOutcome {
    if (isMissingTable(error)) return "no_table";
    console.error("event controls: publishing to D1 failed", String(error));
    return "failed";
  }

  // --- small storage helpers --------------------------------------------------------------------

  private stateValues(): Map<string, string> {
    const rows = this.ctx.storage.sql.exec<{ name: string; value: string }>("SELECT name, value FROM state").toArray();
    return new Map(rows.map((r) => [r.name, r.value]));
  }

  private version(name: "version" | "published_version"): number {
    const row = this.ctx.storage.sql.exec<{ value: string }>("SELECT value FROM state WHERE name = ?", name).toArray()[0];
    return row ? Number(row.value) : 0;
  }

  private setVersion(name: "version" | "published_version", value: number): void {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO state (name, value) VALUES (?, ?)", name, String(value));
  }
}

/** Rejects when `promise` takes longer than {@link PUBLISH_DEADLINE_MS}. */
function withDeadline<T>(promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`D1 did not answer within ${PUBLISH_DEADLINE_MS} ms`)), PUBLISH_DEADLINE_MS);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
